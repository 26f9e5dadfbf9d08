//! Interop test harness for Safire: a real authorization server (panva's
//! [oidc-provider](https://github.com/panva/node-oidc-provider), SMART-flavoured by
//! `tests/interop/server/server.mjs`) on loopback, plus the bits of "browser" a test needs.
//!
//! ```no_run
//! use safire_interop::{OidcProvider, approve, callback_params, HarnessError};
//!
//! # fn t() -> Result<(), HarnessError> {
//! // Ok(None) + a "skipped: SAFIRE_SKIP_INTEROP=1" line when the flag is set.
//! let Some(op) = OidcProvider::start_or_skip()? else { return Ok(()) };
//! let discovery = op.http().get(&op.smart_configuration_url())?.expect_json(200, "discovery")?;
//! let authorization_url = "..."; // built by the client under test from `discovery`
//! let callback = approve(authorization_url, "dr-who")?; // <redirect_uri>?code=…&state=…&iss=…
//! let code = &callback_params(&callback)?["code"];
//! # let _ = (discovery, code); Ok(()) }
//! ```
//!
//! * [`OidcProvider`]: starts `node server.mjs` (after a one-time, cross-process-locked
//!   `npm ci`) on an ephemeral port, reads its `READY <issuer> fhir_base=<url>` line, and stops
//!   it on drop. Each test can own one (start-up ≈ 0.4 s idle, up to ~1.8 s on a busy
//!   2-core machine), or use the per-process [`OidcProvider::shared`] instance.
//! * [`approve`] / [`deny`] / [`approve_post`] / [`Browser`]: browserless login + consent.
//! * [`HttpClient`]: a small blocking HTTP client (no redirects, optional cookie jar) for
//!   plain-HTTP assertions.
//!
//! See `tests/interop/README.md` for the server's behaviour and its gotchas.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod browser;
mod error;
pub mod http;
mod server;

pub use browser::{
    AuthorizationOutcome, Browser, Decision, approve, approve_post, callback_params, deny,
    deny_post,
};
pub use error::HarnessError;
pub use http::{HttpClient, HttpRequest, HttpResponse};
pub use server::{
    AccessTokenFormat, DEFAULT_ENCOUNTER, DEFAULT_INITIAL_ACCESS_TOKEN, DEFAULT_PATIENT,
    DEFAULT_USER, LOG_ENV, LaunchContext, OidcProvider, ProviderBuilder, REDIRECT_URI,
    RefreshRotation, RegistrationMode, SERVER_DIR_ENV, SKIP_ENV, server_dir, skip_requested,
    static_clients,
};
