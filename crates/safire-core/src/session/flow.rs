//! [`SessionFlow`]: a token request whose output is a [`Session`] — the start of one (code
//! exchange, backend token) or its renewal (refresh, new backend assertion).

use std::sync::Arc;

use crate::config::{CallOptions, ClientConfig};
use crate::discovery::ServerEndpoint;
use crate::error::{Error, SessionError, SessionErrorKind};
use crate::flow::{Env, Flow, Step};
use crate::identity::{CodeExchangeFlow, JwksCache};
use crate::metadata::SmartMetadata;
use crate::requests::HttpResponse;
use crate::scope::Scopes;
use crate::token::TokenFlow;
use crate::token_response::TokenResponse;

use super::{Renewal, Session, SessionKind};

/// A token request producing a [`Session`]. Created by
/// [`FlowFactory`](crate::FlowFactory)'s `start_session`, `backend_session` and
/// `renew_session`; run it like any flow.
///
/// A refresh answered `invalid_grant` (the refresh token expired, was revoked or rotated
/// away) ends in [`SessionErrorKind::ReauthorizationRequired`], with the server's OAuth
/// fields kept.
///
/// ```
/// # use safire_core::*;
/// # use std::time::SystemTime;
/// let config = ClientConfig::builder("https://ehr.example/fhir")
///     .client_id("app")
///     .token_endpoint("https://ehr.example/token")
///     // `openid` was granted: a refreshed id_token is verified with the server's keys.
///     .server_jwks_uri("https://ehr.example/jwks")
///     .authorization_server_issuer("https://ehr.example")
///     .build()?;
/// let flows = FlowFactory::new(config);
/// let now = SystemTime::now();
/// let token = TokenResponse::parse(200, br#"{"access_token":"a1","refresh_token":"r1","scope":"openid","expires_in":1}"#, now)?;
/// let session = flows.session_from_token(token, SessionKind::User);
/// let refused = http::Response::builder().status(400)
///     .body(br#"{"error":"invalid_grant"}"#.to_vec()).unwrap();
/// let err = run_blocking(flows.renew_session(&session, CallOptions::new())?, &Limits::default(),
///     &mut OsRandom, SystemTime::now, |_| Ok::<_, Error>(refused.clone())).unwrap_err();
/// assert!(err.is_reauthorization_required());
/// assert_eq!(err.error_code(), Some("invalid_grant"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SessionFlow {
    /// The token request: a plain token flow, or a code exchange that verifies the id_token.
    token: Box<dyn Flow<Output = TokenResponse> + Send>,
    config: Arc<ClientConfig>,
    kind: SessionKind,
    previous: Option<Session>,
    /// What was asked for: stands in for an omitted `scope`.
    requested: Option<Scopes>,
    refresh: bool,
}

impl SessionFlow {
    /// A flow starting a new session of `kind` with `token`.
    pub(crate) fn start(config: Arc<ClientConfig>, token: TokenFlow, kind: SessionKind) -> Self {
        let requested = token
            .scopes()
            .map(|s| Scopes::parse(&s.join(" ")))
            .or_else(|| Some(Scopes::parse(&config.scopes().join(" "))));
        Self {
            token: Box::new(token),
            config,
            kind,
            previous: None,
            requested,
            refresh: false,
        }
    }

    /// A flow starting a user session from a code exchange (which verifies the id_token);
    /// `requested` are the authorization request's scopes.
    pub(crate) fn start_exchange(
        config: Arc<ClientConfig>,
        exchange: crate::identity::CodeExchangeFlow,
        requested: &[String],
    ) -> Self {
        let mut flow = Self {
            token: Box::new(exchange),
            config,
            kind: SessionKind::User,
            previous: None,
            requested: None,
            refresh: false,
        };
        flow.set_requested(requested);
        flow
    }

    /// Uses `scopes` (those of the authorization request) as the requested scope.
    pub(crate) fn set_requested(&mut self, scopes: &[String]) {
        if !scopes.is_empty() {
            self.requested = Some(Scopes::parse(&scopes.join(" ")));
        }
    }

    /// A flow renewing `session` (which must belong to `config`'s server and client). A
    /// refresh verifies a returned id_token with keys from `keys` (see
    /// [`CodeExchangeFlow`]).
    pub(crate) fn renew(
        config: Arc<ClientConfig>,
        session: &Session,
        options: CallOptions,
        keys: JwksCache,
    ) -> Result<Self, Error> {
        check_belongs(&config, session)?;
        let (token, refresh) = match session.renewal_after_rejection() {
            Renewal::NewAssertion => (
                TokenFlow::backend_services(config.clone()).with_options(options),
                false,
            ),
            Renewal::Refresh => {
                let Some(refresh_token) = session.refresh_token.clone() else {
                    return Err(Error::Usage("a refresh renewal needs a refresh token"));
                };
                (
                    TokenFlow::refresh(config.clone(), refresh_token).with_options(options),
                    true,
                )
            }
            Renewal::Reauthorize(error) => return Err(error.into()),
            Renewal::UseCurrent => return Err(Error::Usage("no renewal needed")),
        };
        // A refresh that does not narrow the scope asks for the scope granted before.
        let requested = token.scopes().map(|s| Scopes::parse(&s.join(" ")));
        let token: Box<dyn Flow<Output = TokenResponse> + Send> = if refresh {
            Box::new(CodeExchangeFlow::refresh(
                config.clone(),
                token,
                session,
                keys,
            ))
        } else {
            Box::new(token)
        };
        Ok(Self {
            token,
            config,
            kind: session.kind,
            previous: Some(session.clone()),
            requested,
            refresh,
        })
    }
}

/// A session may only be renewed by the client (and for the server) it was issued to.
pub(crate) fn check_belongs(config: &ClientConfig, session: &Session) -> Result<(), SessionError> {
    let client_id = config.client_id().unwrap_or_default();
    if session.client_id != client_id || !same_base(&session.fhir_base, config.base_url()) {
        return Err(SessionError::new(
            SessionErrorKind::WrongSession,
            format!(
                "the session was issued to client '{}' for {}; use the client configured for \
                 that server (a refresh token must never reach another server)",
                session.client_id,
                crate::error::url_for_message(&session.fhir_base)
            ),
        ));
    }
    Ok(())
}

fn same_base(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

impl Flow for SessionFlow {
    type Output = Session;

    fn config(&self) -> Option<&ClientConfig> {
        Some(&self.config)
    }

    fn endpoints(&self) -> &[ServerEndpoint] {
        self.token.endpoints()
    }

    fn needs_metadata(&self) -> bool {
        self.token.needs_metadata()
    }

    fn preflight(&self) -> Result<(), Error> {
        self.token.preflight()
    }

    fn provide_metadata(&mut self, metadata: Arc<SmartMetadata>) {
        self.token.provide_metadata(metadata);
    }

    fn start(&mut self, env: &mut Env<'_>) -> Result<Step<Session>, Error> {
        match self.token.start(env)? {
            Step::Send(request) => Ok(Step::Send(request)),
            Step::Done(_) => Err(Error::Usage("a token request always sends a request")),
        }
    }

    fn on_response(
        &mut self,
        response: HttpResponse,
        env: &mut Env<'_>,
    ) -> Result<Step<Session>, Error> {
        let token = match self.token.on_response(response, env) {
            Ok(Step::Done(token)) => token,
            Ok(Step::Send(request)) => return Ok(Step::Send(request)),
            Err(error) if self.refresh && error.error_code() == Some("invalid_grant") => {
                let oauth = error.oauth().cloned().unwrap_or_default();
                return Err(SessionError::reauthorization_required(
                    "the server refused the refresh token (invalid_grant: expired, revoked or \
                     already rotated); start a new authorization",
                )
                .with_oauth(oauth)
                .into());
            }
            Err(error) => return Err(error),
        };
        let session = match &self.previous {
            Some(previous) => previous.merge_refresh(token, self.requested.as_ref()),
            None => Session::from_token_response(
                token,
                self.config.base_url(),
                self.config.client_id().unwrap_or_default(),
                self.kind,
                self.requested.as_ref().unwrap_or(&Scopes::new()),
            ),
        };
        Ok(Step::Done(session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_renewed_only_by_its_own_client_and_server() {
        let config = |base: &str, id: &str| {
            Arc::new(
                ClientConfig::builder(base)
                    .client_id(id)
                    .token_endpoint(format!("{base}/token"))
                    .build()
                    .unwrap(),
            )
        };
        let token = crate::TokenResponse::parse(
            200,
            br#"{"access_token":"a","refresh_token":"r","scope":"openid"}"#,
            std::time::SystemTime::UNIX_EPOCH,
        )
        .unwrap();
        let session = Session::from_token_response(
            token,
            "https://a.example/fhir",
            "app",
            SessionKind::User,
            &Scopes::new(),
        );
        for (base, id) in [
            ("https://b.example/fhir", "app"),
            ("https://a.example/fhir", "other"),
        ] {
            let err = SessionFlow::renew(
                config(base, id),
                &session,
                CallOptions::new(),
                JwksCache::default(),
            )
            .err()
            .unwrap();
            assert!(
                matches!(&err, Error::Session(e) if e.kind == SessionErrorKind::WrongSession),
                "{err}"
            );
        }
        assert!(
            SessionFlow::renew(
                config("https://a.example/fhir/", "app"),
                &session,
                CallOptions::new(),
                JwksCache::default()
            )
            .is_ok()
        );
    }
}
