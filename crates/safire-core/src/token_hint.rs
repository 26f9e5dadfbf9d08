//! The request part introspection (RFC 7662) and revocation (RFC 7009) share: a token, an
//! optional `token_type_hint`, sent to one endpoint through the shared authenticated
//! [`EndpointRequest`]. Each flow adds only its endpoint, its authentication rule and how it
//! reads the response.

use std::fmt;
use std::sync::Arc;

use crate::config::{CallOptions, ClientConfig};
use crate::discovery::ServerEndpoint;
use crate::endpoint::{
    AuthRequirement, EndpointRequest, assertion_audience, assertion_needs_token_endpoint,
    credential_texts, resolve_auth,
};
use crate::error::{ConfigurationError, Error};
use crate::flow::Env;
use crate::metadata::SmartMetadata;
use crate::requests::{HttpRequest, Operation};
use crate::secret::SecretString;

/// Form parameters a token + hint request sets; never accepted as extra parameters.
const RESERVED_PARAMS: &[&str] = &["token", "token_type_hint"];

/// Which kind of token is being introspected or revoked (`token_type_hint`, RFC 7009 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
}

impl TokenTypeHint {
    /// The value sent as `token_type_hint`.
    ///
    /// ```
    /// assert_eq!(safire_core::TokenTypeHint::RefreshToken.as_str(), "refresh_token");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            TokenTypeHint::AccessToken => "access_token",
            TokenTypeHint::RefreshToken => "refresh_token",
        }
    }
}

/// Where a token + hint request goes and how it authenticates.
pub(crate) struct Target {
    /// The endpoint, configured or discovered.
    endpoint: ServerEndpoint,
    /// What the request is, for transports and tracing.
    operation: Operation,
    /// Which client authentications the endpoint accepts.
    auth: AuthRequirement,
}

impl Target {
    /// Token introspection (RFC 7662): client credentials, or a bearer token where the server
    /// protects introspection with one.
    pub(crate) const INTROSPECTION: Target = Target {
        endpoint: ServerEndpoint::Introspection,
        operation: Operation::Introspection,
        auth: AuthRequirement::ClientOrBearer,
    };

    /// Token revocation (RFC 7009): the configured client authentication.
    pub(crate) const REVOCATION: Target = Target {
        endpoint: ServerEndpoint::Revocation,
        operation: Operation::Revocation,
        auth: AuthRequirement::Configured,
    };
}

/// A token, its optional hint, the client and per-call options: everything an introspection
/// or revocation request is built from.
pub(crate) struct TokenHintRequest {
    config: Arc<ClientConfig>,
    token: SecretString,
    hint: Option<TokenTypeHint>,
    options: CallOptions,
    metadata: Option<Arc<SmartMetadata>>,
    target: Target,
}

/// The token redacted (as [`SecretString`] shows it), the hint, the options.
impl fmt::Debug for TokenHintRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenHintRequest")
            .field("token", &self.token)
            .field("hint", &self.hint)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl TokenHintRequest {
    pub(crate) fn new(config: Arc<ClientConfig>, token: SecretString, target: Target) -> Self {
        Self {
            config,
            token,
            hint: None,
            options: CallOptions::default(),
            metadata: None,
            target,
        }
    }

    pub(crate) fn set_hint(&mut self, hint: TokenTypeHint) {
        self.hint = Some(hint);
    }

    pub(crate) fn set_options(&mut self, options: CallOptions) {
        self.options = options;
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub(crate) fn endpoints(&self) -> &[ServerEndpoint] {
        std::slice::from_ref(&self.target.endpoint)
    }

    /// A blank token, then any credential problem, before the network.
    pub(crate) fn preflight(&self) -> Result<(), Error> {
        if self.token.is_blank() {
            return Err(ConfigurationError::missing(["token"]).into());
        }
        resolve_auth(&self.config, &self.options, self.target.auth)?;
        Ok(())
    }

    /// A client assertion's `aud` is the token endpoint, which may need discovering.
    pub(crate) fn needs_metadata(&self) -> bool {
        assertion_needs_token_endpoint(&self.config, &self.options, self.target.auth)
    }

    pub(crate) fn provide_metadata(&mut self, metadata: Arc<SmartMetadata>) {
        self.metadata = Some(metadata);
    }

    /// The authenticated request: `token`, then `token_type_hint` when set.
    pub(crate) fn build(&self, env: &mut Env<'_>) -> Result<HttpRequest, Error> {
        self.preflight()?;
        let metadata = self.metadata.as_deref();
        let auth = resolve_auth(&self.config, &self.options, self.target.auth)?;
        let endpoint = self.target.endpoint.resolve(&self.config, metadata)?;
        let audience = assertion_audience(&auth, &self.config, metadata)?;
        let mut form = vec![("token", self.token.expose())];
        if let Some(hint) = self.hint {
            form.push(("token_type_hint", hint.as_str()));
        }
        EndpointRequest {
            config: &self.config,
            options: &self.options,
            auth: &auth,
            endpoint: &endpoint,
            assertion_audience: audience.as_deref(),
            operation: self.target.operation,
            reserved: RESERVED_PARAMS,
            metadata,
        }
        .build(form, env)
    }

    /// What the server's text must never repeat: the token and the request's credentials.
    pub(crate) fn secrets(&self) -> Vec<&str> {
        let mut secrets = credential_texts(&self.config, &self.options);
        secrets.push(self.token.expose());
        secrets
    }
}

/// A token + hint flow's public constructor and setters, over its [`TokenHintRequest`] (a
/// field named `request`): `new` (documented by the first attributes) sends to `target`;
/// `with_options` is documented by the last ones.
macro_rules! token_hint_methods {
    (
        $(#[$new_doc:meta])*
        new => $target:expr;
        $(#[$options_doc:meta])*
        with_options;
    ) => {
        $(#[$new_doc])*
        pub fn new(
            config: ::std::sync::Arc<$crate::config::ClientConfig>,
            token: impl Into<$crate::secret::SecretString>,
        ) -> Self {
            Self {
                request: $crate::token_hint::TokenHintRequest::new(config, token.into(), $target),
            }
        }

        /// Sends `token_type_hint`.
        pub fn token_type_hint(mut self, hint: $crate::token_hint::TokenTypeHint) -> Self {
            self.request.set_hint(hint);
            self
        }

        $(#[$options_doc])*
        pub fn with_options(mut self, options: $crate::config::CallOptions) -> Self {
            self.request.set_options(options);
            self
        }
    };
}
pub(crate) use token_hint_methods;

/// The [`Flow`](crate::flow::Flow) methods a token + hint flow hands to its
/// [`TokenHintRequest`] (a field named `request`): everything but reading the response.
macro_rules! delegate_flow_to_request {
    () => {
        fn config(&self) -> Option<&$crate::config::ClientConfig> {
            Some(self.request.config())
        }

        fn endpoints(&self) -> &[$crate::discovery::ServerEndpoint] {
            self.request.endpoints()
        }

        fn preflight(&self) -> Result<(), $crate::error::Error> {
            self.request.preflight()
        }

        fn needs_metadata(&self) -> bool {
            self.request.needs_metadata()
        }

        fn provide_metadata(
            &mut self,
            metadata: ::std::sync::Arc<$crate::metadata::SmartMetadata>,
        ) {
            self.request.provide_metadata(metadata);
        }

        fn start(
            &mut self,
            env: &mut $crate::flow::Env<'_>,
        ) -> Result<$crate::flow::Step<Self::Output>, $crate::error::Error> {
            Ok($crate::flow::Step::Send(self.request.build(env)?))
        }
    };
}
pub(crate) use delegate_flow_to_request;
