//! A SMART standalone launch with the async client, against a sandbox server started
//! in-process (offline): authorization URL, the browser's round trip, then the code exchange.
//!
//! ```sh
//! cargo run -p safire-hyper --example standalone_launch_async
//! ```
//!
//! In a web application, step 1 is the login route (redirect the browser, keep `pending` in
//! the session) and step 3 the callback route. The sandbox approves every request at once, so
//! a single GET without following redirects plays the browser here.

use std::error::Error;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use safire_hyper::safire_core::url::Url;
use safire_hyper::{AuthorizeParams, CallOptions, ClientConfig, SmartClient};
use safire_sandbox::{DEFAULT_REDIRECT_URI, LaunchContext, Sandbox};

const PATIENT: &str = "example-patient-1";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let sandbox = Sandbox::builder()
        .launch_context(LaunchContext::new().patient(PATIENT))
        .start()?;
    // A pre-registered public client (PKCE, no secret) with the redirect URI below.
    let app = &sandbox.clients().public;
    let config = ClientConfig::builder(sandbox.fhir_base_url())
        .client_id(&app.client_id)
        .redirect_uri(DEFAULT_REDIRECT_URI)
        .scopes(["launch/patient", "patient/*.rs"])
        .allow_insecure_localhost(true)
        .build()?;
    let client = SmartClient::new(config)?;

    // 1. Discover the authorization endpoint and build the URL (PKCE S256, state, aud).
    let request = client.authorization_url(AuthorizeParams::default()).await?;
    println!("authorize   {}", without_query(request.url.as_str()));

    // 2. The browser: the user logs in and approves; the server redirects to the callback.
    let callback = browser_round_trip(request.url.as_str()).await?;
    println!("callback    {}", without_query(&callback));

    // 3. The callback: state and RFC 9207 `iss` are checked, then the code is exchanged
    //    with the PKCE verifier kept in `pending`.
    let token = client
        .request_access_token(request.pending, &callback, CallOptions::new())
        .await?;
    println!(
        "patient     {}",
        token.launch.patient.as_deref().unwrap_or("-")
    );
    println!("scope       {}", token.scope.as_deref().unwrap_or("-"));
    // Use `token.access_token.expose()` as the Bearer value; never print or log it.
    if token.launch.patient.as_deref() != Some(PATIENT) {
        return Err("the token response has no (or another) patient".into());
    }
    Ok(())
}

/// One plain-http GET (hyper's client never follows redirects): the sandbox answers 302 to
/// the redirect URI.
async fn browser_round_trip(authorize_url: &str) -> Result<String, Box<dyn Error>> {
    let browser = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = browser.get(authorize_url.parse()?).await?;
    let location = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .ok_or("the authorization server did not redirect")?;
    Ok(location.to_owned())
}

/// The URL with its query parameters' values hidden: codes and states are one-time secrets.
fn without_query(url: &str) -> String {
    let Ok(parsed) = Url::parse(url) else {
        return "(not a URL)".into();
    };
    let names: Vec<String> = parsed
        .query_pairs()
        .map(|(name, _)| format!("{name}=…"))
        .collect();
    let mut shown = parsed.clone();
    shown.set_query(None);
    if names.is_empty() {
        shown.to_string()
    } else {
        format!("{shown}?{}", names.join("&"))
    }
}
