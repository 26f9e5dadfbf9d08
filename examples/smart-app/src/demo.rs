//! The demo setup: the app configured for a sandbox running in this process.

use std::io;
use std::net::SocketAddr;
use std::path::Path;

use safire_sandbox::Sandbox;

use crate::config::{AppConfig, ServerConfig, SigningKeyConfig};

/// The `kid` the app publishes for the sandbox client's key.
pub const DEMO_SERVER: &str = "Safire sandbox";

/// A configuration for `sandbox`'s pre-registered `private_key_jwt` client (ES384): its private
/// key is written to `key_dir` (mode 0600 on Unix) and named as the app's signing key, so the
/// app's JWKS publishes the key the sandbox has registered. The app is reached at
/// `http://{listen}`.
pub fn sandbox_config(
    sandbox: &Sandbox,
    listen: SocketAddr,
    key_dir: &Path,
) -> io::Result<AppConfig> {
    let client = &sandbox.clients().asymmetric;
    let (Some(pem), Some(kid)) = (&client.private_key_pem, &client.kid) else {
        return Err(io::Error::other(
            "the sandbox's asymmetric client has no key",
        ));
    };
    std::fs::create_dir_all(key_dir)?;
    let path = key_dir.join("sandbox-client.pem");
    write_private(&path, pem)?;
    let public_url = url::Url::parse(&format!("http://{listen}"))
        .map_err(|e| io::Error::other(format!("listen address: {e}")))?;
    let fhir_base = url::Url::parse(sandbox.fhir_base_url())
        .map_err(|e| io::Error::other(format!("sandbox base URL: {e}")))?;
    Ok(AppConfig {
        listen,
        public_url,
        signing_keys: vec![SigningKeyConfig {
            kid: kid.clone(),
            path,
        }],
        servers: vec![ServerConfig {
            name: DEMO_SERVER.into(),
            fhir_base,
            client_id: client.client_id.clone(),
            client_secret: None,
            signing_key: Some(kid.clone()),
            scopes: None,
        }],
    })
}

fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    io::Write::write_all(&mut options.open(path)?, contents.as_bytes())
}
