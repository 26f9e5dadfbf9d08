//! The flows an application uses, created from one configuration: what the blocking and async
//! clients wrap, so that each of their methods is one line and neither repeats the other.

use std::sync::Arc;

use crate::authorize::{AuthorizeFlow, AuthorizeParams, PendingAuthorization};
use crate::config::{CallOptions, ClientConfig};
use crate::discovery::DiscoveryFlow;
use crate::error::Error;
use crate::registration::{ClientMetadata, RegistrationFlow};
use crate::secret::SecretString;
use crate::token::TokenFlow;

/// `User-Agent` sent by Safire's transports.
pub const USER_AGENT: &str = concat!("safire/", env!("CARGO_PKG_VERSION"));

/// Creates the flow for each SMART operation from one [`ClientConfig`].
///
/// ```
/// use safire_core::{AuthorizeParams, ClientConfig, Flow, FlowFactory};
/// let factory = FlowFactory::new(
///     ClientConfig::builder("https://ehr.example/fhir").client_id("app").build()?,
/// );
/// let flow = factory.authorize(AuthorizeParams::default());
/// assert!(flow.wants_metadata(), "the authorization endpoint must be discovered");
/// # Ok::<(), safire_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FlowFactory {
    config: Arc<ClientConfig>,
}

impl FlowFactory {
    /// Flows for `config`.
    pub fn new(config: impl Into<Arc<ClientConfig>>) -> Self {
        Self {
            config: config.into(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// Discovery of the SMART configuration.
    pub fn discovery(&self) -> DiscoveryFlow {
        DiscoveryFlow::new(&self.config)
    }

    /// An authorization request (standalone or EHR launch, GET or POST).
    pub fn authorize(&self, params: AuthorizeParams) -> AuthorizeFlow {
        AuthorizeFlow::new(self.config.clone(), params)
    }

    /// Verifies the callback against `pending` and builds the code exchange.
    pub fn exchange_code(
        &self,
        pending: &PendingAuthorization,
        callback: &str,
        options: CallOptions,
    ) -> Result<TokenFlow, Error> {
        let code = pending.complete(callback)?;
        Ok(TokenFlow::authorization_code(self.config.clone(), code).with_options(options))
    }

    /// A refresh with `refresh_token`.
    pub fn refresh(&self, refresh_token: SecretString, options: CallOptions) -> TokenFlow {
        TokenFlow::refresh(self.config.clone(), refresh_token).with_options(options)
    }

    /// A backend services token request.
    pub fn backend_token(&self, options: CallOptions) -> TokenFlow {
        TokenFlow::backend_services(self.config.clone()).with_options(options)
    }

    /// Dynamic client registration, at `endpoint` or the discovered one.
    pub fn register(
        &self,
        metadata: &ClientMetadata,
        endpoint: Option<&str>,
        initial_access_token: Option<SecretString>,
    ) -> RegistrationFlow {
        let mut flow = RegistrationFlow::new(self.config.clone(), metadata);
        if let Some(endpoint) = endpoint {
            flow = flow.endpoint(endpoint);
        }
        if let Some(token) = initial_access_token {
            flow = flow.initial_access_token(token);
        }
        flow
    }
}
