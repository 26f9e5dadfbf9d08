//! [`Permission`] and the [`Permissions`] set: the `cruds` letters of a resource scope, with
//! the bit arithmetic that `allows` and `difference` need.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use super::parse::parse_cruds;

/// One FHIR interaction class of SMART v2: **c**reate, **r**ead, **u**pdate, **d**elete,
/// **s**earch.
///
/// ```
/// use safire_core::scope::{Permission, Permissions};
/// assert_eq!(Permission::Search.letter(), 's');
/// assert_eq!(Permissions::from(Permission::Read), Permissions::R);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// `c`: type-level create.
    Create,
    /// `r`: instance read, vread and history.
    Read,
    /// `u`: instance update and patch.
    Update,
    /// `d`: instance delete.
    Delete,
    /// `s`: type- and system-level search and history.
    Search,
}

impl Permission {
    /// All five, in the specification's order (`c`, `r`, `u`, `d`, `s`).
    pub const ALL: [Permission; 5] = [
        Permission::Create,
        Permission::Read,
        Permission::Update,
        Permission::Delete,
        Permission::Search,
    ];

    /// The scope letter: `c`, `r`, `u`, `d` or `s`.
    pub fn letter(self) -> char {
        match self {
            Permission::Create => 'c',
            Permission::Read => 'r',
            Permission::Update => 'u',
            Permission::Delete => 'd',
            Permission::Search => 's',
        }
    }

    fn bit(self) -> u8 {
        match self {
            Permission::Create => 1,
            Permission::Read => 2,
            Permission::Update => 4,
            Permission::Delete => 8,
            Permission::Search => 16,
        }
    }
}

/// A set of [`Permission`]s; prints as the in-order letters (`cruds`, `rs`, …).
///
/// ```
/// use safire_core::scope::{Permission, Permissions};
/// let p = Permissions::R | Permissions::S;
/// assert_eq!(p, Permissions::RS);
/// assert!(p.contains(Permission::Search));
/// assert!(Permissions::CRUDS.contains(Permissions::CUD));
/// assert_eq!(Permissions::CUD.to_string(), "cud");
/// assert_eq!(Permissions::from_letters("rs"), Some(Permissions::RS));
/// assert_eq!(Permissions::from_letters("sr"), None); // out of order
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Permissions(pub(super) u8);

impl Permissions {
    /// No permission at all.
    pub const NONE: Permissions = Permissions(0);
    /// `c`.
    pub const C: Permissions = Permissions(1);
    /// `r`.
    pub const R: Permissions = Permissions(2);
    /// `u`.
    pub const U: Permissions = Permissions(4);
    /// `d`.
    pub const D: Permissions = Permissions(8);
    /// `s`.
    pub const S: Permissions = Permissions(16);
    /// `rs`: read and search (v1 `read`).
    pub const RS: Permissions = Permissions(2 | 16);
    /// `cud`: create, update, delete (v1 `write`).
    pub const CUD: Permissions = Permissions(1 | 4 | 8);
    /// `cruds`: everything (v1 `*`).
    pub const CRUDS: Permissions = Permissions(31);

    /// True when every permission of `other` is in `self` (always true for an empty `other`).
    pub fn contains(self, other: impl Into<Permissions>) -> bool {
        let other = other.into();
        self.0 & other.0 == other.0
    }

    /// True for [`Permissions::NONE`].
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The permissions of `self` that are not in `other`.
    pub fn without(self, other: Permissions) -> Permissions {
        Permissions(self.0 & !other.0)
    }

    /// The permissions in both.
    pub fn intersection(self, other: Permissions) -> Permissions {
        Permissions(self.0 & other.0)
    }

    /// The individual permissions, in order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.0 & p.bit() != 0)
    }

    /// Parses SMART v2 letters: a non-empty subset of `cruds`, in that order, no repeats.
    pub fn from_letters(letters: &str) -> Option<Permissions> {
        parse_cruds(letters).ok()
    }
}

impl From<Permission> for Permissions {
    fn from(p: Permission) -> Self {
        Permissions(p.bit())
    }
}

impl BitOr for Permissions {
    type Output = Permissions;
    fn bitor(self, rhs: Permissions) -> Permissions {
        Permissions(self.0 | rhs.0)
    }
}

impl BitOr<Permission> for Permissions {
    type Output = Permissions;
    fn bitor(self, rhs: Permission) -> Permissions {
        Permissions(self.0 | rhs.bit())
    }
}

impl BitOr for Permission {
    type Output = Permissions;
    fn bitor(self, rhs: Permission) -> Permissions {
        Permissions(self.bit() | rhs.bit())
    }
}

impl BitOrAssign for Permissions {
    fn bitor_assign(&mut self, rhs: Permissions) {
        self.0 |= rhs.0;
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.iter() {
            fmt::Write::write_char(f, p.letter())?;
        }
        Ok(())
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Permissions({self})")
    }
}
