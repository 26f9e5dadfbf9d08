//! The flows end to end: standalone and EHR launches, refresh with `client_secret_basic`,
//! backend services with an ES384 (or server-chosen) assertion key, registration with an
//! initial access token, and a custom flow through `run`.

use std::sync::Arc;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use safire_core::{
    AuthorizeParams, CallOptions, ClientAuth, ClientConfig, ClientMetadata, Error, PrivateKey,
    SecretString, Signer,
};
use serde_json::{Value, json};

use super::super::TestClient;
use super::super::servers::{Reply, TestServer};
use super::{
    DISCOVERY, JWT_BEARER, REDIRECT_URI, TestEs384, assert_common_headers, callback, client,
    config_for, get_with_authorization, smart_configuration, smart_server, token_json,
};

pub fn standalone_launch_end_to_end<C: TestClient>() {
    let server = smart_server(
        |_| Reply::json(200, token_json("at-launch-1", Some("rt-launch-1"))),
        |_| Reply::json(500, json!({})),
    );
    let client: C = client(config_for(&server));

    let request = client
        .authorization_url(AuthorizeParams::default())
        .unwrap();
    assert!(
        request
            .url
            .as_str()
            .starts_with(&format!("{}?", server.url("/authorize"))),
        "{}",
        request.url
    );
    let query: std::collections::BTreeMap<String, String> = request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "app");
    assert_eq!(query["redirect_uri"], REDIRECT_URI);
    assert_eq!(query["aud"], server.url("/fhir"));
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["state"], request.pending.state());
    assert!(!query.contains_key("code_verifier"));

    let pending = request.pending;
    let token = client
        .request_access_token(
            pending.clone(),
            &callback(pending.state(), "code-abc"),
            CallOptions::new(),
        )
        .unwrap();
    assert_eq!(token.access_token.expose(), "at-launch-1");
    assert_eq!(
        token.refresh_token.as_ref().map(SecretString::expose),
        Some("rt-launch-1")
    );
    assert_eq!(token.launch.patient.as_deref(), Some("pat-123"));
    assert_eq!(token.expires_in, Some(3600));

    assert_eq!(server.requests_to(DISCOVERY).len(), 1, "discovered once");
    let posts = server.requests_to("/token");
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.method, "POST");
    assert_common_headers(post);
    assert_eq!(
        post.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(post.header("authorization"), None, "public client");
    let form = post.form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "code-abc");
    assert_eq!(form["redirect_uri"], REDIRECT_URI);
    assert_eq!(form["code_verifier"], pending.code_verifier().expose());
    assert_eq!(form["client_id"], "app");
}

pub fn ehr_launch_in_one_call<C: TestClient>() {
    let server = smart_server(
        |_| Reply::json(200, token_json("at-ehr", None)),
        |_| Reply::json(500, json!({})),
    );
    let client: C = client(config_for(&server));

    // A launch from another server is refused before anything is sent.
    let err = client
        .ehr_launch_authorization(
            "/launch?iss=https%3A%2F%2Fother.example%2Ffhir&launch=L-evil",
            AuthorizeParams::default(),
        )
        .unwrap_err();
    match &err {
        Error::Authorization(auth) => {
            assert_eq!(
                auth.kind,
                safire_core::AuthErrorKind::LaunchIssuerNotAllowed
            )
        }
        other => panic!("expected a launch refusal, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("https://other.example/fhir"), "{text}");
    assert!(text.contains(&server.url("/fhir")), "{text}");
    assert!(
        server.requests().is_empty(),
        "nothing sent for a foreign launch"
    );

    // The client's own server: discovery, then the authorization URL with the launch value.
    let launch_url = format!(
        "/launch?iss={}&launch=L-42",
        url_encode(&server.url("/fhir"))
    );
    let request = client
        .ehr_launch_authorization(&launch_url, AuthorizeParams::default())
        .unwrap();
    let query: std::collections::BTreeMap<String, String> = request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(query["launch"], "L-42");
    assert_eq!(query["aud"], server.url("/fhir"));
    assert_eq!(server.requests_to(DISCOVERY).len(), 1);
}

/// Percent-encodes everything but unreserved characters.
fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub fn refresh_with_client_secret_basic<C: TestClient>() {
    let server = smart_server(
        |request| {
            let refresh = request.form()["refresh_token"].clone();
            Reply::json(200, token_json(&format!("at-for-{refresh}"), Some("rt-2")))
        },
        |_| Reply::json(500, json!({})),
    );
    let client: C = client(
        config_for(&server)
            .token_endpoint(server.url("/token"))
            .client_auth(ClientAuth::client_secret_basic("s3cr3t")),
    );

    let token = client
        .refresh_token(
            SecretString::new("rt-1"),
            CallOptions::new().scopes(["patient/Observation.rs"]),
        )
        .unwrap();
    assert_eq!(token.access_token.expose(), "at-for-rt-1");
    // Four more refreshes: a pooled client reuses connections. (hyper-util returns a
    // connection to its pool on a spawned task, so one request may race it and open a new
    // one; reuse is asserted over the series, not for one pair.)
    for _ in 0..4 {
        client
            .refresh_token(SecretString::new("rt-2"), CallOptions::new())
            .unwrap();
    }

    let requests = server.requests();
    assert_eq!(requests.len(), 5, "configured endpoint: no discovery");
    let post = &requests[0];
    assert_eq!(post.method, "POST");
    assert_eq!(post.target, "/token");
    assert_common_headers(post);
    assert_eq!(
        post.header("authorization"),
        Some(format!("Basic {}", Base64::encode_string(b"app:s3cr3t")).as_str())
    );
    let form = post.form();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "rt-1");
    assert_eq!(form["scope"], "patient/Observation.rs");
    assert!(!form.contains_key("client_id"), "the id travels in Basic");
    assert!(!form.contains_key("client_secret"));
    let connections: std::collections::HashSet<_> = requests.iter().map(|r| r.connection).collect();
    assert!(
        connections.len() <= 2,
        "five requests over {} connections: the pool is not reused",
        connections.len()
    );
}

pub fn backend_services_with_es384<C: TestClient>() {
    let server = smart_server(
        |_| {
            Reply::json(
                200,
                json!({"access_token": "at-backend", "token_type": "bearer", "expires_in": 300,
                       "scope": "system/Patient.rs system/Observation.rs"}),
            )
        },
        |_| Reply::json(500, json!({})),
    );
    let (key, _pem) = TestEs384::fixed();
    let verifying_key = key.verifying_key();
    let client: C = client(
        ClientConfig::builder(server.url("/fhir"))
            .allow_insecure_localhost(true)
            .client_id("bulk-client")
            .scopes(["system/Patient.rs", "system/Observation.rs"])
            .client_auth(ClientAuth::private_key_jwt(key, "es384-kid")),
    );

    let token = client.request_backend_token(CallOptions::new()).unwrap();
    assert_eq!(token.access_token.expose(), "at-backend");
    assert_eq!(token.expires_in, Some(300));

    assert_eq!(server.requests_to(DISCOVERY).len(), 1);
    let posts = server.requests_to("/token");
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_common_headers(post);
    assert_eq!(post.header("authorization"), None);
    let form = post.form();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "system/Patient.rs system/Observation.rs");
    assert_eq!(form["client_assertion_type"], JWT_BEARER);
    let assertion = &form["client_assertion"];
    let parts: Vec<&str> = assertion.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS");
    {
        let decode = |part: &str| -> Value {
            serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
        };
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "ES384");
        assert_eq!(header["kid"], "es384-kid");
        let claims = decode(parts[1]);
        assert_eq!(claims["iss"], "bulk-client");
        assert_eq!(claims["sub"], "bulk-client");
        assert_eq!(claims["aud"], server.url("/token"));
        assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
        let lifetime = claims["exp"].as_u64().unwrap() as i64
            - std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
        assert!((0..=300).contains(&lifetime), "exp within five minutes");
        let signature =
            p384::ecdsa::Signature::from_slice(&Base64UrlUnpadded::decode_vec(parts[2]).unwrap())
                .unwrap();
        signature::Verifier::verify(
            &verifying_key,
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &signature,
        )
        .expect("the assertion verifies with the client's public key");
    }
}

/// An RS384 test key (the sandbox's committed vector).
const RS384_PEM: &str = include_str!("../../../crates/safire-sandbox/testdata/vectors/rs384.pem");

/// A server whose metadata lists `algs` as its signing algorithms, with a token endpoint.
fn server_signing_with(algs: &'static [&'static str]) -> TestServer {
    TestServer::http(move |request, base| match request.path() {
        DISCOVERY => {
            let mut metadata = smart_configuration(base);
            metadata["token_endpoint_auth_signing_alg_values_supported"] = json!(algs);
            Reply::json(200, metadata)
        }
        "/token" => Reply::json(
            200,
            json!({"access_token": "at-two-keys", "token_type": "Bearer", "expires_in": 300,
                   "scope": "system/*.rs"}),
        ),
        _ => Reply::text(404, "text/plain", "not found"),
    })
}

fn two_key_client<C: TestClient>(server: &TestServer) -> C {
    let (es, _pem) = TestEs384::fixed();
    let rs = PrivateKey::from_pem(RS384_PEM).unwrap();
    client(
        ClientConfig::builder(server.url("/fhir"))
            .allow_insecure_localhost(true)
            .client_id("bulk-client")
            // Configured: only the key choice makes the client read the metadata.
            .token_endpoint(server.url("/token"))
            .client_auth(ClientAuth::private_key_jwt_keys([
                (Arc::new(es) as Arc<dyn Signer>, "es-kid"),
                (Arc::new(rs) as Arc<dyn Signer>, "rs-kid"),
            ])),
    )
}

pub fn assertion_key_follows_the_servers_algorithms<C: TestClient>() {
    let server = server_signing_with(&["RS384"]);
    let client: C = two_key_client(&server);
    let token = client.request_backend_token(CallOptions::new()).unwrap();
    assert_eq!(token.access_token.expose(), "at-two-keys");
    assert_eq!(
        server.requests_to(DISCOVERY).len(),
        1,
        "the choice needs the metadata"
    );
    let posts = server.requests_to("/token");
    assert_eq!(posts.len(), 1);
    let form = posts[0].form();
    let decode = |part: &str| -> Value {
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
    };
    let parts: Vec<&str> = form["client_assertion"].split('.').collect();
    let header = decode(parts[0]);
    assert_eq!(
        header["alg"], "RS384",
        "the ES384 key is not one the server lists"
    );
    assert_eq!(header["kid"], "rs-kid");
    let claims = decode(parts[1]);
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(
        lifetime, 240,
        "room under SMART's 300 s for a server clock ahead"
    );

    // No key the server lists: nothing is posted, and the error names both lists.
    let server = server_signing_with(&["RS256", "PS256"]);
    let client: C = two_key_client(&server);
    let err = client
        .request_backend_token(CallOptions::new())
        .unwrap_err();
    assert!(matches!(err, Error::Configuration(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("(ES384, RS384)") && text.contains("(RS256, PS256)"),
        "{text}"
    );
    assert!(
        server.requests_to("/token").is_empty(),
        "failed before sending"
    );
}

pub fn registration_with_initial_access_token<C: TestClient>() {
    let server = smart_server(
        |_| Reply::json(500, json!({})),
        |request| {
            let sent = request.json();
            Reply::json(
                201,
                json!({
                    "client_id": "registered-42",
                    "client_secret": "issued-secret",
                    "client_id_issued_at": 1_700_000_000u64,
                    "client_secret_expires_at": 0,
                    "client_name": sent["client_name"],
                    "redirect_uris": sent["redirect_uris"],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "token_endpoint_auth_method": "client_secret_basic"
                }),
            )
        },
    );
    let client: C =
        client(ClientConfig::builder(server.url("/fhir")).allow_insecure_localhost(true));
    let metadata = ClientMetadata::new("Suite App")
        .redirect_uris([REDIRECT_URI])
        .grant_types(["authorization_code", "refresh_token"])
        .response_types(["code"])
        .token_endpoint_auth_method("client_secret_basic")
        .scope("openid launch/patient patient/*.rs");

    let registered = client
        .register_client(&metadata, None, Some(SecretString::new("iat-123")))
        .unwrap();
    assert_eq!(registered.client_id, "registered-42");
    assert_eq!(
        registered.client_secret.as_ref().map(SecretString::expose),
        Some("issued-secret")
    );

    assert_eq!(
        server.requests_to(DISCOVERY).len(),
        1,
        "endpoint discovered"
    );
    let posts = server.requests_to("/register");
    assert_eq!(posts.len(), 1);
    let post = &posts[0];
    assert_eq!(post.method, "POST");
    assert_common_headers(post);
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(post.header("authorization"), Some("Bearer iat-123"));
    let body = post.json();
    assert_eq!(body["client_name"], "Suite App");
    assert_eq!(body["redirect_uris"], json!([REDIRECT_URI]));
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
}

pub fn run_custom_flow<C: TestClient>() {
    let server = TestServer::http(|request, _| {
        Reply::text(
            200,
            "text/plain",
            format!("hello {}", request.header("authorization").unwrap_or("-")),
        )
    });
    let client: C = client(config_for(&server));
    let (status, body) = client
        .run(get_with_authorization(server.url("/echo"), "Bearer abc"))
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, b"hello Bearer abc");
    let requests = server.requests();
    assert_eq!(
        requests.len(),
        1,
        "run() does not discover for a flow that does not want it"
    );
    assert_common_headers(&requests[0]);
}
