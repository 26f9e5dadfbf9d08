//! The shared transport scenario suite (`tests/transport-suite`), run over safire-hyper: each
//! blocking suite call blocks on a multi-thread tokio runtime owned by the wrapper, so pooled
//! connections and their tasks stay on one runtime for the client's lifetime.
#![allow(clippy::result_large_err)]

#[path = "../../../tests/transport-suite/mod.rs"]
mod suite;

use std::sync::Arc;

use safire_core::{
    AuthorizationRequest, AuthorizeParams, CallOptions, ClientConfig, ClientMetadata, Error, Flow,
    Limits, PendingAuthorization, RegisteredClient, SecretString, SmartMetadata, TokenResponse,
};
use safire_hyper::SmartClient;
use tokio::runtime::Runtime;

struct Client {
    runtime: Runtime,
    client: SmartClient,
}

impl suite::TestClient for Client {
    fn build(
        config: ClientConfig,
        limits: Limits,
        root_ca_pem: Option<&[u8]>,
    ) -> Result<Self, Error> {
        let mut builder = SmartClient::builder(config).limits(limits);
        if let Some(pem) = root_ca_pem {
            builder = builder.add_root_certificate_pem(pem)?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        Ok(Self {
            runtime,
            client: builder.build()?,
        })
    }

    fn server_metadata(&self) -> Result<Arc<SmartMetadata>, Error> {
        self.runtime.block_on(self.client.server_metadata())
    }

    fn authorization_url(&self, params: AuthorizeParams) -> Result<AuthorizationRequest, Error> {
        self.runtime.block_on(self.client.authorization_url(params))
    }

    fn request_access_token(
        &self,
        pending: &PendingAuthorization,
        callback_url: &str,
        options: CallOptions,
    ) -> Result<TokenResponse, Error> {
        let call = self
            .client
            .request_access_token(pending, callback_url, options);
        self.runtime.block_on(call)
    }

    fn refresh_token(
        &self,
        refresh_token: SecretString,
        options: CallOptions,
    ) -> Result<TokenResponse, Error> {
        self.runtime
            .block_on(self.client.refresh_token(refresh_token, options))
    }

    fn request_backend_token(&self, options: CallOptions) -> Result<TokenResponse, Error> {
        self.runtime
            .block_on(self.client.request_backend_token(options))
    }

    fn register_client(
        &self,
        metadata: &ClientMetadata,
        endpoint: Option<&str>,
        initial_access_token: Option<SecretString>,
    ) -> Result<RegisteredClient, Error> {
        let call = self
            .client
            .register_client(metadata, endpoint, initial_access_token);
        self.runtime.block_on(call)
    }

    fn run<F>(&self, flow: F) -> Result<F::Output, Error>
    where
        F: Flow + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.block_on(self.client.run(flow))
    }
}

suite::scenarios!(Client);
