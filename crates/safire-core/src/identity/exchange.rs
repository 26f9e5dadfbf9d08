//! [`CodeExchangeFlow`]: the authorization-code exchange (or a session's refresh), then the
//! id_token verified.

use std::sync::Arc;
use std::time::SystemTime;

use url::Url;

use super::{JwksCache, jwks_request, parse_jwks_response};
use crate::authorize::AuthorizationCode;
use crate::config::{CallOptions, ClientConfig};
use crate::discovery::ServerEndpoint;
use crate::error::{Error, IdentityError};
use crate::finding::Finding;
use crate::flow::{Env, Flow, Step};
use crate::metadata::SmartMetadata;
use crate::oidc::{IdTokenError, IdTokenValidation, ServerJwks, VerifiedIdToken, verify_id_token};
use crate::requests::HttpResponse;
use crate::secret::SecretString;
use crate::session::{IdTokenSubject, Session};
use crate::token::TokenFlow;
use crate::token_response::TokenResponse;

const TOKEN_ONLY: &[ServerEndpoint] = &[ServerEndpoint::Token];
const TOKEN_AND_KEYS: &[ServerEndpoint] = &[ServerEndpoint::Token, ServerEndpoint::Jwks];

/// Where the exchange is.
enum Phase {
    /// The token request is out (or about to be).
    Token,
    /// The token response is in; the JWK Set request to `uri` is out.
    Keys {
        token: Box<TokenResponse>,
        uri: String,
    },
    /// Finished.
    Done,
}

/// The authorization-code exchange with the id_token verified: the token request (a
/// [`TokenFlow`]), then, when the response carries an `id_token`, the server's JWK Set from
/// the client's [`JwksCache`] or fetched (once more when the token names an unknown `kid`,
/// within the cache's rate limit), and [`verify_id_token`] with the authorization server's
/// issuer, the client id, the `nonce` the authorization request sent and the configured
/// clock skew. Output: the [`TokenResponse`] with [`identity`](TokenResponse::identity) set.
///
/// - A token that fails verification is an [`Error::Identity`] naming the failed check; the
///   token response is not returned.
/// - `openid` granted but no `id_token`: a finding on the response, no error.
/// - With `verify_id_tokens(false)` in the configuration, or without `openid` requested, it
///   is the plain exchange.
///
/// Built by [`FlowFactory::exchange_code`](crate::FlowFactory::exchange_code). A session's
/// refresh ([`FlowFactory::renew_session`](crate::FlowFactory::renew_session)) runs the same
/// flow over the refresh request: an id_token in the refresh response is verified the same
/// way (no `nonce` is expected: none was sent) and must name the session's original `iss`
/// and `sub` (OpenID Connect Core §12.2), else [`IdentityError::IdentityChanged`]; no
/// id_token is normal there. A session that never had `openid` keeps no id_token a refresh
/// returns (it could not be checked against anything).
pub struct CodeExchangeFlow {
    token: TokenFlow,
    config: Arc<ClientConfig>,
    cache: JwksCache,
    nonce: Option<SecretString>,
    expected_issuers: Vec<String>,
    openid_requested: bool,
    /// A refresh: the user the session's id_token named, when known.
    refresh: Option<Option<IdTokenSubject>>,
    metadata: Option<Arc<SmartMetadata>>,
    phase: Phase,
}

impl std::fmt::Debug for CodeExchangeFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeExchangeFlow")
            .field("openid_requested", &self.openid_requested)
            .field("nonce", &self.nonce)
            .field("expected_issuers", &self.expected_issuers)
            .finish_non_exhaustive()
    }
}

impl CodeExchangeFlow {
    /// Exchanges `code` (from a verified callback) under `config`, verifying the id_token
    /// with keys from `cache`.
    pub fn new(
        config: Arc<ClientConfig>,
        code: AuthorizationCode,
        options: CallOptions,
        cache: JwksCache,
    ) -> Self {
        let nonce = code.nonce.clone();
        let expected_issuers = code.expected_issuers.clone();
        let openid_requested = code.requested_scopes.iter().any(|s| s == "openid");
        Self {
            token: TokenFlow::authorization_code(config.clone(), code).with_options(options),
            config,
            cache,
            nonce,
            expected_issuers,
            openid_requested,
            refresh: None,
            metadata: None,
            phase: Phase::Token,
        }
    }

    /// A refresh of `session` (`token`, its refresh request) whose id_token, if any, must
    /// verify and name the session's original user.
    pub(crate) fn refresh(
        config: Arc<ClientConfig>,
        token: TokenFlow,
        session: &Session,
        cache: JwksCache,
    ) -> Self {
        let original = session.original_subject();
        let openid_requested = original.is_some()
            || session.id_token.is_some()
            || session
                .scopes
                .iter()
                .any(|s| *s == crate::scope::Scope::OpenId);
        Self {
            token,
            config,
            cache,
            nonce: None,
            expected_issuers: Vec::new(),
            openid_requested,
            refresh: Some(original),
            metadata: None,
            phase: Phase::Token,
        }
    }

    /// The user a refresh's id_token must name.
    fn original(&self) -> Option<&IdTokenSubject> {
        self.refresh.as_ref().and_then(Option::as_ref)
    }

    /// Whether an id_token is expected and will be verified.
    fn verifying(&self) -> bool {
        self.openid_requested && self.config.verifies_id_tokens()
    }

    /// The authorization server issuer: configured, else discovered, else the one the
    /// pending authorization knew.
    fn issuer(&self) -> Option<&str> {
        self.original()
            .map(|original| original.iss.as_str())
            .or_else(|| self.config.authorization_server_issuer())
            .or_else(|| self.metadata.as_deref().and_then(|m| m.issuer.as_deref()))
            .or_else(|| self.expected_issuers.first().map(String::as_str))
    }

    fn verify(
        &self,
        id_token: &str,
        jwks: &ServerJwks,
        now: SystemTime,
    ) -> Result<VerifiedIdToken, Error> {
        let issuer = self.issuer().ok_or(IdentityError::IssuerUnknown)?;
        let client_id = self.config.require_client_id()?;
        let mut validation = IdTokenValidation::new(issuer, client_id, now)
            .with_skew(self.config.id_token_clock_skew());
        if let Some(nonce) = &self.nonce {
            validation = validation.with_nonce(nonce.expose());
        }
        if let Ok(base) = Url::parse(self.config.base_url()) {
            validation = validation.with_fhir_base(base);
        }
        let verified = verify_id_token(id_token, jwks, &validation);
        let Some(original) = self.original() else {
            return Ok(verified?);
        };
        let changed = |claim| IdentityError::IdentityChanged { claim };
        match verified {
            Err(IdTokenError::IssuerMismatch { .. }) => Err(changed("iss").into()),
            Ok(identity) if identity.sub != original.sub => Err(changed("sub").into()),
            other => Ok(other?),
        }
    }

    /// The token response is in: verify its id_token, or ask for the keys to do it.
    fn after_token(
        &mut self,
        mut token: TokenResponse,
        now: SystemTime,
    ) -> Result<Step<TokenResponse>, Error> {
        if self.refresh.is_some() && !self.verifying() && self.config.verifies_id_tokens() {
            // Nothing to check it against: an id_token is not taken unverified.
            if token.id_token.take().is_some() {
                token.findings.push(Finding::warning(
                    Some("id_token"),
                    "OpenID Connect: the refresh returned an id_token for a session without \
                     'openid'; it was not verified and is not kept",
                ));
            }
        }
        let Some(id_token) = token.id_token.as_ref() else {
            let granted = token
                .scope
                .as_deref()
                .is_none_or(|scope| scope.split(' ').any(|s| s == "openid"));
            if self.openid_requested && granted && self.refresh.is_none() {
                token.findings.push(Finding::warning(
                    Some("id_token"),
                    "OpenID Connect: 'openid' was granted but the token response has no \
                     id_token, so the user's identity is unknown",
                ));
            }
            return self.finish(token);
        };
        if !self.verifying() {
            return self.finish(token);
        }
        let uri = ServerEndpoint::Jwks.resolve(&self.config, self.metadata.as_deref())?;
        if let Some(jwks) = self.cache.get(&uri, now) {
            let verified = self.verify(id_token.expose(), &jwks, now);
            match verified {
                Ok(identity) => {
                    token.identity = Some(identity);
                    return self.finish(token);
                }
                // Key rotation: one fresh set, unless one was fetched within the interval.
                Err(Error::Identity(e))
                    if matches!(&*e, IdentityError::Refused(IdTokenError::Jws(v)) if v.is_unknown_kid())
                        && self.cache.claim_refetch(now) => {}
                Err(e) => return Err(e),
            }
        }
        let request = jwks_request(&uri)?;
        self.phase = Phase::Keys {
            token: Box::new(token),
            uri,
        };
        Ok(Step::Send(request))
    }

    fn finish(&mut self, token: TokenResponse) -> Result<Step<TokenResponse>, Error> {
        self.phase = Phase::Done;
        Ok(Step::Done(token))
    }
}

impl Flow for CodeExchangeFlow {
    type Output = TokenResponse;

    fn config(&self) -> Option<&ClientConfig> {
        Some(&self.config)
    }

    fn endpoints(&self) -> &[ServerEndpoint] {
        if self.verifying() {
            TOKEN_AND_KEYS
        } else {
            TOKEN_ONLY
        }
    }

    fn needs_metadata(&self) -> bool {
        self.token.needs_metadata()
            || (self.verifying()
                && self.config.authorization_server_issuer().is_none()
                && self.expected_issuers.is_empty()
                && self.original().is_none())
    }

    fn preflight(&self) -> Result<(), Error> {
        self.token.preflight()
    }

    fn provide_metadata(&mut self, metadata: Arc<SmartMetadata>) {
        self.metadata = Some(metadata.clone());
        self.token.provide_metadata(metadata);
    }

    fn start(&mut self, env: &mut Env<'_>) -> Result<Step<TokenResponse>, Error> {
        self.token.start(env)
    }

    fn on_response(
        &mut self,
        response: HttpResponse,
        env: &mut Env<'_>,
    ) -> Result<Step<TokenResponse>, Error> {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Token => {
                self.phase = Phase::Token;
                match self.token.on_response(response, env)? {
                    Step::Send(request) => Ok(Step::Send(request)),
                    Step::Done(token) => self.after_token(token, env.now),
                }
            }
            Phase::Keys { mut token, uri } => {
                let jwks = Arc::new(parse_jwks_response(&uri, &response)?);
                self.cache.store(&uri, jwks.clone(), env.now);
                let Some(id_token) = token.id_token.as_ref() else {
                    return Err(Error::Usage(
                        "CodeExchangeFlow fetched keys for no id_token",
                    ));
                };
                let identity = self.verify(id_token.expose(), &jwks, env.now)?;
                token.identity = Some(identity);
                Ok(Step::Done(*token))
            }
            Phase::Done => Err(Error::Usage(
                "CodeExchangeFlow got a response after it finished",
            )),
        }
    }
}
