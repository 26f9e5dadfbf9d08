//! [`Scopes`]: a space-separated scope list, how it is split, printed, serialized, and what
//! is wrong with it ([`Scopes::findings`]).

use std::collections::HashSet;
use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::parse::{classify, classify_valid, is_scope_token, quote};
use super::{FIELD, ResourceScope, Scope, ScopesBuilder};
use crate::finding::{Finding, Findings, MAX_FINDINGS};

/// A parsed space-separated scope list (a `scope` request parameter or token response field).
///
/// [`Scopes::parse`] never fails: every whitespace-separated token is kept, in order, as a
/// [`Scope`]. `Display` prints the tokens joined by one space, so printing what was parsed
/// gives the input back exactly when the input is normalized (single spaces, nothing at either
/// end); other separators are reported by [`Scopes::findings`]. Equality compares the scopes
/// only. Serde reads and writes the list as one string.
///
/// ```
/// use safire_core::scope::{Scope, Scopes};
/// let scopes: Scopes = "openid  fhirUser launch".parse().unwrap();
/// assert_eq!(scopes.len(), 3);
/// assert_eq!(scopes.to_string(), "openid fhirUser launch");
/// assert_eq!(scopes.findings().len(), 1); // the double space
/// assert!(scopes.contains(&Scope::FhirUser));
/// assert_eq!(serde_json::to_string(&scopes).unwrap(), r#""openid fhirUser launch""#);
/// ```
#[derive(Clone, Default)]
pub struct Scopes {
    pub(super) list: Vec<Scope>,
    /// The parsed text had leading, trailing, repeated or non-space separators.
    pub(super) irregular_spacing: bool,
}

impl Scopes {
    /// An empty list.
    ///
    /// ```
    /// use safire_core::scope::Scopes;
    /// assert!(Scopes::new().is_empty());
    /// ```
    pub fn new() -> Scopes {
        Scopes::default()
    }

    /// A builder for a scope request.
    ///
    /// ```
    /// use safire_core::scope::{Permissions, Scopes};
    /// let scopes = Scopes::builder().openid().fhir_user().patient("*", Permissions::RS).build();
    /// assert_eq!(scopes.to_string(), "openid fhirUser patient/*.rs");
    /// ```
    pub fn builder() -> ScopesBuilder {
        ScopesBuilder::default()
    }

    /// Splits `text` on ASCII whitespace and classifies each scope. Never fails, never panics;
    /// the empty string (no scope granted) gives an empty list.
    ///
    /// ```
    /// use safire_core::scope::{Scope, Scopes};
    /// let scopes = Scopes::parse("launch/patient patient/Observation.xyz");
    /// assert_eq!(scopes.iter().next(), Some(&Scope::LaunchPatient));
    /// assert_eq!(scopes.findings().len(), 1);
    /// assert!(Scopes::parse("").is_empty());
    /// ```
    pub fn parse(text: &str) -> Scopes {
        let spaces: usize = text.bytes().map(|b| usize::from(b == b' ')).sum();
        let mut list = Vec::with_capacity(spaces + 1);
        let mut irregular_spacing = false;
        // Split on spaces (memchr-fast); a piece that is not a valid scope token may hold other
        // ASCII whitespace, and is split again: the tokens are those of
        // `split_ascii_whitespace`, with one validity scan per token.
        for piece in text.split(' ') {
            if piece.is_empty() {
                irregular_spacing = true;
            } else if is_scope_token(piece) {
                list.push(classify_valid(piece));
            } else if piece.bytes().any(|b| b.is_ascii_whitespace()) {
                irregular_spacing = true;
                list.extend(piece.split_ascii_whitespace().map(classify));
            } else {
                list.push(Scope::Other(piece.to_owned()));
            }
        }
        // "" splits into one empty piece: no scope, nothing irregular.
        if text.is_empty() {
            irregular_spacing = false;
        }
        Scopes {
            list,
            irregular_spacing,
        }
    }

    /// The scopes, in order.
    ///
    /// ```
    /// use safire_core::scope::{Scope, Scopes};
    /// let scopes = Scopes::parse("openid launch");
    /// assert_eq!(scopes.iter().collect::<Vec<_>>(), [&Scope::OpenId, &Scope::Launch]);
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, Scope> {
        self.list.iter()
    }

    /// The resource scopes, in order.
    ///
    /// ```
    /// use safire_core::scope::Scopes;
    /// let scopes = Scopes::parse("openid patient/*.rs launch");
    /// assert_eq!(scopes.resources().count(), 1);
    /// ```
    pub fn resources(&self) -> impl Iterator<Item = &ResourceScope> {
        self.list.iter().filter_map(Scope::as_resource)
    }

    /// How many scopes.
    ///
    /// ```
    /// use safire_core::scope::Scopes;
    /// assert_eq!(Scopes::parse("a b c").len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when there is no scope.
    ///
    /// ```
    /// use safire_core::scope::Scopes;
    /// assert!(Scopes::parse("   ").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// True when `scope` is in the list, as written (no wildcard reasoning; see
    /// [`Scopes::allows`] for that).
    ///
    /// ```
    /// use safire_core::scope::{Scope, Scopes};
    /// assert!(Scopes::parse("openid offline_access").contains(&Scope::OfflineAccess));
    /// ```
    pub fn contains(&self, scope: &Scope) -> bool {
        self.list.contains(scope)
    }

    /// Appends a scope.
    ///
    /// ```
    /// use safire_core::scope::{Scope, Scopes};
    /// let mut scopes = Scopes::new();
    /// scopes.push(Scope::OpenId);
    /// assert_eq!(scopes.to_string(), "openid");
    /// ```
    pub fn push(&mut self, scope: Scope) {
        self.list.push(scope);
    }

    /// What is wrong with the list: separators other than single spaces (a warning), each
    /// scope's own [`finding`](Scope::finding), and repeated scopes (a warning). At most
    /// 64 findings, then one saying more were left out.
    ///
    /// ```
    /// use safire_core::scope::Scopes;
    /// let findings = Scopes::parse(" patient/.rs openid openid").findings();
    /// assert_eq!(findings.len(), 3);
    /// assert!(findings[1].is_error());
    /// assert!(findings[2].message.contains("more than once"));
    /// ```
    pub fn findings(&self) -> Vec<Finding> {
        let mut findings = Findings::default();
        let mut count = 0;
        let mut push = |findings: &mut Findings, finding: Finding| {
            count += 1;
            findings.push(finding);
            count <= MAX_FINDINGS
        };
        if self.irregular_spacing {
            push(
                &mut findings,
                Finding::warning(
                    Some(FIELD),
                    "scopes are not separated by single spaces (RFC 6749 section 3.3: one space \
                     between scopes, none at either end)",
                ),
            );
        }
        let mut seen = HashSet::with_capacity(self.list.len());
        for scope in &self.list {
            if let Some(finding) = scope.finding()
                && !push(&mut findings, finding)
            {
                break;
            }
            if !seen.insert(scope.as_str()) {
                let finding = Finding::warning(
                    Some(FIELD),
                    format!("scope '{}' appears more than once", quote(scope.as_str())),
                );
                if !push(&mut findings, finding) {
                    break;
                }
            }
        }
        findings.into_vec()
    }
}

impl PartialEq for Scopes {
    fn eq(&self, other: &Scopes) -> bool {
        self.list == other.list
    }
}

impl Eq for Scopes {}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.list.iter().map(Scope::as_str))
            .finish()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.list {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl FromStr for Scopes {
    type Err = Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Scopes::parse(s))
    }
}

impl From<&str> for Scopes {
    fn from(s: &str) -> Self {
        Scopes::parse(s)
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes {
            list: iter.into_iter().collect(),
            irregular_spacing: false,
        }
    }
}

impl Extend<Scope> for Scopes {
    fn extend<I: IntoIterator<Item = Scope>>(&mut self, iter: I) {
        self.list.extend(iter);
    }
}

impl<'a> IntoIterator for &'a Scopes {
    type Item = &'a Scope;
    type IntoIter = std::slice::Iter<'a, Scope>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

impl IntoIterator for Scopes {
    type Item = Scope;
    type IntoIter = std::vec::IntoIter<Scope>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.into_iter()
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Scopes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a space-separated scope string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scopes, E> {
                Ok(Scopes::parse(v))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}
