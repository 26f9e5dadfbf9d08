//! End to end with Safire's own blocking client: the sandbox's RS256 id_tokens are verified by
//! the code exchange (JWK Set fetched from the sandbox, nonce checked), `fhirUser` typed, and a
//! rotated signing key is picked up by re-fetching the set; a refresh's id_token is verified
//! against the session's user (OpenID Connect Core §12.2).

use safire_core::{
    AuthorizeParams, CallOptions, ClientConfig, ClientMetadata, Error, IdTokenSubject,
    IdentityError, PendingAuthorization, ResourceType, Session, TokenResponse,
};
use safire_sandbox::Sandbox;
use safire_ureq::SmartClient;

const REDIRECT_URI: &str = "http://127.0.0.1/callback";
const SCOPES: [&str; 5] = [
    "openid",
    "fhirUser",
    "launch/patient",
    "patient/*.rs",
    "offline_access",
];
const PEM: &str = include_str!("../testdata/vectors/rs384.pem");

fn client(sandbox: &Sandbox) -> SmartClient {
    let config = ClientConfig::builder(sandbox.fhir_base_url())
        .redirect_uri(REDIRECT_URI)
        .scopes(SCOPES)
        .allow_insecure_localhost(true)
        .build()
        .unwrap();
    let anonymous = SmartClient::new(config.clone()).unwrap();
    let app = anonymous
        .register_client(
            &ClientMetadata::new("identity e2e")
                .redirect_uris([REDIRECT_URI])
                .grant_types(["authorization_code", "refresh_token"])
                .response_types(["code"])
                .token_endpoint_auth_method("none")
                .scope(SCOPES.join(" ")),
            None,
            None,
        )
        .unwrap();
    SmartClient::new(config.with_client_id(&app.client_id)).unwrap()
}

/// Authorize (the sandbox auto-approves: one GET, read the redirect): the pending
/// authorization and the callback URL.
fn authorize(client: &SmartClient) -> (PendingAuthorization, String) {
    let request = client
        .authorization_url(AuthorizeParams::default())
        .unwrap();
    assert!(request.pending.nonce().is_some(), "openid: a nonce is sent");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent.get(request.url.as_str()).call().unwrap();
    let callback = response.headers()["location"].to_str().unwrap().to_owned();
    (request.pending, callback)
}

/// Authorize and exchange the code.
fn launch(client: &SmartClient) -> TokenResponse {
    let (pending, callback) = authorize(client);
    client
        .request_access_token(pending, &callback, CallOptions::new())
        .unwrap()
}

#[test]
fn a_refresh_id_token_from_the_sandbox_is_verified_against_the_session_user() {
    let sandbox = Sandbox::builder()
        .id_token_signing_key_pem(PEM)
        .start()
        .unwrap();
    let client = client(&sandbox);
    let (pending, callback) = authorize(&client);
    let session = client
        .request_session(pending, &callback, CallOptions::new())
        .unwrap();
    let subject = session
        .id_token_subject
        .clone()
        .expect("verified at launch");
    assert_eq!(subject.iss, sandbox.fhir_base_url());

    // The sandbox sends a new id_token with the refresh: verified, same user.
    let renewed = client.renew_session(&session, CallOptions::new()).unwrap();
    assert_ne!(renewed.access_token, session.access_token);
    assert!(renewed.id_token.is_some());
    assert_eq!(renewed.id_token_subject.as_ref(), Some(&subject));
    assert_eq!(renewed.fhir_user, session.fhir_user);

    // A session whose user differs from the one the server's refresh id_token names is not
    // renewed (as if the stored session had been swapped).
    let mut swapped: Session = renewed.clone();
    swapped.id_token_subject = Some(IdTokenSubject::new(subject.iss.clone(), "someone-else"));
    let err = client
        .renew_session(&swapped, CallOptions::new())
        .unwrap_err();
    assert!(
        matches!(&err, Error::Identity(e) if **e == IdentityError::IdentityChanged { claim: "sub" }),
        "{err:?}"
    );
}

#[test]
fn sandbox_id_tokens_are_verified_and_a_rotated_key_is_fetched() {
    let sandbox = Sandbox::builder()
        .id_token_signing_key_pem(PEM)
        .start()
        .unwrap();
    let client = client(&sandbox);

    let token = launch(&client);
    let identity = token.identity.as_ref().expect("a verified identity");
    assert_eq!(identity.kid, Some(sandbox.signing_kid().unwrap()));
    let user = identity.fhir_user.as_ref().expect("fhirUser granted");
    assert_eq!(user.resource_type(), &ResourceType::Practitioner);
    assert_eq!(user.id(), "sandbox-practitioner-1");
    assert_eq!(
        user.url().as_str(),
        format!(
            "{}/Practitioner/sandbox-practitioner-1",
            sandbox.fhir_base_url()
        )
    );
    assert_eq!(client.server_keys().unwrap().keys().len(), 1);

    let rotated = sandbox.rotate_signing_key().unwrap();
    let token = launch(&client);
    assert_eq!(
        token.identity.and_then(|i| i.kid),
        Some(rotated),
        "the new key was fetched and verified the token"
    );
    assert_eq!(
        client.server_keys().unwrap().keys().len(),
        2,
        "the cached set is the re-fetched one (old and new key)"
    );
}
