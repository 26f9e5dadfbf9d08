//! The transport scenario suite: every Safire transport runs these end-to-end scenarios
//! against the hermetic servers in `servers.rs`. See `README.md` for how to plug a transport in.
#![allow(dead_code)]

pub mod cases;
pub mod servers;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use safire_core::{
    AuthorizationRequest, AuthorizeParams, CallOptions, ClientConfig, ClientMetadata, Error, Flow,
    Limits, PendingAuthorization, RegisteredClient, SecretString, SmartMetadata, TokenResponse,
};

/// A transport's client, with blocking calls (an async transport blocks on its runtime).
pub trait TestClient: Send + Sync + Sized + 'static {
    /// Builds a client with these limits (`builder.limits(limits)`) and, when given, an extra
    /// trusted root CA in PEM (`builder.add_root_certificate_pem(pem)`).
    fn build(
        config: ClientConfig,
        limits: Limits,
        root_ca_pem: Option<&[u8]>,
    ) -> Result<Self, Error>;
    /// `SmartClient::server_metadata`.
    fn server_metadata(&self) -> Result<Arc<SmartMetadata>, Error>;
    /// `SmartClient::authorization_url`.
    fn authorization_url(&self, params: AuthorizeParams) -> Result<AuthorizationRequest, Error>;
    /// `SmartClient::request_access_token`.
    fn request_access_token(
        &self,
        pending: &PendingAuthorization,
        callback_url: &str,
        options: CallOptions,
    ) -> Result<TokenResponse, Error>;
    /// `SmartClient::refresh_token`.
    fn refresh_token(
        &self,
        refresh_token: SecretString,
        options: CallOptions,
    ) -> Result<TokenResponse, Error>;
    /// `SmartClient::request_backend_token`.
    fn request_backend_token(&self, options: CallOptions) -> Result<TokenResponse, Error>;
    /// `SmartClient::register_client`.
    fn register_client(
        &self,
        metadata: &ClientMetadata,
        endpoint: Option<&str>,
        initial_access_token: Option<SecretString>,
    ) -> Result<RegisteredClient, Error>;
    /// `SmartClient::run`.
    fn run<F>(&self, flow: F) -> Result<F::Output, Error>
    where
        F: Flow + Send + 'static,
        F::Output: Send + 'static;
}

/// Expands to one `#[test]` per scenario for the client type `$client`. The including module
/// must be named `suite` at the test crate's root.
macro_rules! scenarios {
    ($client:ty) => {
        $crate::suite::scenarios!(@each $client;
            discovery_end_to_end,
            discovery_failure_is_not_cached,
            concurrent_first_discovery_sends_one_request,
            standalone_launch_end_to_end,
            refresh_with_client_secret_basic,
            backend_services_with_es384,
            registration_with_initial_access_token,
            run_custom_flow,
            redirect_https_to_http_is_blocked,
            redirect_https_to_https_is_followed,
            redirect_loop_stops_at_the_limit,
            cross_origin_redirect_drops_authorization,
            token_endpoint_redirects_are_refused,
            registration_endpoint_redirects_are_refused,
            silent_server_times_out,
            trickling_server_times_out,
            huge_body_is_cut_off_at_the_cap,
            body_at_the_cap_is_accepted,
            connection_refused,
            untrusted_certificate_is_a_tls_error,
            html_500_from_discovery,
            oauth_errors_from_the_token_endpoint,
            registration_error_with_status_200,
            canaries_never_leak,
        );
    };
    (@each $client:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::suite::cases::$name::<$client>();
            }
        )*
    };
}
pub(crate) use scenarios;

/// Everything written through `tracing` in this test process, at TRACE level. The first call
/// installs the global subscriber; events from every thread (and runtime worker) land here.
pub fn captured_tracing() -> Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER
        .get_or_init(|| {
            let buffer = Arc::new(Mutex::new(Vec::new()));
            let writer = SharedWriter(buffer.clone());
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global tracing subscriber in the suite's test binary");
            buffer
        })
        .clone()
}

/// The captured tracing output as text.
pub fn tracing_text() -> String {
    String::from_utf8_lossy(&captured_tracing().lock().unwrap()).into_owned()
}

#[derive(Clone)]
struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
