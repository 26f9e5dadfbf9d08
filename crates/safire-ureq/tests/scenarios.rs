//! The shared transport scenario suite (`tests/transport-suite`), run over safire-ureq.
#![allow(clippy::result_large_err)]

#[path = "../../../tests/transport-suite/mod.rs"]
mod suite;

use std::sync::Arc;

use safire_core::{
    AuthorizationRequest, AuthorizeParams, CallOptions, ClientConfig, ClientMetadata, Error, Flow,
    Limits, PendingAuthorization, RegisteredClient, SecretString, SmartMetadata, TokenResponse,
};
use safire_ureq::SmartClient;

struct Ureq(SmartClient);

impl suite::TestClient for Ureq {
    fn build(
        config: ClientConfig,
        limits: Limits,
        root_ca_pem: Option<&[u8]>,
    ) -> Result<Self, Error> {
        let mut builder = SmartClient::builder(config).limits(limits);
        if let Some(pem) = root_ca_pem {
            builder = builder.add_root_certificate_pem(pem)?;
        }
        builder.build().map(Ureq)
    }

    fn server_metadata(&self) -> Result<Arc<SmartMetadata>, Error> {
        self.0.server_metadata()
    }

    fn authorization_url(&self, params: AuthorizeParams) -> Result<AuthorizationRequest, Error> {
        self.0.authorization_url(params)
    }

    fn request_access_token(
        &self,
        pending: &PendingAuthorization,
        callback_url: &str,
        options: CallOptions,
    ) -> Result<TokenResponse, Error> {
        self.0.request_access_token(pending, callback_url, options)
    }

    fn refresh_token(
        &self,
        refresh_token: SecretString,
        options: CallOptions,
    ) -> Result<TokenResponse, Error> {
        self.0.refresh_token(refresh_token, options)
    }

    fn request_backend_token(&self, options: CallOptions) -> Result<TokenResponse, Error> {
        self.0.request_backend_token(options)
    }

    fn register_client(
        &self,
        metadata: &ClientMetadata,
        endpoint: Option<&str>,
        initial_access_token: Option<SecretString>,
    ) -> Result<RegisteredClient, Error> {
        self.0
            .register_client(metadata, endpoint, initial_access_token)
    }

    fn run<F>(&self, flow: F) -> Result<F::Output, Error>
    where
        F: Flow + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.run(flow)
    }
}

suite::scenarios!(Ureq);
