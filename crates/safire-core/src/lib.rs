//! # safire-core
//!
//! The sans-IO heart of Safire: SMART App Launch 2.2 and Backend Services, client side.
//!
//! Every operation is a [`Flow`]: a state machine that hands out `http::Request`s and consumes
//! `http::Response`s. No sockets, no async runtime, no clock, no OS randomness unless you pass
//! them in ([`Env`]). The blocking (`safire-ureq`) and async (`safire-hyper`) clients are thin
//! loops over these same flows; with any other HTTP client, drive them yourself.
//!
//! ## A complete standalone launch with a hand-written transport
//!
//! ```
//! use std::time::SystemTime;
//! use safire_core::{
//!     AuthorizeParams, CallOptions, ClientConfig, FlowFactory, Limits, OsRandom, run_blocking,
//!     http,
//! };
//!
//! // 1. Configure: the endpoints will be discovered.
//! let config = ClientConfig::builder("https://ehr.example/fhir")
//!     .client_id("my-app")
//!     .redirect_uri("https://app.example/callback")
//!     .scopes(["launch/patient", "openid", "fhirUser", "patient/*.rs"])
//!     .build()?;
//! let flows = FlowFactory::new(config);
//!
//! // 2. A transport: any function from request to response. Here, canned answers.
//! let send = |request: http::Request<Vec<u8>>| -> Result<http::Response<Vec<u8>>, safire_core::Error> {
//!     let body: &[u8] = match request.uri().path() {
//!         "/fhir/.well-known/smart-configuration" => br#"{
//!             "issuer": "https://ehr.example",
//!             "authorization_endpoint": "https://ehr.example/authorize",
//!             "token_endpoint": "https://ehr.example/token",
//!             "capabilities": ["launch-standalone", "client-public"],
//!             "code_challenge_methods_supported": ["S256"],
//!             "grant_types_supported": ["authorization_code"]
//!         }"#,
//!         "/token" => {
//!             let form = String::from_utf8(request.body().clone()).unwrap();
//!             assert!(form.contains("grant_type=authorization_code"));
//!             assert!(form.contains("code_verifier="));
//!             br#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600,
//!                  "scope":"launch/patient openid fhirUser patient/*.rs","patient":"123"}"#
//!         }
//!         other => panic!("unexpected request to {other}"),
//!     };
//!     Ok(http::Response::builder().status(200).body(body.to_vec()).unwrap())
//! };
//! let mut send = send;
//! let limits = Limits::default();
//!
//! // 3. Build the authorization request (discovers the endpoint first).
//! let request = run_blocking(
//!     flows.authorize(AuthorizeParams::default()),
//!     &limits, &mut OsRandom, SystemTime::now, &mut send,
//! )?;
//! // Redirect the browser to `request.url`; keep `request.pending` in the session.
//! let pending = request.pending;
//!
//! // 4. The browser comes back to the redirect URI.
//! let callback = format!(
//!     "https://app.example/callback?code=c-1&state={}&iss=https%3A%2F%2Fehr.example",
//!     pending.state()
//! );
//!
//! // 5. Verify the callback and exchange the code.
//! let exchange = flows.exchange_code(pending, &callback, CallOptions::new())?;
//! let token = run_blocking(exchange, &limits, &mut OsRandom, SystemTime::now, &mut send)?;
//! assert_eq!(token.launch.patient.as_deref(), Some("123"));
//! assert_eq!(format!("{:?}", token.access_token), "[REDACTED]");
//! # Ok::<(), safire_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(unreachable_pub)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub use http;
pub use url;

// The module tree is private; everything public is re-exported below, once.
mod assertion;
mod authorize;
mod cache;
mod client;
mod config;
mod discovery;
mod endpoint;
mod error;
mod finding;
mod flow;
mod identity;
mod introspection;
mod json;
mod launch_context;
mod lenient;
mod metadata;
mod oauth_error;
mod oidc;
mod operations;
mod pkce;
mod random;
mod redact;
mod redirect;
mod registration;
mod registration_management;
mod registration_response;
mod requests;
mod revocation;
pub mod scope;
mod secret;
mod session;
mod session_type;
mod store;
mod token;
mod token_hint;
mod token_response;

pub use assertion::{
    ClientAssertion, DEFAULT_ASSERTION_LIFETIME, Jwk, Jwks, JwsAlgorithm, MAX_ASSERTION_LIFETIME,
    PrivateKey, Signer, SigningBackend,
};
pub use authorize::{
    AuthorizationCode, AuthorizationMethod, AuthorizationRequest, AuthorizeFlow, AuthorizeParams,
    EhrLaunch, PendingAuthorization, escape_html,
};
pub use client::{FlowFactory, USER_AGENT};
pub use config::{
    BasicAuthEncoding, CallOptions, ClientAuth, ClientConfig, ClientConfigBuilder,
    DEFAULT_MAX_PENDING_AGE,
};
pub use discovery::{DiscoveryFlow, ServerEndpoint};
pub use endpoint::JWT_BEARER_ASSERTION_TYPE;
pub use error::{
    AuthError, AuthErrorKind, ConfigurationError, DiscoveryError, Error, ErrorSource,
    IdentityError, IntrospectionError, NetworkError, NetworkErrorKind, OAuthErrorFields,
    RegistrationError, RevocationError, RevocationErrorKind, SessionError, SessionErrorKind,
    TokenError,
};
pub use finding::{Finding, Severity};
pub use flow::{Driver, Env, Flow, Limits, Step, run_async, run_blocking};
pub use identity::{CodeExchangeFlow, DEFAULT_JWKS_LIFETIME, JwksAt, JwksCache, ServerKeysFlow};
pub use introspection::{Introspection, IntrospectionFlow};
pub use launch_context::{FhirContextItem, LaunchContext};
pub use metadata::{AssociatedEndpoint, SmartMetadata};
pub use oidc::{
    DEFAULT_CLOCK_SKEW, FhirUser, FhirUserError, IdTokenError, IdTokenValidation, JwksError,
    JwksRefreshPolicy, KeyType, MAX_JWKS_BYTES, MAX_JWKS_KEYS, MAX_JWS_BYTES, MIN_RSA_BITS,
    ResourceType, ServerJwks, ServerKey, VerifiedIdToken, VerifiedJws, VerifyAlgorithm,
    VerifyError, verify_id_token, verify_jws,
};
pub use random::{OsRandom, RandomSource, SeededRandom};
pub use redirect::{BearerPolicy, RedirectPolicy};
pub use registration::{ClientMetadata, RegistrationFlow};
pub use registration_management::RegistrationManagementFlow;
pub use registration_response::RegisteredClient;
pub use requests::{HttpRequest, HttpResponse, Operation};
pub use revocation::RevocationFlow;
pub use scope::{Permission, Permissions, ResourceScope, Scope, Scopes, ScopesBuilder};
pub use secret::{REDACTED, SecretString};
pub use session::{
    DEFAULT_REFRESH_MARGIN, Freshness, IdTokenSubject, MemoryStore, Renewal, Session, SessionFlow,
    SessionKind,
};
pub use store::{
    AsyncSessionStore, Lease, SessionStore, StoreError, StoreErrorKind, StoreFuture, Versioned,
};
pub use token::{DEFAULT_BACKEND_SCOPES, Grant, TokenFlow};
pub use token_hint::TokenTypeHint;
pub use token_response::{GrantType, TokenResponse};

/// What a transport (an HTTP client wrapped around the core) needs beyond the flows: the
/// shared client builder, the discovery cache, and the checks a transport must apply to
/// every request and response. Applications do not need this module.
pub mod transport {
    pub use crate::cache::{
        DEFAULT_METADATA_LIFETIME, FetchTicket, Lookup, MetadataCache, SharedFetch,
    };
    pub use crate::client::{BuildClient, ClientBuilder, ClientSettings, pem_certificates};
    pub use crate::config::is_loopback;
    pub use crate::error::url_for_message;
    pub use crate::flow::{
        body_too_large, call_timed_out, check_transport_security, clone_request, needs_discovery,
    };
    pub use crate::redirect::{authorized_next_hop, next_hop};
    pub use crate::session::cell::{Acquire, Current, Need, RenewTicket, SessionCell};
    pub use crate::session_type::bearer_request;
}

/// The protocol's building blocks as pure functions: response parsers, PKCE and client
/// credentials. For fuzzing, benchmarks and hand-written flows; the flows use them for you.
pub mod protocol {
    pub use crate::discovery::parse_discovery_response;
    pub use crate::endpoint::basic_authorization;
    pub use crate::error::server_text;
    pub use crate::introspection::parse_introspection_response;
    pub use crate::json::{field_names, parse_object};
    pub use crate::oauth_error::{oauth_error_from_object, parse_oauth_error};
    pub use crate::pkce::{Pkce, s256_challenge, validate_verifier};
    pub use crate::registration_management::parse_registration_management_response;
    pub use crate::revocation::parse_revocation_response;
    pub use crate::token::parse_token_response;
}
