//! Secrets: echoed credentials scrubbed from errors and tracing output, and canaries (client
//! secret, code, tokens, initial access token, query) never leaking into errors, Debug output
//! or the tracing output, which must still name every request.

use std::sync::Arc;

use base64ct::{Base64, Encoding};
use safire_core::{
    AuthorizeParams, CallOptions, ClientAuth, ClientMetadata, NetworkErrorKind, PrivateKey,
    SecretString, Signer,
};
use serde_json::json;

use super::super::servers::{Recorded, Reply, TestServer, refused_url};
use super::super::{TestClient, tracing_text};
use super::{
    DISCOVERY, REDIRECT_URI, TestEs384, build, callback, client, config_for,
    get_with_authorization, network, one_second_limits, smart_configuration, smart_server,
    token_json,
};

/// Issue 11.1: a server that echoes what it received (the Basic header, its decoding, the
/// form body with the refresh token) in every OAuth field and in a 200 without a token gets
/// none of it into the error's Display or Debug, nor into the transport's tracing output.
pub fn echoed_secrets_are_scrubbed_from_errors<C: TestClient>() {
    const SECRET: &str = "echo+secret/canary:1 x";
    const REFRESH: &str = "echo-refresh-canary-42";
    super::super::captured_tracing();
    let echo = |request: &Recorded| {
        let header = request
            .header("authorization")
            .unwrap_or_default()
            .to_owned();
        let decoded = header
            .strip_prefix("Basic ")
            .and_then(|b| Base64::decode_vec(b).ok())
            .map(|d| String::from_utf8_lossy(&d).into_owned())
            .unwrap_or_default();
        let body = String::from_utf8_lossy(&request.body).into_owned();
        format!("{header} | {decoded} | {body} | {SECRET} | {REFRESH}")
    };
    let server = smart_server(
        move |request| {
            let echoed = echo(request);
            if request.form().contains_key("scope") {
                // A 200 without an access token whose member names repeat the request.
                Reply::json(200, json!({ echoed.clone(): 1, REFRESH: 2 }))
            } else {
                Reply::json(
                    401,
                    json!({
                        "error": format!("invalid_client {echoed}"),
                        "error_description": echoed.clone(),
                        "error_uri": format!("https://ehr.example/e?{echoed}"),
                    }),
                )
            }
        },
        |_| Reply::json(500, json!({})),
    );
    for auth in [
        ClientAuth::client_secret_basic(SECRET),
        ClientAuth::client_secret_basic_raw(SECRET),
        ClientAuth::client_secret_post(SECRET),
    ] {
        let client: C = client(
            config_for(&server)
                .token_endpoint(server.url("/token"))
                .client_auth(auth),
        );
        for options in [CallOptions::new(), CallOptions::new().scopes(["openid"])] {
            let err = client
                .refresh_token(SecretString::new(REFRESH), options)
                .unwrap_err();
            let text = format!("{err} {err:?}");
            let sent = server.requests().last().unwrap().clone();
            let mut forms = vec![SECRET.to_owned(), REFRESH.to_owned()];
            if let Some(header) = sent.header("authorization") {
                forms.push(header.to_owned());
                forms.push(header.trim_start_matches("Basic ").to_owned());
            }
            forms.push("echo%2Bsecret%2Fcanary%3A1".to_owned());
            for form in &forms {
                assert!(!text.contains(form.as_str()), "'{form}' leaked: {text}");
            }
        }
    }
    let logged = tracing_text();
    for canary in ["echo+secret", "echo-refresh-canary"] {
        assert!(!logged.contains(canary), "{canary} in tracing output");
    }
}

pub fn canaries_never_leak<C: TestClient>() {
    super::super::captured_tracing();
    const SECRET: &str = "canary-client-secret-9f1c";
    const CODE: &str = "canary-code-41d2";
    const ACCESS: &str = "canary-access-token-77ab";
    const REFRESH: &str = "canary-refresh-token-0c3e";
    const IAT: &str = "canary-initial-access-5b5b";
    const QUERY: &str = "canary-query-e0e0";

    let server = TestServer::http(|request, base| match request.path() {
        DISCOVERY => Reply::redirect(302, &format!("/moved/config?sig={QUERY}")),
        "/moved/config" => Reply::json(200, smart_configuration(base)),
        "/token" => match request.form()["grant_type"].as_str() {
            "authorization_code" => Reply::json(200, token_json(ACCESS, Some(REFRESH))),
            "refresh_token" => Reply::json(
                400,
                json!({"error": "invalid_grant", "error_description": "refresh token revoked"}),
            ),
            _ => Reply::json(401, json!({"error": "invalid_client"})),
        },
        "/register" => Reply::json(400, json!({"error": "invalid_client_metadata"})),
        // `openid` is requested: the code exchange fetches the advertised key set first.
        "/jwks" => Reply::json(200, json!({"keys": []})),
        _ => Reply::Hang,
    });
    let (_, pem) = TestEs384::fixed();
    let key: Arc<dyn Signer> = Arc::new(PrivateKey::from_pem(&pem).unwrap());
    let client: C = build(
        config_for(&server).client_auth(ClientAuth::client_secret_basic(SECRET)),
        one_second_limits(),
        None,
    );

    let mut texts = Vec::new();
    let mut record = |what: &str, text: String| texts.push((what.to_owned(), text));

    let request = client
        .authorization_url(AuthorizeParams::default())
        .unwrap();
    let verifier = request.pending.code_verifier().expose().to_owned();
    record("pending", format!("{:?}", request.pending));
    let token = client
        .request_access_token(
            request.pending.clone(),
            &callback(request.pending.state(), CODE),
            CallOptions::new(),
        )
        .unwrap();
    assert_eq!(token.access_token.expose(), ACCESS);
    record("token response", format!("{token:?}"));

    let mut errors = vec![
        client
            .refresh_token(SecretString::new(REFRESH), CallOptions::new())
            .unwrap_err(),
        client
            .request_backend_token(
                CallOptions::new()
                    .client_secret(SECRET)
                    .private_key(key, "kid-1"),
            )
            .unwrap_err(),
        client
            .register_client(
                &ClientMetadata::new("App").redirect_uris([REDIRECT_URI]),
                None,
                Some(SecretString::new(IAT)),
            )
            .unwrap_err(),
        // A callback carrying the code but the wrong state.
        client
            .request_access_token(
                request.pending.clone(),
                &callback("wrong-state", CODE),
                CallOptions::new(),
            )
            .unwrap_err(),
        // A transport timeout and a refused connection on URLs with secrets in the query.
        client
            .run(get_with_authorization(
                server.url(&format!("/hang?token={QUERY}")),
                &format!("Bearer {ACCESS}"),
            ))
            .unwrap_err(),
        client
            .run(get_with_authorization(
                format!("{}/x?code={CODE}", refused_url()),
                &format!("Bearer {ACCESS}"),
            ))
            .unwrap_err(),
    ];
    assert_eq!(network(&errors[4]).kind, NetworkErrorKind::Timeout);
    assert_eq!(network(&errors[5]).kind, NetworkErrorKind::Connect);
    for err in errors.drain(..) {
        record("error Display", err.to_string());
        record("error Debug", format!("{err:?}"));
    }
    record("tracing output", tracing_text());

    let canaries = [
        SECRET,
        CODE,
        ACCESS,
        REFRESH,
        IAT,
        QUERY,
        verifier.as_str(),
        pem.as_str(),
        // The PEM's base64 body, in case only the key material were printed.
        pem.lines().nth(1).unwrap(),
    ];
    for (what, text) in &texts {
        for canary in canaries {
            assert!(!text.contains(canary), "{what} leaks {canary:?}: {text}");
        }
    }

    // The capture works and the transport logs each request: method, URL without query.
    let traced = tracing_text();
    assert!(
        traced.contains(&server.url("/token")),
        "no event for /token: {traced}"
    );
    assert!(traced.contains(&server.url("/moved/config")), "{traced}");
    assert!(traced.contains("POST"), "{traced}");
}
