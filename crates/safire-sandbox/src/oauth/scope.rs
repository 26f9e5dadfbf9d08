//! SMART scope syntax and coverage.

use super::split_scope;

/// A parsed SMART resource scope `ctx/Resource.perm[?query]`.
pub(crate) struct ResourceScope<'a> {
    pub(crate) ctx: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) perm: &'a str,
    pub(crate) query: Option<&'a str>,
}

pub(crate) fn parse_resource_scope(s: &str) -> Option<ResourceScope<'_>> {
    let (ctx, rest) = s.split_once('/')?;
    if !matches!(ctx, "patient" | "user" | "system") {
        return None;
    }
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) if !q.is_empty() => (r, Some(q)),
        Some(_) => return None,
        None => (rest, None),
    };
    let (resource, perm) = rest.split_once('.')?;
    let resource_ok = resource == "*"
        || (resource
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
            && resource.chars().all(|c| c.is_ascii_alphanumeric()));
    if !resource_ok {
        return None;
    }
    let v1 = matches!(perm, "read" | "write" | "*");
    if !v1 && !is_v2_perm(perm) {
        return None;
    }
    if v1 && query.is_some() {
        return None;
    }
    Some(ResourceScope {
        ctx,
        resource,
        perm,
        query,
    })
}

/// SMART v2 permissions: non-empty subsequence of `cruds`, in order.
pub(crate) fn is_v2_perm(p: &str) -> bool {
    let order = "cruds";
    let mut last = None;
    for c in p.chars() {
        let Some(idx) = order.find(c) else {
            return false;
        };
        if last.is_some_and(|l| idx <= l) {
            return false;
        }
        last = Some(idx);
    }
    last.is_some()
}

pub(crate) fn v1_to_v2(p: &str) -> &str {
    match p {
        "read" => "rs",
        "write" => "cud",
        "*" => "cruds",
        other => other,
    }
}

/// Does the granted/registered scope `held` cover the requested scope `want`?
pub(crate) fn scope_covers(held: &str, want: &str) -> bool {
    if held == want {
        return true;
    }
    let (Some(h), Some(w)) = (parse_resource_scope(held), parse_resource_scope(want)) else {
        return false;
    };
    if h.ctx != w.ctx || !(h.resource == "*" || h.resource == w.resource) {
        return false;
    }
    if h.query.is_some() && h.query != w.query {
        return false;
    }
    let hp = v1_to_v2(h.perm);
    v1_to_v2(w.perm).chars().all(|c| hp.contains(c))
}

pub(crate) const NON_RESOURCE_SCOPES: [&str; 8] = [
    "launch",
    "launch/patient",
    "launch/encounter",
    "openid",
    "fhirUser",
    "profile",
    "offline_access",
    "online_access",
];

/// What an app client registered without a `scope` may obtain.
pub(crate) const DEFAULT_APP_SCOPE: &str = "launch launch/patient launch/encounter openid fhirUser \
profile offline_access online_access patient/*.cruds user/*.cruds";

/// Validate a client's registered scope against its grant types: every
/// value is a known SMART scope; `system/` only for `client_credentials`,
/// everything else only for `authorization_code`.
pub(crate) fn validate_registered_scope(
    scope: &[String],
    grant_types: &[String],
) -> Result<(), String> {
    let has = |g: &str| grant_types.iter().any(|x| x == g);
    for s in scope {
        let system = match parse_resource_scope(s) {
            Some(r) => r.ctx == "system",
            None if NON_RESOURCE_SCOPES.contains(&s.as_str()) => false,
            None => return Err(format!("`{s}` is not a SMART scope")),
        };
        if system && !has("client_credentials") {
            return Err(format!(
                "`{s}`: system/ scopes need the client_credentials grant"
            ));
        }
        if !system && !has("authorization_code") {
            return Err(format!("`{s}` needs the authorization_code grant"));
        }
    }
    Ok(())
}

/// The scope a client is registered for: the given one, or for app clients
/// registered without one, [`DEFAULT_APP_SCOPE`].
pub(crate) fn registered_scope(scope: &str, grant_types: &[String]) -> Vec<String> {
    let v = split_scope(scope);
    if v.is_empty() && grant_types.iter().any(|g| g == "authorization_code") {
        split_scope(DEFAULT_APP_SCOPE)
    } else {
        v
    }
}
