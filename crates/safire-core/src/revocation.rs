//! Token revocation (RFC 7009): an app logging out revokes its refresh token (which, at most
//! servers, also ends the access tokens issued with it) or its access token.
//!
//! The request is the token + hint part shared with introspection, authenticated like a
//! token request (the shared [`EndpointRequest`](crate::endpoint::EndpointRequest)). Any
//! 2xx is success whatever the body (RFC 7009 §2.2: an unknown or already invalid token is
//! not an error); `unsupported_token_type` is a typed [`RevocationError`].

use crate::error::{Error, RevocationError};
use crate::flow::{Env, Flow, Step};
use crate::oauth_error::parse_oauth_error_scrubbed;
use crate::requests::HttpResponse;
use crate::token_hint::{Target, TokenHintRequest, delegate_flow_to_request, token_hint_methods};

/// Parses the response to a revocation: any 2xx is success, whatever the body; otherwise a
/// [`RevocationError`] whose kind is
/// [`UnsupportedTokenType`](crate::RevocationErrorKind::UnsupportedTokenType) for that OAuth
/// error. Every exact occurrence of one of `secrets` (the token, the request's credentials) in
/// the server's text is scrubbed.
///
/// ```
/// use safire_core::{RevocationErrorKind, protocol::parse_revocation_response};
/// assert!(parse_revocation_response(200, b"<html>whatever</html>", &[]).is_ok());
/// let err = parse_revocation_response(400, br#"{"error":"unsupported_token_type"}"#, &[]).unwrap_err();
/// assert_eq!(err.kind, RevocationErrorKind::UnsupportedTokenType);
/// ```
pub fn parse_revocation_response(
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> Result<(), RevocationError> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    Err(RevocationError::new(parse_oauth_error_scrubbed(
        status, body, secrets,
    )))
}

/// Revokes a token. Output: `()`.
///
/// The endpoint is the configured `revocation_endpoint`, else the discovered one.
///
/// ```
/// # use safire_core::*;
/// # use std::time::SystemTime;
/// let config = ClientConfig::builder("https://ehr.example/fhir")
///     .client_id("app")
///     .revocation_endpoint("https://ehr.example/revoke")
///     .build()?;
/// let mut flow = RevocationFlow::new(config.into(), "rt-1")
///     .token_type_hint(TokenTypeHint::RefreshToken);
/// let mut random = SeededRandom::new(1);
/// let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
/// let Step::Send(request) = flow.start(&mut env)? else { unreachable!() };
/// assert_eq!(request.body(), b"token=rt-1&token_type_hint=refresh_token&client_id=app");
/// # Ok::<(), safire_core::Error>(())
/// ```
#[derive(Debug)]
pub struct RevocationFlow {
    request: TokenHintRequest,
}

impl RevocationFlow {
    token_hint_methods! {
        /// Revocation of `token` at `config`'s server.
        new => Target::REVOCATION;
        /// Per-call overrides (credentials, extra parameters).
        with_options;
    }
}

impl Flow for RevocationFlow {
    type Output = ();

    delegate_flow_to_request!();

    fn on_response(
        &mut self,
        response: HttpResponse,
        _env: &mut Env<'_>,
    ) -> Result<Step<()>, Error> {
        let secrets = self.request.secrets();
        parse_revocation_response(response.status().as_u16(), response.body(), &secrets)?;
        Ok(Step::Done(()))
    }
}

#[cfg(test)]
mod tests;
