//! Who the user is, as flows: the server's JWK Set fetched through the driver and cached
//! ([`ServerKeysFlow`], [`JwksCache`]), and the code exchange that verifies the id_token it
//! receives ([`CodeExchangeFlow`]).
//!
//! The verification itself is pure ([`verify_id_token`](crate::verify_id_token)); these flows
//! add the network steps around it: find `jwks_uri` (configured, else the discovered SMART
//! configuration or issuer metadata), fetch the set once, parse it once, keep it for the
//! cache's lifetime, and fetch it again when a token names an unknown `kid` (key rotation) —
//! at most once per [`JwksRefreshPolicy::min_interval`], so a stream of made-up `kid`s cannot
//! turn the client into a request amplifier.

mod cache;
mod exchange;
mod keys;

#[cfg(test)]
mod tests;

pub use cache::{DEFAULT_JWKS_LIFETIME, JwksAt, JwksCache};
pub use exchange::CodeExchangeFlow;
pub use keys::ServerKeysFlow;

use http::Method;

use crate::error::{Error, IdentityError};
use crate::oidc::ServerJwks;
use crate::requests::{self, HttpRequest, HttpResponse, Operation};

#[cfg(doc)]
use crate::oidc::JwksRefreshPolicy;

/// The GET of the JWK Set at `uri`.
fn jwks_request(uri: &str) -> Result<HttpRequest, Error> {
    requests::build(Method::GET, uri, Operation::Jwks, None, None, Vec::new())
}

/// A 2xx JWK Set, parsed once into verifying keys; anything else is an
/// [`IdentityError::Jwks`].
fn parse_jwks_response(uri: &str, response: &HttpResponse) -> Result<ServerJwks, IdentityError> {
    let status = response.status();
    let unusable = |status: Option<u16>, reason: Option<String>| IdentityError::Jwks {
        endpoint: crate::error::url_for_message(uri),
        status,
        reason,
    };
    if !status.is_success() {
        return Err(unusable(Some(status.as_u16()), None));
    }
    ServerJwks::parse(response.body()).map_err(|e| unusable(None, Some(e.to_string())))
}
