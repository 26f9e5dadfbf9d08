//! `PendingAuthorization::complete(callback)`.
//!
//! Two pending authorizations are built once with `SeededRandom`: one with a configured
//! authorization endpoint (no `iss` required), one after discovery of a server that advertises
//! `authorization_response_iss_parameter_supported` (so `iss` is required). The first input byte
//! picks one; the rest is the callback, in which every `{STATE}` is replaced by the real state
//! so that the fuzzer can reach the checks after the state comparison.
//! Invariants:
//! - Ok ⇒ the callback's query (as `complete` finds it) has a `state` parameter equal to the
//!   pending state, a non-empty `code`, and, when required, an `iss` on the expected list;
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
        Ok(safire_core::http::Response::builder()
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

/// An independent model of where `complete` finds the query, returning the parameters.
fn model_params(callback: &str) -> Option<Vec<(String, String)>> {
    let trimmed = callback.trim();
    let query = if let Some(q) = trimmed.strip_prefix('?') {
        q.to_owned()
    } else {
        let head = trimmed.split(['?', '#']).next().unwrap_or("");
        if head.contains("://") {
            url::Url::parse(trimmed)
                .ok()?
                .query()
                .unwrap_or("")
                .to_owned()
        } else {
            trimmed.to_owned()
        }
    };
    Some(
        url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    )
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

    let params = model_params(&callback);
    match &result {
        Ok(code) => {
            let params = params.expect("Ok for a callback the model cannot parse");
            let get = |name: &str| {
                params
                    .iter()
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
                    .collect::<Vec<_>>()
            };
            assert!(callback.contains(state) || callback.contains('%') || callback.contains('+'));
            assert_eq!(
                get("state"),
                [state],
                "Ok without exactly one matching state"
            );
            let codes = get("code");
            assert_eq!(codes.len(), 1);
            assert!(!codes[0].is_empty());
            assert_eq!(code.code.expose(), codes[0]);
            assert!(get("error").is_empty(), "Ok for an error callback");
            let iss = get("iss");
            assert!(iss.len() <= 1);
            if selector & 1 == 1 {
                assert_eq!(iss.len(), 1, "iss required but absent");
            }
            if let Some(iss) = iss.first() {
                let iss = iss.strip_suffix('/').unwrap_or(iss);
                assert_eq!(iss, "https://ehr.example/fhir", "Ok with a foreign iss");
            }
            assert_eq!(code.code_verifier.expose(), verifier);
            assert_eq!(code.redirect_uri, "https://app.example/callback");
        }
        Err(_) => {
            // The state must not be echoed unless the callback put it in a parameter whose
            // value an error may quote (iss, error, error_description, error_uri).
            if let Some(params) = &params {
                let echoed = params.iter().any(|(k, v)| {
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
    }
});
