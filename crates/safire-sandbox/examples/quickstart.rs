//! Safire quickstart: every SMART flow against a local sandbox, offline, in one command.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! It starts a strict SMART App Launch 2.2 authorization server in-process on 127.0.0.1 and
//! walks, through the blocking `safire-ureq` client: discovery → dynamic registration of a
//! public app → standalone launch with PKCE → code exchange with the id_token verified (the
//! user's `fhirUser`) → refresh → a session that keeps its (2-second) access token valid by
//! itself and reads `Patient/<id>` from the sandbox's FHIR endpoint → registration of an ES384
//! backend client with the JWKS made from its key → a backend services token → its
//! introspection, revocation, and introspection again (inactive).

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use safire_core::{
    AuthorizeParams, CallOptions, ClientAuth, ClientConfig, ClientMetadata, Jwks, OsRandom,
    PrivateKey, Signer, TokenResponse, TokenTypeHint,
};
use safire_sandbox::{Endpoint, LaunchContext, Sandbox};
use safire_ureq::SmartClient;

const REDIRECT_URI: &str = "http://127.0.0.1/callback";
const APP_SCOPES: [&str; 6] = [
    "launch/patient",
    "launch/encounter",
    "patient/*.rs",
    "openid",
    "fhirUser",
    "offline_access",
];

fn main() -> Result<(), Box<dyn Error>> {
    step("Start a SMART sandbox on 127.0.0.1 (no network, no account)");
    let sandbox = Sandbox::builder()
        .launch_context(
            LaunchContext::new()
                .patient("pat-smart-1")
                .encounter("enc-42")
                .fhir_user("Practitioner/dr-quickstart"),
        )
        .fhir_patient("pat-smart-1", "Amy", "Shaw", "1987-02-20")
        // Short-lived access tokens, so the session below has to refresh by itself.
        .access_token_lifetime(Duration::from_secs(2))
        .start()?;
    let base = sandbox.fhir_base_url().to_owned();
    say("FHIR base URL", &base);

    // http is only allowed because the sandbox is on loopback and we opt in explicitly.
    let config = ClientConfig::builder(&base)
        .redirect_uri(REDIRECT_URI)
        .scopes(APP_SCOPES)
        .allow_insecure_localhost(true)
        .build()?;

    step("1. Discovery: GET <base>/.well-known/smart-configuration");
    let anonymous = SmartClient::new(config.clone())?;
    let metadata = anonymous.server_metadata()?;
    say("capabilities", &metadata.capabilities.join(", "));
    say(
        "standalone launch",
        &metadata.supports_standalone_launch().to_string(),
    );
    say(
        "backend services",
        &metadata.supports_backend_services().to_string(),
    );
    say(
        "dynamic registration",
        &metadata.supports_dynamic_registration().to_string(),
    );
    let findings = metadata.compliance_findings();
    say("compliance findings", &findings.len().to_string());
    for finding in &findings {
        println!("      - {finding}");
    }

    step("2. Dynamic client registration of a public app (RFC 7591)");
    let app = anonymous.register_client(
        &ClientMetadata::new("Quickstart app")
            .redirect_uris([REDIRECT_URI])
            .grant_types(["authorization_code", "refresh_token"])
            .response_types(["code"])
            .token_endpoint_auth_method("none")
            .scope(APP_SCOPES.join(" ")),
        None,
        None,
    )?;
    say("client_id", &app.client_id);
    let client = SmartClient::new(config.with_client_id(&app.client_id))?;

    step("3. Standalone launch with PKCE (S256) and state");
    let request = client.authorization_url(AuthorizeParams::default())?;
    say("send the browser to", &shorten(request.url.as_str()));
    say("keep in the session", &format!("{:?}", request.pending));
    let callback = follow_like_a_browser(request.url.as_str())?;
    say("the server redirected to", &redact_query(&callback));

    step("4. Verify the callback (state, RFC 9207 iss), exchange the code, verify the id_token");
    let token = client.request_access_token(request.pending, &callback, CallOptions::new())?;
    show_token(&token);
    // The id_token's signature (the server's JWK Set), iss, aud, times and nonce were checked.
    let identity = token.identity.as_ref().ok_or("no verified id_token")?;
    let user = identity
        .fhir_user
        .as_ref()
        .ok_or("the id_token has no fhirUser")?;
    say("verified fhirUser", user.url().as_str());
    say(
        "  as a reference",
        &format!("{} ({})", user.reference(), user.resource_type()),
    );
    say(
        "  signed with",
        &format!(
            "{} key {}",
            identity.alg,
            identity.kid.as_deref().unwrap_or("-")
        ),
    );

    step("5. Refresh (the sandbox rotates refresh tokens: keep the new one)");
    let refresh = token.refresh_token.clone().ok_or("no refresh token")?;
    let refreshed = client.refresh_token(refresh, CallOptions::new())?;
    show_token(&refreshed);

    step("6. A session: keeps its token valid by itself, sends it only to the FHIR server");
    let request = client.authorization_url(AuthorizeParams::default())?;
    let callback = follow_like_a_browser(request.url.as_str())?;
    let value = client.request_session(request.pending, &callback, CallOptions::new())?;
    say("granted scopes", &value.scopes.to_string());
    say("session (Debug)", &shorten(&format!("{value:?}")));
    let patient = value
        .launch
        .patient
        .clone()
        .ok_or("no patient in context")?;
    let renewals = Arc::new(AtomicUsize::new(0));
    let counter = renewals.clone();
    let session = client
        .session(value)
        // Called with each renewed session: persist it here (the refresh token rotates).
        .on_change(move |renewed| {
            counter.fetch_add(1, Ordering::SeqCst);
            println!(
                "      (renewed: new access token, refresh token rotated: {})",
                renewed.refresh_token.is_some()
            );
        })
        .build()?;
    let read = session.get(&format!("Patient/{patient}"))?;
    say("GET Patient/<id>", &read.status().to_string());
    say("body", &shorten(&String::from_utf8_lossy(read.body())));
    println!("      ... 2.5 s later the access token has expired ...");
    std::thread::sleep(Duration::from_millis(2500));
    let read = session.get(&format!("Patient/{patient}"))?;
    say("GET Patient/<id> again", &read.status().to_string());
    say(
        "renewals so far",
        &renewals.load(Ordering::SeqCst).to_string(),
    );
    if renewals.load(Ordering::SeqCst) == 0 {
        return Err("the session should have refreshed its expired token".into());
    }
    say(
        "FHIR reads served",
        &sandbox.requests(Endpoint::FhirPatient).to_string(),
    );
    let elsewhere =
        safire_core::http::Request::get("http://127.0.0.1:9/collect").body(Vec::new())?;
    match session.send(elsewhere) {
        Err(refused) => say("to another origin", &refused.to_string()),
        Ok(_) => return Err("the token must not go to another origin".into()),
    }

    step("7. Register an ES384 backend client with the JWKS generated from its key");
    let key = PrivateKey::generate_es384(&mut OsRandom)?;
    let kid = "quickstart-backend-1";
    let jwk = key
        .public_jwk()
        .ok_or("built-in keys export their public JWK")?
        .with_kid(kid);
    say("public JWK", &serde_json::to_string(&jwk)?);
    let backend = anonymous.register_client(
        &ClientMetadata::new("Quickstart backend")
            .grant_types(["client_credentials"])
            .token_endpoint_auth_method("private_key_jwt")
            .scope("system/*.rs")
            .jwks(&Jwks::from(vec![jwk])),
        None,
        None,
    )?;
    say("client_id", &backend.client_id);
    say("private key", &format!("{key:?}"));

    step("8. Backend services: client_credentials with a signed JWT assertion");
    let service = SmartClient::new(
        config
            .with_client_id(&backend.client_id)
            .with_client_auth(ClientAuth::private_key_jwt(key, kid)),
    )?;
    let token = service.request_backend_token(CallOptions::new().scopes(["system/*.rs"]))?;
    show_token(&token);

    step("9. Introspect the token (RFC 7662), revoke it (RFC 7009), introspect again");
    let hint = Some(TokenTypeHint::AccessToken);
    let before = service.introspect_token(token.access_token.clone(), hint, CallOptions::new())?;
    say("active", &before.active.to_string());
    say("scope", before.scope.as_deref().unwrap_or("-"));
    service.revoke_token(token.access_token.clone(), hint, CallOptions::new())?;
    say("revoked", "yes");
    let after = service.introspect_token(token.access_token.clone(), hint, CallOptions::new())?;
    say("active", &after.active.to_string());
    if !before.active || after.active {
        return Err("introspection should say active before and inactive after revocation".into());
    }

    step("Done: every flow ran against the sandbox.");
    Ok(())
}

/// Does what a browser does with the sandbox's auto-approval: one GET, read the redirect.
fn follow_like_a_browser(url: &str) -> Result<String, Box<dyn Error>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent.get(url).call()?;
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or("the sandbox did not redirect")?;
    Ok(location.to_owned())
}

fn show_token(token: &TokenResponse) {
    say("access_token", &format!("{:?}", token.access_token));
    say("token_type", token.token_type.as_deref().unwrap_or("-"));
    say(
        "expires_in",
        &token.expires_in.map_or("-".into(), |s| format!("{s} s")),
    );
    say("scope", token.scope.as_deref().unwrap_or("-"));
    if let Some(patient) = &token.launch.patient {
        say("patient", patient);
    }
    if let Some(encounter) = &token.launch.encounter {
        say("encounter", encounter);
    }
    say(
        "refresh_token",
        if token.refresh_token.is_some() {
            "[REDACTED] (issued)"
        } else {
            "none"
        },
    );
}

fn step(title: &str) {
    println!("\n== {title}");
}

fn say(label: &str, value: &str) {
    println!("   {label:<22} {value}");
}

/// The callback with its parameter values hidden: the code is a credential.
fn redact_query(url: &str) -> String {
    match url.split_once('?') {
        None => url.to_owned(),
        Some((path, query)) => {
            let names: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
                .map(|(name, _)| format!("{name}=…"))
                .collect();
            format!("{path}?{}", names.join("&"))
        }
    }
}

/// Long URLs, cut for reading (the query carries one-time values anyway).
fn shorten(url: &str) -> String {
    if url.chars().count() <= 100 {
        url.to_owned()
    } else {
        format!("{}…", url.chars().take(100).collect::<String>())
    }
}
