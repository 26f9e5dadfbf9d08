//! The scope grammar: RFC 6749 `scope-token`, the SMART resource scope syntax (v1 and v2),
//! launch and extension scopes; [`classify`] turns a token into a [`Scope`] and [`diagnose`]
//! explains one that is [`Scope::Other`].

use super::{Context, FIELD, Permissions, ResourceScope, Scope, ScopeVersion};
use crate::finding::Finding;

/// Longest part of a scope quoted in a finding message (characters).
pub(super) const QUOTE_MAX: usize = 100;

/// Why a `patient/`, `user/` or `system/` token is not a resource scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Malformed {
    /// No `patient/`, `user/` or `system/` prefix.
    NotResource,
    /// No `.` before the permissions.
    NoDot,
    /// The resource type is neither `*` nor a FHIR resource type name.
    ResourceType,
    /// Nothing after the `.`.
    NoPermissions,
    /// A letter other than `c r u d s`.
    UnknownLetter,
    /// `cruds` letters out of order or repeated.
    Order,
    /// A v1 scope (`read`, `write`, `*`) with a `?` query.
    V1Query,
    /// The query is empty or not `param=value` items joined by `&`.
    Query,
}

/// A resource scope's parts, as offsets into its text.
struct Parsed {
    context: Context,
    permissions: Permissions,
    version: ScopeVersion,
    dot: usize,
    query_at: Option<usize>,
}

/// RFC 6749 section 3.3 `scope-token`: `%x21 / %x23-5B / %x5D-7E`, at least one.
pub(super) fn is_scope_token(text: &str) -> bool {
    // A fold without early exit, so the compiler can vectorize it: scope strings are valid.
    !text.is_empty()
        && text.bytes().fold(true, |ok, b| {
            ok & matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
        })
}

/// `[A-Z][A-Za-z0-9]*`: the shape of every FHIR resource type name.
fn is_resource_type_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_uppercase()) && bytes.all(|b| b.is_ascii_alphanumeric())
}

/// Non-empty `param=value` items joined by `&`, each with a non-empty `param`.
fn is_valid_query(query: &str) -> bool {
    !query.is_empty()
        && query.split('&').all(|item| {
            item.split_once('=')
                .is_some_and(|(name, _)| !name.is_empty())
        })
}

/// In-order, non-repeated subset of `cruds`, non-empty.
pub(super) fn parse_cruds(letters: &str) -> Result<Permissions, Malformed> {
    if letters.is_empty() {
        return Err(Malformed::NoPermissions);
    }
    let mut permissions = Permissions::NONE;
    let mut last = 0u8;
    for b in letters.bytes() {
        let bit = match b {
            b'c' => 1,
            b'r' => 2,
            b'u' => 4,
            b'd' => 8,
            b's' => 16,
            _ => return Err(Malformed::UnknownLetter),
        };
        if bit <= last {
            return Err(Malformed::Order);
        }
        last = bit;
        permissions.0 |= bit;
    }
    Ok(permissions)
}

/// Parses a FHIR resource scope (assumed to be a valid scope token).
fn parse_resource(text: &str) -> Result<Parsed, Malformed> {
    let (context, rest) = if let Some(rest) = text.strip_prefix("patient/") {
        (Context::Patient, rest)
    } else if let Some(rest) = text.strip_prefix("user/") {
        (Context::User, rest)
    } else if let Some(rest) = text.strip_prefix("system/") {
        (Context::System, rest)
    } else {
        return Err(Malformed::NotResource);
    };
    let prefix = text.len() - rest.len();
    let (body, query) = match rest.split_once('?') {
        Some((body, query)) => (body, Some(query)),
        None => (rest, None),
    };
    let (resource, letters) = body.split_once('.').ok_or(Malformed::NoDot)?;
    if resource != "*" && !is_resource_type_name(resource) {
        return Err(Malformed::ResourceType);
    }
    let (permissions, version) = match letters {
        "read" => (Permissions::RS, ScopeVersion::V1),
        "write" => (Permissions::CUD, ScopeVersion::V1),
        "*" => (Permissions::CRUDS, ScopeVersion::V1),
        letters => (parse_cruds(letters)?, ScopeVersion::V2),
    };
    if let Some(query) = query {
        if version == ScopeVersion::V1 {
            return Err(Malformed::V1Query);
        }
        if !is_valid_query(query) {
            return Err(Malformed::Query);
        }
    }
    let dot = prefix + resource.len();
    Ok(Parsed {
        context,
        permissions,
        version,
        dot,
        query_at: query.map(|_| dot + 1 + letters.len()),
    })
}

/// `launch/<name>[?query]` with a non-empty alphanumeric name and a valid query.
fn is_launch_context(rest: &str) -> bool {
    let (name, query) = match rest.split_once('?') {
        Some((name, query)) => (name, Some(query)),
        None => (rest, None),
    };
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric())
        && query.is_none_or(is_valid_query)
}

/// A name starting with `__`, or an absolute URI (`scheme:` then something).
fn is_extension(text: &str) -> bool {
    if text.starts_with("__") {
        return true;
    }
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut bytes = scheme.bytes();
    !rest.is_empty()
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// Classifies one token, allocating only for the kinds that keep text.
pub(super) fn classify<T: AsRef<str> + Into<String>>(token: T) -> Scope {
    if is_scope_token(token.as_ref()) {
        classify_valid(token)
    } else {
        Scope::Other(token.into())
    }
}

/// [`classify`] for a token known to be a valid RFC 6749 scope token.
pub(super) fn classify_valid<T: AsRef<str> + Into<String>>(token: T) -> Scope {
    let text = token.as_ref();
    match text {
        "openid" => return Scope::OpenId,
        "fhirUser" => return Scope::FhirUser,
        "launch" => return Scope::Launch,
        "launch/patient" => return Scope::LaunchPatient,
        "launch/encounter" => return Scope::LaunchEncounter,
        "offline_access" => return Scope::OfflineAccess,
        "online_access" => return Scope::OnlineAccess,
        "profile" => return Scope::Profile,
        _ => {}
    }
    match parse_resource(text) {
        Ok(parsed) => Scope::Resource(ResourceScope {
            text: token.into(),
            context: parsed.context,
            permissions: parsed.permissions,
            version: parsed.version,
            dot: parsed.dot,
            query_at: parsed.query_at,
        }),
        Err(Malformed::NotResource) => {
            if text.strip_prefix("launch/").is_some_and(is_launch_context) {
                Scope::LaunchContext(token.into())
            } else if is_extension(text) {
                Scope::Extension(token.into())
            } else {
                Scope::Other(token.into())
            }
        }
        Err(_) => Scope::Other(token.into()),
    }
}

/// The finding for a token classified as [`Scope::Other`].
pub(super) fn diagnose(text: &str) -> Finding {
    let quoted = quote(text);
    if !is_scope_token(text) {
        return Finding::error(
            Some(FIELD),
            format!(
                "'{quoted}' is not a valid OAuth scope (RFC 6749 section 3.3 allows printable \
                 ASCII except space, '\"' and '\\')"
            ),
        );
    }
    let reason = match parse_resource(text) {
        Err(Malformed::NotResource) => None,
        Err(Malformed::NoDot) => Some("no '.' before the permissions"),
        Err(Malformed::ResourceType) => {
            Some("the resource type is neither '*' nor a FHIR resource type name")
        }
        Err(Malformed::NoPermissions) => Some("no permissions after the '.'"),
        Err(Malformed::UnknownLetter) => {
            Some("permissions are 'read', 'write', '*' (v1) or letters of 'cruds' (v2)")
        }
        Err(Malformed::Order) => Some(
            "v2 permissions are letters of 'cruds' in the order c, r, u, d, s, each at most once",
        ),
        Err(Malformed::V1Query) => {
            Some("v1 scopes ('read', 'write', '*') take no '?' search-parameter restriction")
        }
        Err(Malformed::Query) => {
            Some("the restriction after '?' must be 'param=value' items joined by '&'")
        }
        // Not reached for a token classified as Other; say something true anyway.
        Ok(_) => Some("it was not recognized"),
    };
    if let Some(reason) = reason {
        return Finding::error(
            Some(FIELD),
            format!("malformed SMART resource scope '{quoted}': {reason}"),
        );
    }
    if text.starts_with("launch/") {
        return Finding::error(
            Some(FIELD),
            format!(
                "malformed SMART launch context scope '{quoted}': expected 'launch/<type>' with \
                 a lower-case type, optionally '?role=<uri>'"
            ),
        );
    }
    if let Some((prefix, _)) = text.split_once('/')
        && prefix.parse::<Context>().is_err()
        && prefix.to_ascii_lowercase().parse::<Context>().is_ok()
    {
        return Finding::error(
            Some(FIELD),
            format!(
                "malformed SMART resource scope '{quoted}': the context is lower case \
                 ('patient', 'user' or 'system')"
            ),
        );
    }
    Finding::warning(
        Some(FIELD),
        format!("'{quoted}' is not a scope SMART App Launch defines; kept as is"),
    )
}

/// `text` for a message: control characters escaped, at most [`QUOTE_MAX`] characters of
/// output before a closing `…`.
pub(super) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(QUOTE_MAX + 8));
    let mut written = 0;
    for c in text.chars() {
        let escaped = c.is_control().then(|| c.escape_default());
        let width = escaped.as_ref().map_or(1, |e| e.len());
        if written + width > QUOTE_MAX {
            out.push('…');
            break;
        }
        written += width;
        match escaped {
            Some(e) => out.extend(e),
            None => out.push(c),
        }
    }
    out
}
