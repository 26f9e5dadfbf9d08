//! Issue 18, "Accepted today, must be refused": one regression test per item,
//! each sending the raw HTTP requests an attacker (or a buggy client) sends.

mod common;

use std::time::Duration;

use common::flow::*;
use common::*;
use safire_sandbox::{ClientRegistration, Endpoint, LaunchContext, Sandbox};
use serde_json::json;

fn start() -> Sandbox {
    Sandbox::builder().start().expect("sandbox starts")
}

// 1. App clients get at most their registered scope; registration checks syntax.
#[test]
fn app_client_is_down_scoped_to_its_registration() {
    let sb = start();
    let reg = register(
        &sb,
        &json!({"redirect_uris": [CB], "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code"],
                "scope": "launch/patient patient/Observation.rs"}),
    );
    assert_eq!(reg.status, 201, "{}", reg.body);
    let id = reg.json()["client_id"].as_str().unwrap().to_string();

    // Asks for far more: only the registered part is granted, and said so.
    let (code, verifier) = code_for(
        &sb,
        &id,
        "launch/patient patient/*.cruds user/*.cruds patient/Observation.rs",
    );
    let t = exchange(&sb, &id, &code, &verifier);
    assert_eq!(t.status, 200, "{}", t.body);
    assert_eq!(t.json()["scope"], "launch/patient patient/Observation.rs");
    // A narrower form of a registered scope is kept as asked.
    let (code, verifier) = code_for(&sb, &id, "patient/Observation.r");
    assert_eq!(
        exchange(&sb, &id, &code, &verifier).json()["scope"],
        "patient/Observation.r"
    );
    // Nothing registered among the requested scopes: invalid_scope.
    let (_, challenge) = pkce("x");
    let r = authorize(
        &sb,
        &auth_params(&sb, &id, "patient/*.cruds user/*.cruds", &challenge),
    );
    assert_eq!(r.location_param("error").as_deref(), Some("invalid_scope"));
    assert!(r.location_param("code").is_none());

    // Registration refuses scopes that are not SMART scopes, and system/
    // scopes for app clients.
    for bad in [
        "patient/*.sr",
        "superpowers",
        "system/*.rs",
        "patient/observation.rs",
    ] {
        let r = register(
            &sb,
            &json!({"redirect_uris": [CB], "token_endpoint_auth_method": "none", "scope": bad}),
        );
        assert_eq!(
            (r.status, r.error().as_str()),
            (400, "invalid_client_metadata"),
            "{bad}"
        );
    }
}

// 2. Basic credentials are form-decoded strictly, and sandbox secrets contain
// characters the encoding changes.
#[test]
fn basic_credentials_decoded_strictly_and_secrets_need_encoding() {
    let sb = start();
    let sym = sb.clients().symmetric.clone();
    let secret = sym.client_secret.clone().unwrap();
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    assert_ne!(
        encoded, secret,
        "the secret must change under form-encoding"
    );

    let (code, verifier) = code_for(&sb, &sym.client_id, "patient/*.rs");
    let raw = exchange_basic(&sb, &code, &verifier, &basic_raw(&sym.client_id, &secret));
    assert_eq!((raw.status, raw.error().as_str()), (401, "invalid_client"));
    assert!(raw.header("www-authenticate").unwrap().starts_with("Basic"));

    let (code, verifier) = code_for(&sb, &sym.client_id, "patient/*.rs");
    let ok = exchange_basic(&sb, &code, &verifier, &basic(&sym.client_id, &secret));
    assert_eq!(ok.status, 200, "{}", ok.body);

    // Secrets issued at registration need the encoding too.
    let reg = register(&sb, &json!({"redirect_uris": [CB]}));
    assert_eq!(reg.status, 201, "{}", reg.body);
    let issued = reg.json()["client_secret"].as_str().unwrap().to_string();
    let enc: String = url::form_urlencoded::byte_serialize(issued.as_bytes()).collect();
    assert_ne!(enc, issued);
}

// 3. EHR launch from the binary's launcher endpoint; launch values are single
// use, bound to the client, short-lived.
#[test]
fn ehr_launch_values_single_use_client_bound_short_lived() {
    let sb = start();
    let public = sb.clients().public.client_id.clone();
    let other = sb.clients().asymmetric.client_id.clone();
    let launcher = |client: &str| {
        launcher(
            &sb,
            client,
            "https://app.example/launch",
            &[("patient", "ehr-p-9")],
        )
    };
    let r = launcher(&public);
    assert_eq!(r.status, 302, "{}", r.body);
    assert!(
        r.header("location")
            .unwrap()
            .starts_with("https://app.example/launch?")
    );
    assert_eq!(r.location_param("iss").as_deref(), Some(sb.fhir_base_url()));
    let launch = r.location_param("launch").unwrap();
    let with_launch = |client: &str, launch: &str| {
        let (_, ch) = pkce("ehr");
        let mut p = auth_params(&sb, client, "launch patient/*.rs", &ch);
        p.push(("launch", launch));
        authorize(&sb, &p)
    };
    // Another client cannot use it.
    let r = with_launch(&other, &launch);
    assert_eq!(
        r.location_param("error").as_deref(),
        Some("invalid_request")
    );
    // Single use means any presentation burns it, the refused one included.
    let r = with_launch(&public, &launch);
    assert_eq!(
        r.location_param("error").as_deref(),
        Some("invalid_request")
    );
    let launch = launcher(&public).location_param("launch").unwrap();
    let r = with_launch(&public, &launch);
    assert!(
        r.location_param("code").is_some(),
        "{:?}",
        r.header("location")
    );
    // Second use: refused.
    let r = with_launch(&public, &launch);
    assert_eq!(
        r.location_param("error").as_deref(),
        Some("invalid_request")
    );
    // Expired after five minutes.
    let launch = launcher(&public).location_param("launch").unwrap();
    sb.advance_time(Duration::from_secs(301));
    let r = with_launch(&public, &launch);
    assert_eq!(
        r.location_param("error").as_deref(),
        Some("invalid_request")
    );
    // Without launch_uri the launcher answers JSON; unknown clients are refused.
    let j = get(
        sb.local_addr(),
        &format!("{}?client_id={public}", sb.url(Endpoint::Launch)),
    );
    assert_eq!(j.status, 200);
    assert_eq!(j.json()["iss"], sb.fhir_base_url());
    assert!(j.json()["launch"].is_string());
    let bad = get(
        sb.local_addr(),
        &format!("{}?client_id=nobody", sb.url(Endpoint::Launch)),
    );
    assert_eq!(bad.status, 400);
    // The library API binds to a client too.
    let url = sb.ehr_launch_for_client(&public, "https://app.example/l", LaunchContext::new());
    let launch = launch_param(&url);
    let r = with_launch(&other, &launch);
    assert_eq!(
        r.location_param("error").as_deref(),
        Some("invalid_request")
    );
}

// 4. Registered grant_types are honoured: no refresh_token grant, no refresh token.
#[test]
fn refresh_tokens_only_for_clients_registered_for_them() {
    let sb = Sandbox::builder()
        .register_client(ClientRegistration {
            grant_types: vec!["authorization_code".into()],
            ..ClientRegistration::public("code-only", [CB])
        })
        .start()
        .unwrap();
    let reg = register(
        &sb,
        &json!({"redirect_uris": [CB], "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code"]}),
    );
    let dynamic = reg.json()["client_id"].as_str().unwrap().to_string();
    for id in ["code-only", dynamic.as_str()] {
        let (code, verifier) = code_for(&sb, id, "patient/*.rs offline_access");
        let t = exchange(&sb, id, &code, &verifier);
        assert_eq!(t.status, 200, "{}", t.body);
        assert!(t.json().get("refresh_token").is_none(), "{id}: {}", t.body);
        // Using another client's refresh token is not the point: the grant
        // itself is refused for this client.
        let r = refresh(&sb, id, "whatever");
        assert_eq!((r.status, r.error().as_str()), (400, "unauthorized_client"));
    }
    // refresh_token without authorization_code cannot be registered.
    let r = register(
        &sb,
        &json!({"redirect_uris": [CB], "token_endpoint_auth_method": "none",
                "grant_types": ["refresh_token"]}),
    );
    assert_eq!(r.error(), "invalid_client_metadata");
    // Registered with refresh_token: refresh tokens as before.
    let t = public_token(&sb, "patient/*.rs offline_access");
    assert!(t["refresh_token"].is_string());
}

// 5. The assertion header `typ` must be `JWT`.
#[test]
fn assertion_typ_must_be_jwt() {
    let sb = start();
    let backend = sb.clients().backend.clone();
    let send = |a: &str| client_credentials(&sb, "system/Patient.rs", a);
    for (i, header) in [
        json!({"alg": "ES384", "kid": backend.kid}),
        json!({"alg": "ES384", "kid": backend.kid, "typ": "at+jwt"}),
        json!({"alg": "ES384", "kid": backend.kid, "typ": "JOSE"}),
    ]
    .into_iter()
    .enumerate()
    {
        let a = assertion_with_header(&sb, &backend, &format!("typ-{i}"), header.clone());
        let r = send(&a);
        assert_eq!(
            (r.status, r.error().as_str()),
            (401, "invalid_client"),
            "{header}"
        );
        assert!(r.header("www-authenticate").is_some());
    }
    let r = send(&assertion(&sb, &backend, "typ-ok"));
    assert_eq!(r.status, 200, "{}", r.body);
}

// 6. Registration never echoes a client-chosen secret.
#[test]
fn registration_does_not_echo_client_chosen_secrets() {
    let sb = start();
    let r = register(
        &sb,
        &json!({"redirect_uris": [CB], "token_endpoint_auth_method": "none",
                "client_secret": "chosen-by-client", "client_secret_expires_at": 99,
                "client_id": "chosen-id"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let j = r.json();
    assert!(j.get("client_secret").is_none(), "{j}");
    assert!(j.get("client_secret_expires_at").is_none(), "{j}");
    assert_ne!(j["client_id"], "chosen-id");
    // A symmetric client gets a sandbox-made secret, not its own.
    let r = register(
        &sb,
        &json!({"redirect_uris": [CB], "client_secret": "mine"}),
    );
    let j = r.json();
    assert_ne!(j["client_secret"], "mine");
    assert_eq!(j["client_secret_expires_at"], 0);
}

// 7. A `state` that is not printable ASCII is refused, never altered.
#[test]
fn state_with_invalid_bytes_is_refused_not_altered() {
    let sb = start();
    let id = sb.clients().public.client_id.clone();
    let (_, ch) = pkce("s");
    for raw_state in ["%FF%FE", "ab%00cd", "caf%C3%A9", "line%0Abreak"] {
        let base = form(&auth_params(&sb, &id, "patient/*.rs", &ch))
            .replace("state=st-1", &format!("state={raw_state}"));
        let target = format!("{}?{base}", path_of(&sb.authorize_url()));
        let r = http(sb.local_addr(), "GET", &target, &[], b"");
        assert_eq!(r.status, 302, "{raw_state}: {}", r.body);
        assert_eq!(
            r.location_param("error").as_deref(),
            Some("invalid_request")
        );
        assert!(r.location_param("code").is_none(), "{raw_state}");
        assert!(r.location_param("state").is_none(), "{raw_state}");
    }
    // Printable ASCII, however odd, comes back byte-exact.
    let odd = "a b+c&d=e/f?g%h~!*'()";
    let mut p = auth_params(&sb, &id, "patient/*.rs", &ch);
    p.retain(|(k, _)| *k != "state");
    p.push(("state", odd));
    let r = authorize(&sb, &p);
    assert!(r.location_param("code").is_some());
    assert_eq!(r.location_param("state").as_deref(), Some(odd));
}
