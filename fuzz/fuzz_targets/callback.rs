//! `PendingAuthorization::complete(callback)`.
//!
//! Two pending authorizations are built once with `SeededRandom`: one with a configured
//! authorization endpoint (no `iss` required), one after discovery of a server that advertises
//! `authorization_response_iss_parameter_supported` (so `iss` is required). The first input byte
//! picks one; the rest is the callback, in which every `{STATE}` is replaced by the real state
//! so that the fuzzer can reach the checks after the state comparison.
//! Invariants:
//! - Ok ⇒ the callback's query (as `complete` finds it) has a `state` parameter equal to the
//!   pending state, a non-empty `code`, and, when required, exactly the discovered issuer as
//!   `iss`; with no issuer known, an `iss` is accepted with a finding (RFC 9207 as Safire
//!   reads it: nothing to compare with);
//!   the returned verifier and redirect URI are the pending ones;
//! - no output (error Display/Debug, code Debug) ever contains the PKCE verifier, nor the
//!   state unless the callback itself carries it in a parameter the error may echo.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use safire_core::{
    AuthorizeFlow, AuthorizeParams, ClientConfig, Limits, PendingAuthorization, SeededRandom,
    run_blocking,
};

const DISCOVERY: &[u8] = br#"{
  "issuer": "https://ehr.example/fhir",
  "authorization_endpoint": "https://ehr.example/authorize",
  "token_endpoint": "https://ehr.example/token",
  "capabilities": ["launch-standalone", "client-public"],
  "code_challenge_methods_supported": ["S256"],
  "grant_types_supported": ["authorization_code"],
  "authorization_response_iss_parameter_supported": true
}"#;

fn pending(discover: bool) -> PendingAuthorization {
    let mut builder = ClientConfig::builder("https://ehr.example/fhir")
        .client_id("fuzz-app")
        .redirect_uri("https://app.example/callback")
        .scopes(["launch/patient", "openid", "fhirUser", "patient/*.rs"]);
    if !discover {
        builder = builder.authorization_endpoint("https://ehr.example/authorize");
    }
    let config = std::sync::Arc::new(builder.build().unwrap());
    let mut random = SeededRandom::new(if discover { 2 } else { 1 });
    let now = || UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let send = |_req: safire_core::HttpRequest| {
        assert!(discover, "no request expected with a configured endpoint");
        Ok::<_, safire_core::Error>(safire_core::http::Response::builder()
            .status(200)
            .body(DISCOVERY.to_vec())
            .unwrap())
    };
    let request = run_blocking(
        AuthorizeFlow::new(config, AuthorizeParams::default()),
        &Limits::default(),
        &mut random,
        now,
        send,
    )
    .unwrap();
    request.pending
}

fn pendings() -> &'static [PendingAuthorization; 2] {
    static P: OnceLock<[PendingAuthorization; 2]> = OnceLock::new();
    P.get_or_init(|| [pending(false), pending(true)])
}

/// Every plausible reading of the callback's query: the query of the text parsed as a URL, the
/// text after a leading `?` or after the first `?` (a path and query), and the whole text. The checks hold if one reading satisfies them,
/// so they do not depend on exactly how `complete` tells a URL from a bare query.
fn candidate_params(callback: &str) -> Vec<Vec<(String, String)>> {
    let trimmed = callback.trim();
    let mut queries = vec![trimmed.to_owned()];
    if let Some(q) = trimmed.strip_prefix('?') {
        queries.push(q.to_owned());
    }
    // A path and its query (`/launch?iss=…`): the text after the first `?`, without fragment.
    if let Some((_, q)) = trimmed.split_once('?') {
        queries.push(q.split_once('#').map_or(q, |(q, _)| q).to_owned());
    }
    if let Ok(url) = url::Url::parse(trimmed) {
        queries.push(url.query().unwrap_or("").to_owned());
    }
    queries
        .iter()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .collect()
}

/// Why `params` cannot justify an accepted callback, if it cannot.
fn refute_ok(
    params: &[(String, String)],
    state: &str,
    code: &str,
    iss_required: bool,
) -> Option<String> {
    let get = |name: &str| {
        params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    if get("state") != [state] {
        return Some("not exactly one matching state".into());
    }
    if get("code") != [code] || code.is_empty() {
        return Some("not exactly one code, equal to the returned one".into());
    }
    if !get("error").is_empty() {
        return Some("an error callback".into());
    }
    let iss = get("iss");
    if iss.len() > 1 || (iss_required && iss.is_empty()) {
        return Some(format!("iss {iss:?} (required: {iss_required})"));
    }
    // RFC 9207: compared exactly with the known issuer (the discovered one). With none known
    // (the configured endpoint), any `iss` is accepted, with a finding (checked by the caller).
    if let Some(iss) = iss.first()
        && iss_required
        && *iss != "https://ehr.example/fhir"
    {
        return Some(format!("foreign iss {iss:?}"));
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(rest) else {
        return;
    };
    let pending = &pendings()[usize::from(selector & 1)];
    let state = pending.state();
    let verifier = pending.code_verifier().expose();
    let callback = raw.replace("{STATE}", state);

    let result = pending.complete(&callback);
    let shown = match &result {
        Ok(code) => format!("{code:?}"),
        Err(e) => format!("{e} | {e:?}"),
    };
    assert!(!shown.contains(verifier), "PKCE verifier leaked: {shown}");

    let readings = candidate_params(&callback);
    match &result {
        Ok(code) => {
            assert!(callback.contains(state) || callback.contains('%') || callback.contains('+'));
            let why: Vec<String> = readings
                .iter()
                .filter_map(|p| refute_ok(p, state, code.code.expose(), selector & 1 == 1))
                .collect();
            assert!(
                why.len() < readings.len(),
                "Ok for a callback no reading justifies: {why:?}"
            );
            // An `iss` that could not be checked (no issuer known) is recorded as a finding.
            if selector & 1 == 0
                && readings
                    .iter()
                    .all(|p| p.iter().any(|(k, _)| k == "iss"))
            {
                assert!(
                    code.findings.iter().any(|f| f.field.as_deref() == Some("iss")),
                    "an unverified iss without a finding"
                );
            }
                        assert_eq!(code.code_verifier.expose(), verifier);
            assert_eq!(code.redirect_uri, "https://app.example/callback");
        }
        Err(_) => {
            // The state must not be echoed unless the callback put it in a parameter whose
            // value an error may quote (iss, error, error_description, error_uri).
            let echoed = readings.iter().flatten().any(|(k, v)| {
                matches!(
                    k.as_str(),
                    "iss" | "error" | "error_description" | "error_uri"
                ) && v.contains(state)
            });
            if !echoed {
                assert!(!shown.contains(state), "state leaked: {shown}");
            }
        }
    }
});
