//! SMART scope syntax and coverage.

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

/// Scopes the sandbox accepts but never grants (no id_token support).
pub(crate) const UNGRANTED_SCOPES: [&str; 3] = ["openid", "fhirUser", "profile"];
