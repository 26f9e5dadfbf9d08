//! # safire-core
//!
//! The sans-IO heart of Safire: SMART App Launch 2.2 and Backend Services, client side.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Errors carry structured OAuth fields; they are built on cold paths next to network I/O,
// so their size costs nothing measurable and boxing would only hurt ergonomics.
#![allow(clippy::result_large_err)]
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

pub mod assertion;
pub mod authorize;
pub mod client;
pub mod config;
pub mod discovery;
pub mod error;
pub mod flow;
pub mod json;
pub mod metadata;
pub mod oauth_error;
pub mod pkce;
pub mod random;
pub mod redirect;
pub mod registration;
pub mod registration_response;
mod requests;
pub mod secret;
pub mod token;
pub mod token_response;

pub use assertion::{ClientAssertion, JwsAlgorithm, Signer};
pub use authorize::{
    AuthorizationCode, AuthorizationMethod, AuthorizationRequest, AuthorizeFlow, AuthorizeParams,
    EhrLaunch, PendingAuthorization,
};
pub use client::{FlowFactory, USER_AGENT};
pub use config::{BasicAuthEncoding, CallOptions, ClientAuth, ClientConfig, ClientConfigBuilder};
pub use discovery::DiscoveryFlow;
pub use error::{
    AuthError, AuthErrorKind, ConfigurationError, DiscoveryError, Error, ErrorSource, NetworkError,
    NetworkErrorKind, OAuthErrorFields, RegistrationError, TokenError,
};
pub use flow::{
    Driver, Env, Flow, HttpRequest, HttpResponse, Limits, Operation, Step, run_blocking,
};
pub use metadata::SmartMetadata;
pub use random::{OsRandom, RandomSource, SeededRandom};
pub use registration::{ClientMetadata, RegistrationFlow};
pub use registration_response::RegisteredClient;
pub use secret::SecretString;
pub use token::{Grant, TokenFlow};
pub use token_response::{TokenFlowKind, TokenResponse};
