//! Starting and stopping the oidc-provider test server (`tests/interop/server/server.mjs`).
//!
//! This file holds the constants and env knobs; [`builder`] configures a server,
//! [`provider`] runs one, [`node`] checks Node.js and installs the npm dependencies.

mod builder;
mod node;
mod provider;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use builder::{
    AccessTokenFormat, LaunchContext, ProviderBuilder, RefreshRotation, RegistrationMode,
};
pub use provider::OidcProvider;

/// Env flag: when `1`, [`OidcProvider::start_or_skip`] returns `Ok(None)` (tests print a
/// "skipped" line and pass) instead of starting Node.
pub const SKIP_ENV: &str = "SAFIRE_SKIP_INTEROP";
/// Env override for the server directory (default `tests/interop/server`), e.g. to try another
/// oidc-provider version side by side.
pub const SERVER_DIR_ENV: &str = "SAFIRE_INTEROP_SERVER_DIR";

/// Env flag: when `1`, every server prints its log tail to stderr when dropped (libtest shows
/// it for failed tests, and with `--nocapture`). Without it, only a panicking test prints it.
pub const LOG_ENV: &str = "SAFIRE_INTEROP_LOG";

/// The initial access token the harness configures (`REGISTRATION_IAT`) unless overridden.
pub const DEFAULT_INITIAL_ACCESS_TOKEN: &str = "safire-interop-iat";
/// The `redirect_uri` of the static clients. Nothing listens there: tests read the `Location`.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9999/callback";
/// Account used when a login does not name one (`DEFAULT_USER`).
pub const DEFAULT_USER: &str = "practitioner-1";
/// Patient put in context for `launch/patient` (`DEFAULT_PATIENT`).
pub const DEFAULT_PATIENT: &str = "pat-123";
/// Encounter put in context for `launch/encounter` (`DEFAULT_ENCOUNTER`).
pub const DEFAULT_ENCOUNTER: &str = "enc-456";

/// Clients configured statically in `server.mjs` (dynamic registration works too).
pub mod static_clients {
    /// Public client (`token_endpoint_auth_method=none`), authorization_code + refresh_token.
    pub const PUBLIC_APP: &str = "public-app";
    /// Confidential symmetric client (`client_secret_basic`), authorization_code + refresh_token.
    pub const CONFIDENTIAL_APP: &str = "confidential-app";
    /// Secret of [`CONFIDENTIAL_APP`].
    pub const CONFIDENTIAL_APP_SECRET: &str = "confidential-app-secret";
    /// Backend client (`client_secret_basic`), client_credentials only; may introspect any token.
    pub const BACKEND_SECRET: &str = "backend-secret";
    /// Secret of [`BACKEND_SECRET`].
    pub const BACKEND_SECRET_SECRET: &str = "backend-secret-secret";
}

/// Minimum Node.js version for the pinned oidc-provider 9.13.3 (`URL.parse`, `crypto.hash`).
const MIN_NODE: (u32, u32) = (20, 18);
const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Log lines kept per server (stdout + stderr).
const LOG_LINES: usize = 5000;
/// Every env knob `server.mjs` reads; cleared before spawning so the caller's environment
/// cannot change the server's behaviour behind the test's back.
const SERVER_ENV_KNOBS: &[&str] = &[
    "HOST",
    "PORT",
    "ISSUER",
    "FHIR_BASE",
    "EXTRA_AUDS",
    "AT_FORMAT",
    "REGISTRATION",
    "REGISTRATION_IAT",
    "INTERACTIONS",
    "DEFAULT_USER",
    "DEFAULT_PATIENT",
    "DEFAULT_ENCOUNTER",
    "PKCE",
    "ROTATE_RT",
    "AT_TTL",
    "CC_TTL",
    "CLIENTS_FILE",
    "CLIENTS_JSON",
    "QUIET",
    "ADAPTER_MAX_TOKENS",
    "AUTHORIZE_POST",
    "EXIT_ON_STDIN_EOF",
];

/// `true` when `SAFIRE_SKIP_INTEROP=1`.
pub fn skip_requested() -> bool {
    std::env::var(SKIP_ENV).is_ok_and(|v| v == "1")
}

/// The directory holding `server.mjs`, `package.json` and `package-lock.json`.
pub fn server_dir() -> PathBuf {
    match std::env::var_os(SERVER_DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("server"),
    }
}
