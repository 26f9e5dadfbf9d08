//! # safire-core
//!
//! The sans-IO heart of Safire: SMART App Launch 2.2 and Backend Services, client side.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
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

pub mod error;
pub mod random;
pub mod secret;

pub use error::{
    AuthError, AuthErrorKind, ConfigurationError, DiscoveryError, Error, ErrorSource, NetworkError,
    NetworkErrorKind, OAuthErrorFields, RegistrationError, TokenError,
};
pub use random::{OsRandom, RandomSource, SeededRandom};
pub use secret::SecretString;
