//! Client assertions made by an independent JOSE implementation (joserfc, see
//! testdata/vectors/make_vectors.py) against a sandbox whose clock is frozen
//! at the vectors' fixed "now".

mod common;

use common::flow::client_credentials;
use common::*;
use safire_sandbox::{ClientRegistration, Sandbox};
use serde_json::Value;

fn load() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vectors/vectors.json");
    let text = std::fs::read_to_string(path).expect("vectors.json");
    serde_json::from_str(&text).expect("vectors.json is JSON")
}

fn sandbox_for(v: &Value) -> Sandbox {
    let mut b = Sandbox::builder()
        .public_base_url(v["base_url"].as_str().expect("base_url"))
        .fixed_time(v["now"].as_u64().expect("now"));
    for (id, c) in v["clients"].as_object().expect("clients") {
        b = b.register_client(ClientRegistration::backend(
            id.as_str(),
            c["jwks"].clone(),
            "system/*.rs",
        ));
    }
    b.start().expect("start")
}

fn present(sb: &Sandbox, assertion: &str) -> HttpResp {
    client_credentials(sb, "system/Patient.rs", assertion)
}

#[test]
fn token_url_matches_vectors() {
    let v = load();
    let sb = sandbox_for(&v);
    assert_eq!(sb.token_url(), v["token_url"].as_str().unwrap());
    assert_eq!(sb.now(), v["now"].as_u64().unwrap());
}

#[test]
fn independent_vectors_accepted_and_rejected_as_labelled() {
    let v = load();
    let sb = sandbox_for(&v);
    let vectors = v["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 10);
    for vector in vectors {
        let name = vector["name"].as_str().unwrap();
        let expect = vector["expect"].as_str().unwrap();
        let r = present(&sb, vector["assertion"].as_str().unwrap());
        if expect == "accept" {
            assert_eq!(r.status, 200, "{name}: {}", r.body);
            let body = r.json();
            assert_eq!(body["token_type"], "Bearer", "{name}");
            assert_eq!(body["scope"], "system/Patient.rs", "{name}");
            assert!(body.get("refresh_token").is_none(), "{name}");
        } else {
            assert_eq!(r.status, 401, "{name}: {}", r.body);
            assert_eq!(r.error(), expect, "{name}: {}", r.body);
            // Rejected for the labelled reason, not by accident.
            let why = match name {
                n if n.contains("tampered") => "signature does not verify",
                n if n.contains("expired") => "expired",
                n if n.contains("too_far") => "in the future",
                n if n.contains("audience") => "`aud`",
                "alg_none" | "rs256_not_allowed" | "hs384_confusion" => "not accepted",
                n if n.contains("sub_mismatch") => "`sub`",
                n if n.contains("replay") => "replay",
                other => panic!("no expected reason for vector {other}"),
            };
            let desc = r.json()["error_description"].as_str().unwrap().to_string();
            assert!(desc.contains(why), "{name}: {desc}");
        }
    }
}

#[test]
fn a_valid_vector_replayed_is_invalid_client() {
    let v = load();
    let sb = sandbox_for(&v);
    let valid = v["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "rs384_valid")
        .unwrap()["assertion"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(present(&sb, &valid).status, 200);
    let again = present(&sb, &valid);
    assert_eq!(again.status, 401);
    assert_eq!(again.error(), "invalid_client");
}

#[test]
fn valid_vector_is_rejected_once_the_clock_passes_exp() {
    let v = load();
    let sb = sandbox_for(&v);
    sb.advance_time(std::time::Duration::from_secs(600));
    let valid = v["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "es384_valid")
        .unwrap()["assertion"]
        .as_str()
        .unwrap()
        .to_string();
    let r = present(&sb, &valid);
    assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
}
