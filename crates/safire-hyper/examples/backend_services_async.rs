//! SMART Backend Services with the async client: a `client_credentials` token with a signed
//! ES384 assertion, against a sandbox server started in-process (offline).
//!
//! ```sh
//! cargo run -p safire-hyper --example backend_services_async
//! ```
//!
//! Against a real server, replace the sandbox's base URL, client id, key and `kid` with the
//! ones your EHR registered (the key usually comes from a PEM file or a secret store).

use std::error::Error;

use safire_hyper::safire_core::PrivateKey;
use safire_hyper::{CallOptions, ClientAuth, ClientConfig, SmartClient};
use safire_sandbox::Sandbox;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    // The sandbox runs its own runtime on a background thread; it stops when dropped.
    // It pre-registers an ES384 backend client, with a fresh key, for `system/*.rs`.
    let sandbox = Sandbox::builder().start()?;
    let backend = &sandbox.clients().backend;
    let pem = backend
        .private_key_pem
        .as_deref()
        .ok_or("backend client has no key")?;
    let kid = backend.kid.as_deref().ok_or("backend client has no kid")?;

    // Parse the key once; every token request signs a fresh assertion with it.
    let key = PrivateKey::from_pem(pem)?;
    let config = ClientConfig::builder(sandbox.fhir_base_url())
        .client_id(&backend.client_id)
        .client_auth(ClientAuth::private_key_jwt(key, kid))
        // Plain http is allowed only to loopback, and only when asked for.
        .allow_insecure_localhost(true)
        .build()?;
    let client = SmartClient::new(config)?;

    // Discovers the token endpoint, signs the assertion, POSTs client_credentials.
    let token = client
        .request_backend_token(CallOptions::new().scopes(["system/*.rs"]))
        .await?;

    println!("server      {}", sandbox.fhir_base_url());
    println!("client_id   {}", backend.client_id);
    println!("token_type  {}", token.token_type.as_deref().unwrap_or("-"));
    println!("scope       {}", token.scope.as_deref().unwrap_or("-"));
    println!(
        "expires_in  {}",
        token.expires_in.map_or("-".into(), |s| format!("{s} s"))
    );
    // Use `token.access_token.expose()` as the Bearer value; never print or log it.
    if token.scope.as_deref() != Some("system/*.rs") {
        return Err("the sandbox granted an unexpected scope".into());
    }
    Ok(())
}
