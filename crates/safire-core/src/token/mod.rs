//! Token requests: authorization-code exchange, refresh, and backend services
//! (`client_credentials`), with client authentication applied here, never in a transport.

use std::sync::Arc;

use crate::authorize::AuthorizationCode;
use crate::config::{BasicAuthEncoding, CallOptions, ClientAuth, ClientConfig};
use crate::discovery::ServerEndpoint;
use crate::endpoint::{
    AuthRequirement, EndpointRequest, ResolvedAuth, form_urlencode, resolve_auth,
};
use crate::error::{AuthError, AuthErrorKind, Error, TokenError};
use crate::flow::{Env, Flow, Step};
use crate::metadata::SmartMetadata;
use crate::oauth_error::parse_oauth_error;
use crate::requests::{self, HttpRequest, HttpResponse, Operation};
use crate::secret::SecretString;
use crate::token_response::{GrantType, TokenResponse};

/// Token request parameters that Safire sets and [`CallOptions::extra_param`] may not.
const RESERVED_PARAMS: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
];

/// Scopes a backend services request asks for when none are configured or given.
pub const DEFAULT_BACKEND_SCOPES: &[&str] = &["system/*.rs"];

/// What is being exchanged for a token.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Grant {
    /// `authorization_code` with its PKCE verifier.
    AuthorizationCode(AuthorizationCode),
    /// `refresh_token`, optionally narrowing scopes via [`CallOptions::scopes`].
    RefreshToken(SecretString),
    /// `client_credentials` (SMART Backend Services): a signed assertion, or the client
    /// secret for servers whose system accounts use one.
    ClientCredentials,
}

impl Grant {
    /// The `grant_type` this grant sends.
    ///
    /// ```
    /// use safire_core::{Grant, GrantType};
    /// assert_eq!(Grant::ClientCredentials.grant_type(), GrantType::ClientCredentials);
    /// ```
    pub fn grant_type(&self) -> GrantType {
        match self {
            Grant::AuthorizationCode(_) => GrantType::AuthorizationCode,
            Grant::RefreshToken(_) => GrantType::RefreshToken,
            Grant::ClientCredentials => GrantType::ClientCredentials,
        }
    }

    fn auth_requirement(&self) -> AuthRequirement {
        match self {
            Grant::ClientCredentials => AuthRequirement::Confidential,
            _ => AuthRequirement::Configured,
        }
    }
}

/// A token request as a flow. Output: [`TokenResponse`].
///
/// ```
/// # use safire_core::*;
/// # use std::time::SystemTime;
/// let config = ClientConfig::builder("https://ehr.example/fhir")
///     .client_id("app")
///     .token_endpoint("https://ehr.example/token")
///     .build()?;
/// let mut flow = TokenFlow::refresh(config.into(), "rt-1");
/// let mut random = SeededRandom::new(1);
/// let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
/// let Step::Send(request) = flow.start(&mut env)? else { unreachable!() };
/// assert_eq!(request.body(), b"grant_type=refresh_token&refresh_token=rt-1&client_id=app");
/// # Ok::<(), safire_core::Error>(())
/// ```
pub struct TokenFlow {
    config: Arc<ClientConfig>,
    grant: Grant,
    options: CallOptions,
    metadata: Option<Arc<SmartMetadata>>,
}

impl TokenFlow {
    /// A flow for `grant`.
    pub fn new(config: Arc<ClientConfig>, grant: Grant) -> Self {
        Self {
            config,
            grant,
            options: CallOptions::default(),
            metadata: None,
        }
    }

    /// Exchanges the code from a verified callback.
    pub fn authorization_code(config: Arc<ClientConfig>, code: AuthorizationCode) -> Self {
        Self::new(config, Grant::AuthorizationCode(code))
    }

    /// Refreshes with `refresh_token`.
    pub fn refresh(config: Arc<ClientConfig>, refresh_token: impl Into<SecretString>) -> Self {
        Self::new(config, Grant::RefreshToken(refresh_token.into()))
    }

    /// A backend services (`client_credentials`) request.
    pub fn backend_services(config: Arc<ClientConfig>) -> Self {
        Self::new(config, Grant::ClientCredentials)
    }

    /// Per-call overrides (secret, key and kid, scopes).
    pub fn with_options(mut self, options: CallOptions) -> Self {
        self.options = options;
        self
    }

    pub(crate) fn scopes(&self) -> Option<Vec<String>> {
        match &self.grant {
            Grant::AuthorizationCode(_) => None,
            Grant::RefreshToken(_) => self.options.scopes.clone(),
            Grant::ClientCredentials => Some(
                self.options
                    .scopes
                    .clone()
                    .filter(|s| !s.is_empty())
                    .or_else(|| Some(self.config.scopes().to_vec()).filter(|s| !s.is_empty()))
                    .unwrap_or_else(|| {
                        DEFAULT_BACKEND_SCOPES
                            .iter()
                            .map(|s| (*s).to_owned())
                            .collect()
                    }),
            ),
        }
    }

    /// A code from an authorization started longer ago than the configured maximum age is
    /// not redeemed: the user left, or the pending value was replayed from storage.
    fn check_pending_age(&self, now: std::time::SystemTime) -> Result<(), AuthError> {
        let Grant::AuthorizationCode(code) = &self.grant else {
            return Ok(());
        };
        let Some(started_at) = code.started_at else {
            return Ok(());
        };
        let now = now
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let max_age = self.config.max_pending_age();
        if now.saturating_sub(started_at) > max_age.as_secs() {
            return Err(AuthError::new(
                AuthErrorKind::PendingExpired,
                format!(
                    "the pending authorization was started more than {} s ago (the maximum \
                     age, ClientConfigBuilder::max_pending_age); start a new authorization",
                    max_age.as_secs()
                ),
            ));
        }
        Ok(())
    }

    /// What an absent `scope` in the response means: the scope asked for, when known (a
    /// refresh without narrower scopes asked for the original grant, which the session knows).
    fn requested_scope(&self) -> Option<String> {
        let scopes = match &self.grant {
            Grant::AuthorizationCode(code) => code.requested_scopes.clone(),
            _ => self.scopes()?,
        };
        Some(scopes.join(" ")).filter(|s| !s.is_empty())
    }

    /// Why an `invalid_client` may have happened to RFC 6749 §2.3.1-encoded Basic
    /// credentials: when the encoding changed the id or secret, a server that does not
    /// URL-decode them (a common deviation) refuses them. Never names a credential.
    fn basic_encoding_hint(&self) -> Option<&'static str> {
        let ClientAuth::ClientSecretBasic {
            secret,
            encoding: BasicAuthEncoding::FormUrlEncoded,
        } = self.config.client_auth()
        else {
            return None;
        };
        let secret = self.options.client_secret.as_ref().or(secret.as_ref())?;
        let client_id = self.config.client_id()?;
        let changed = |value: &str| form_urlencode(value) != value;
        (changed(client_id) || changed(secret.expose())).then_some(
            "the client id or secret has characters that the RFC 6749 §2.3.1 form-encoding of \
             Basic credentials changes; if this server does not URL-decode them, authenticate \
             with ClientAuth::client_secret_basic_raw (or client_secret_post where supported)",
        )
    }

    fn resolve_auth(&self) -> Result<ResolvedAuth, Error> {
        Ok(resolve_auth(
            &self.config,
            &self.options,
            self.grant.auth_requirement(),
        )?)
    }

    fn token_request(
        &self,
        auth: &ResolvedAuth,
        endpoint: &str,
        env: &mut Env<'_>,
    ) -> Result<HttpRequest, Error> {
        let scope = self.scopes().map(|s| s.join(" "));
        let mut form: Vec<(&str, &str)> = Vec::with_capacity(8);
        form.push(("grant_type", self.grant.grant_type().as_str()));
        match &self.grant {
            Grant::AuthorizationCode(code) => {
                form.push(("code", code.code.expose()));
                form.push(("redirect_uri", &code.redirect_uri));
                form.push(("code_verifier", code.code_verifier.expose()));
            }
            Grant::RefreshToken(token) => form.push(("refresh_token", token.expose())),
            Grant::ClientCredentials => {}
        }
        if let Some(scope) = &scope {
            form.push(("scope", scope));
        }
        EndpointRequest {
            config: &self.config,
            options: &self.options,
            auth,
            endpoint,
            assertion_audience: None,
            operation: Operation::Token,
            reserved: RESERVED_PARAMS,
            metadata: self.metadata.as_deref(),
        }
        .build(form, env)
    }
}

/// Parses a token endpoint response: 2xx → [`TokenResponse`], otherwise a [`TokenError`]
/// carrying the OAuth error fields.
pub fn parse_token_response(
    response: &HttpResponse,
    received_at: std::time::SystemTime,
) -> Result<TokenResponse, TokenError> {
    let status = response.status();
    if !requests::is_success(status) {
        return Err(TokenError {
            oauth: parse_oauth_error(status.as_u16(), response.body()),
            received_fields: Vec::new(),
            detail: None,
        });
    }
    TokenResponse::parse(status.as_u16(), response.body(), received_at)
}

impl Flow for TokenFlow {
    type Output = TokenResponse;

    fn config(&self) -> Option<&ClientConfig> {
        Some(&self.config)
    }

    fn endpoints(&self) -> &[ServerEndpoint] {
        &[ServerEndpoint::Token]
    }

    /// Several signing keys need the server's signing algorithms to choose among them
    /// ([`ClientAuth::private_key_jwt_keys`]), unless a key is given per call.
    fn needs_metadata(&self) -> bool {
        self.config.client_auth().has_several_keys()
            && self.options.signer.is_none()
            && self.options.kid.is_none()
    }

    fn preflight(&self) -> Result<(), Error> {
        self.resolve_auth().map(|_| ())
    }

    fn provide_metadata(&mut self, metadata: Arc<SmartMetadata>) {
        self.metadata = Some(metadata);
    }

    fn start(&mut self, env: &mut Env<'_>) -> Result<Step<TokenResponse>, Error> {
        // Every credential problem surfaces before any request is built.
        let auth = self.resolve_auth()?;
        self.check_pending_age(env.now)?;
        let endpoint =
            ServerEndpoint::Token.resolve_borrowed(&self.config, self.metadata.as_deref())?;
        Ok(Step::Send(self.token_request(&auth, &endpoint, env)?))
    }

    fn on_response(
        &mut self,
        response: HttpResponse,
        env: &mut Env<'_>,
    ) -> Result<Step<TokenResponse>, Error> {
        let mut token = parse_token_response(&response, env.now).map_err(|mut error| {
            if error.oauth.error_code.as_deref() == Some("invalid_client") && error.detail.is_none()
            {
                error.detail = self.basic_encoding_hint().map(Into::into);
            }
            error
        })?;
        if let Some(kind) = token
            .token_type
            .as_deref()
            .filter(|t| !t.eq_ignore_ascii_case("bearer"))
        {
            return Err(TokenError {
                oauth: crate::error::OAuthErrorFields {
                    status: Some(response.status().as_u16()),
                    ..Default::default()
                },
                received_fields: Vec::new(),
                detail: Some(
                    format!(
                        "unsupported token_type '{}': Safire uses Bearer tokens (DPoP and \
                         other proof-of-possession types are not supported)",
                        crate::error::server_text(kind)
                    )
                    .into(),
                ),
            }
            .into());
        }
        let mut findings = token.compliance_findings(self.grant.grant_type());
        if token.scope.is_none()
            && let Some(requested) = self.requested_scope()
        {
            findings.push(crate::finding::Finding::warning(
                Some("scope"),
                format!(
                    "the token response has no 'scope'; RFC 6749 §5.1 reads that as the \
                     requested scope, '{requested}'"
                ),
            ));
            token.scope = Some(requested);
        }
        if let Grant::AuthorizationCode(code) = &self.grant {
            findings.extend(code.findings.iter().cloned());
        }
        if matches!(self.grant, Grant::ClientCredentials)
            && matches!(
                self.config.client_auth(),
                ClientAuth::ClientSecretBasic { .. } | ClientAuth::ClientSecretPost { .. }
            )
        {
            findings.push(crate::finding::Finding::warning(
                None,
                "SMART Backend Services asks for asymmetric client authentication \
                 (private_key_jwt); this system account authenticates with a client secret",
            ));
        }
        token.findings = findings;
        Ok(Step::Done(token))
    }
}

#[cfg(test)]
mod tests;
