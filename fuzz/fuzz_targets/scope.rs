//! `Scopes::parse(text)` and what is built on it: `Scope::parse`, `findings`, `allows`,
//! `access`, `difference`, `with_query`, serde.
//!
//! Input: the scope string (UTF-8, invalid sequences replaced).
//! Invariants:
//! - `Display` is the input's ASCII-whitespace-separated tokens joined by one space; each
//!   scope prints its token and `Scope::parse(token)` gives the same scope; parsing the printed
//!   list gives the same list; the serde string round trip is the identity;
//! - a token is a `Scope::Resource` exactly when an independent model of the SMART 2.2 grammar
//!   accepts it (`<patient|user|system>/<Type|*>.<in-order cruds | read | write | *>` plus a
//!   v2-only `?param=value&…`), and then its context, type, permissions and query are the
//!   model's;
//! - every `Scope::Other` has a finding; findings number at most 65, have no control characters
//!   and are bounded in length;
//! - `allows` equals the model's union of unrestricted grants, `access` the model's
//!   Full/Restricted/Denied, for every context × permission × type probe from the input;
//! - `difference(s, s)` is empty; `difference` against a fixed request runs and is bounded;
//! - `with_query` on every scope prints `<text before ?>?<query>`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use safire_core::scope::{Access, Context, Permission, Permissions, ResourceType, Scope, Scopes};

const REQUEST: &str = "launch/patient openid fhirUser offline_access patient/*.rs \
                       patient/Observation.cruds user/Practitioner.r system/*.read";

/// The model's reading of a resource scope.
struct Model<'a> {
    context: Context,
    resource: &'a str,
    bits: u8,
    query: Option<&'a str>,
}

fn model(token: &str) -> Option<Model<'_>> {
    // RFC 6749 scope-token characters only.
    if token.is_empty()
        || !token
            .chars()
            .all(|c| c == '!' || ('#'..='[').contains(&c) || (']'..='~').contains(&c))
    {
        return None;
    }
    let slash = token.find('/')?;
    let context = match &token[..slash] {
        "patient" => Context::Patient,
        "user" => Context::User,
        "system" => Context::System,
        _ => return None,
    };
    let rest = &token[slash + 1..];
    let (body, query) = match rest.find('?') {
        Some(q) => (&rest[..q], Some(&rest[q + 1..])),
        None => (rest, None),
    };
    let dot = body.find('.')?;
    let (resource, perms) = (&body[..dot], &body[dot + 1..]);
    let type_ok = resource == "*"
        || (resource
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
            && resource.chars().all(|c| c.is_ascii_alphanumeric()));
    if !type_ok {
        return None;
    }
    let (bits, v1) = match perms {
        "read" => (0b10010, true),
        "write" => (0b01101, true),
        "*" => (0b11111, true),
        _ => {
            let mut bits = 0u8;
            let mut last: Option<usize> = None;
            for c in perms.chars() {
                let i = "cruds".find(c)?;
                if last.is_some_and(|l| i <= l) {
                    return None;
                }
                last = Some(i);
                bits |= 1 << i;
            }
            if bits == 0 {
                return None;
            }
            (bits, false)
        }
    };
    if let Some(q) = query {
        if v1 || q.is_empty() {
            return None;
        }
        for item in q.split('&') {
            let eq = item.find('=')?;
            if eq == 0 {
                return None;
            }
        }
    }
    Some(Model {
        context,
        resource,
        bits,
        query,
    })
}

fn bit(p: Permission) -> u8 {
    match p {
        Permission::Create => 1,
        Permission::Read => 2,
        Permission::Update => 4,
        Permission::Delete => 8,
        Permission::Search => 16,
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let scopes = Scopes::parse(&text);
    let tokens: Vec<&str> = text.split_ascii_whitespace().collect();

    // Printing and re-parsing.
    assert_eq!(scopes.to_string(), tokens.join(" "));
    assert_eq!(scopes.len(), tokens.len());
    assert_eq!(Scopes::parse(&scopes.to_string()), scopes);
    let json = serde_json::to_string(&scopes).unwrap();
    let back: Scopes = serde_json::from_str(&json).unwrap();
    assert_eq!(back, scopes);

    // Token by token, against the model.
    let mut models = Vec::new();
    for (scope, token) in scopes.iter().zip(&tokens) {
        assert_eq!(scope.as_str(), *token);
        assert_eq!(&Scope::parse(token), scope);
        let expected = model(token);
        match (scope, &expected) {
            (Scope::Resource(r), Some(m)) => {
                assert_eq!(r.context(), m.context, "{token:?}");
                let resource = match r.resource() {
                    ResourceType::Any => "*",
                    ResourceType::Named(name) => name,
                };
                assert_eq!(resource, m.resource, "{token:?}");
                for p in Permission::ALL {
                    assert_eq!(
                        r.permissions().contains(p),
                        m.bits & bit(p) != 0,
                        "{token:?}"
                    );
                }
                assert_eq!(r.query(), m.query, "{token:?}");
                assert!(scope.finding().is_none(), "{token:?}");
            }
            (Scope::Resource(_), None) => panic!("{token:?} is no resource scope, parsed as one"),
            (other, Some(_)) => panic!("{token:?} is a resource scope, parsed as {other:?}"),
            (Scope::Other(_), None) => assert!(scope.finding().is_some(), "{token:?}"),
            (_, None) => {}
        }
        if let Some(m) = expected {
            models.push(m);
        }

        let rebuilt = scope.clone().with_query("a=b");
        let base = token.split('?').next().unwrap_or_default();
        assert_eq!(rebuilt.to_string(), format!("{base}?a=b"));
    }

    // Findings.
    let findings = scopes.findings();
    assert!(findings.len() <= 65);
    for f in &findings {
        assert!(!f.message.chars().any(char::is_control), "{:?}", f.message);
        assert!(
            f.message.chars().count() < 600,
            "{} chars",
            f.message.chars().count()
        );
    }

    // allows / access against the model, on every type the input names plus `*` and a fresh one.
    let mut types: Vec<&str> = models.iter().map(|m| m.resource).take(16).collect();
    types.extend(["*", "Fresh"]);
    for context in [Context::Patient, Context::User, Context::System] {
        for &resource_type in &types {
            let grants = |m: &Model, p: Permission| {
                m.context == context
                    && (m.resource == "*" || m.resource == resource_type)
                    && m.bits & bit(p) != 0
            };
            let mut all = true;
            for p in Permission::ALL {
                let full = models.iter().any(|m| m.query.is_none() && grants(m, p));
                all &= full;
                assert_eq!(scopes.allows(context, resource_type, p), full);
                let restricted: Vec<&str> = models
                    .iter()
                    .filter(|m| grants(m, p))
                    .filter_map(|m| m.query)
                    .collect();
                let expected = if full {
                    Access::Full
                } else if restricted.is_empty() {
                    Access::Denied
                } else {
                    Access::Restricted(restricted)
                };
                assert_eq!(scopes.access(context, resource_type, p), expected);
            }
            assert_eq!(
                scopes.allows(context, resource_type, Permissions::CRUDS),
                all
            );
        }
    }

    // difference.
    assert!(Scopes::difference(&scopes, &scopes).is_empty());
    let request = Scopes::parse(REQUEST);
    assert!(Scopes::difference(&request, &scopes).len() <= 65);
    assert!(Scopes::difference(&scopes, &request).len() <= 65);
});
