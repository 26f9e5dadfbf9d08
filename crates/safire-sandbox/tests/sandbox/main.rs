//! End-to-end behaviour of the sandbox over plain HTTP (tests/common: a tiny
//! std-only HTTP/1.1 client; PKCE and JWS computed by hand).
//!
//! One module per topic; this file holds the helpers they share.

#[path = "../common/mod.rs"]
mod common;

mod authorize;
mod discovery;
mod faults;
mod flows;
mod hostile;
mod lifecycle;
mod registration;
mod token;

use std::time::{Duration, Instant};

use common::flow::{self, *};
use common::*;
use safire_sandbox::{ClientAuth, ClientRegistration, Endpoint, Fault, LaunchContext, Sandbox};
use serde_json::{Value, json};

fn start() -> Sandbox {
    Sandbox::builder().start().expect("sandbox starts")
}

fn with<'a>(
    params: &[(&'a str, &'a str)],
    base: Vec<(&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<_> = base
        .into_iter()
        .filter(|(k, _)| !params.iter().any(|(p, _)| p == k))
        .collect();
    out.extend(params.iter().filter(|(_, v)| !v.is_empty()));
    out
}

/// Expect a redirect back to the client carrying `error`, `state` and `iss`.
fn assert_redirect_error(sb: &Sandbox, r: &HttpResp, error: &str) {
    assert_eq!(r.status, 302, "{}", r.body);
    let loc = r.header("location").unwrap();
    assert!(loc.starts_with(CB), "{loc}");
    assert_eq!(r.location_param("error").as_deref(), Some(error), "{loc}");
    assert_eq!(r.location_param("iss").as_deref(), Some(sb.fhir_base_url()));
    assert!(r.location_param("code").is_none());
}

fn assert_no_redirect(r: &HttpResp) {
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.header("location").is_none());
    assert_eq!(r.error(), "invalid_request");
}

fn sb_jwks() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/vectors/es384.jwk.json"
    );
    json!({"keys": [serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()]})
}
