//! The flows an application uses, created from one configuration: what the blocking and async
//! clients wrap, so that each of their methods is one line and neither repeats the other.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::authorize::{AuthorizeFlow, AuthorizeParams, EhrLaunch, PendingAuthorization};
use crate::cache::MetadataCache;
use crate::config::{CallOptions, ClientConfig};
use crate::discovery::{DiscoveryFlow, ServerEndpoint};
use crate::error::{ConfigurationError, Error};
use crate::flow::Flow;
use crate::flow::Limits;
use crate::identity::{CodeExchangeFlow, JwksAt, JwksCache, ServerKeysFlow};
use crate::introspection::IntrospectionFlow;
use crate::metadata::SmartMetadata;
use crate::oidc::JwksRefreshPolicy;
use crate::registration::{ClientMetadata, RegistrationFlow};
use crate::registration_management::RegistrationManagementFlow;
use crate::registration_response::RegisteredClient;
use crate::revocation::RevocationFlow;
use crate::secret::SecretString;
use crate::session::{Session, SessionFlow, SessionKind};
use crate::token::TokenFlow;
use crate::token_hint::TokenTypeHint;

/// `User-Agent` sent by Safire's transports.
pub const USER_AGENT: &str = concat!("safire/", env!("CARGO_PKG_VERSION"));

/// Creates the flow for each SMART operation from one [`ClientConfig`].
///
/// ```
/// use safire_core::{AuthorizeParams, ClientConfig, FlowFactory, transport::needs_discovery};
/// let factory = FlowFactory::new(
///     ClientConfig::builder("https://ehr.example/fhir").client_id("app").build()?,
/// );
/// let flow = factory.authorize(AuthorizeParams::default());
/// assert!(needs_discovery(&flow), "the authorization endpoint must be discovered");
/// # Ok::<(), safire_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FlowFactory {
    config: Arc<ClientConfig>,
    jwks: JwksCache,
}

impl FlowFactory {
    /// Flows for `config`, with a JWK Set cache of their own (the default lifetime and
    /// re-fetch policy).
    pub fn new(config: impl Into<Arc<ClientConfig>>) -> Self {
        Self {
            config: config.into(),
            jwks: JwksCache::default(),
        }
    }

    /// The same flows, keeping the server's JWK Set in `cache` (shared by its clones).
    pub fn with_jwks_cache(mut self, cache: JwksCache) -> Self {
        self.jwks = cache;
        self
    }

    /// The JWK Set cache the identity flows use.
    pub fn jwks_cache(&self) -> &JwksCache {
        &self.jwks
    }

    /// The JWK Set `flow` will verify with (it sends to [`ServerEndpoint::Jwks`]) when it
    /// is not cached: a transport fetches it first through the returned [`JwksAt`] (with
    /// [`server_keys`](Self::server_keys)), so that concurrent callers finding the cache cold
    /// share one request. `None`: cached, not needed, or its location unknown (the flow
    /// reports that itself).
    ///
    /// ```
    /// # use safire_core::*;
    /// # use std::time::SystemTime;
    /// let config = ClientConfig::builder("https://ehr.example/fhir")
    ///     .server_jwks_uri("https://ehr.example/jwks")
    ///     .build()?;
    /// let flows = FlowFactory::new(config);
    /// let now = SystemTime::now();
    /// assert!(flows.keys_to_prefetch(&flows.server_keys(), None, now).is_some());
    /// assert!(flows.keys_to_prefetch(&flows.discovery(), None, now).is_none());
    /// # Ok::<(), safire_core::Error>(())
    /// ```
    pub fn keys_to_prefetch<F: Flow + ?Sized>(
        &self,
        flow: &F,
        metadata: Option<&SmartMetadata>,
        now: SystemTime,
    ) -> Option<JwksAt> {
        if !flow.endpoints().contains(&ServerEndpoint::Jwks) {
            return None;
        }
        let uri = ServerEndpoint::Jwks.resolve(&self.config, metadata).ok()?;
        self.jwks
            .get(&uri, now)
            .is_none()
            .then(|| self.jwks.at(uri))
    }

    /// The authorization server's JWK Set, cached or fetched.
    pub fn server_keys(&self) -> ServerKeysFlow {
        ServerKeysFlow::new(self.config.clone(), self.jwks.clone())
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

    /// An EHR launch in one step: parses `launch_url` (full URL, path and query, or bare
    /// query), refuses a launch whose `iss` is not this client's FHIR base or a declared
    /// [`launch_issuer`](crate::ClientConfigBuilder::launch_issuer) (see
    /// [`EhrLaunch::for_client`]), then builds the authorization request with the launch's
    /// `launch` value (replacing any in `params`).
    pub fn ehr_launch(
        &self,
        launch_url: &str,
        mut params: AuthorizeParams,
    ) -> Result<AuthorizeFlow, Error> {
        let launch = EhrLaunch::for_client(launch_url, &self.config)?;
        params.launch = Some(launch.launch);
        Ok(AuthorizeFlow::new(self.config.clone(), params))
    }

    /// Verifies the callback against `pending` and builds the code exchange, which verifies
    /// the id_token it receives (see [`CodeExchangeFlow`]). The pending authorization must
    /// have been started with this configuration's client id and `aud`.
    pub fn exchange_code(
        &self,
        pending: PendingAuthorization,
        callback: &str,
        options: CallOptions,
    ) -> Result<CodeExchangeFlow, Error> {
        let client_id = self.config.client_id().unwrap_or_default();
        if pending.client_id() != client_id || pending.aud() != self.config.audience() {
            return Err(ConfigurationError::invalid(
                "pending authorization",
                format!(
                    "it was started by client '{}' for '{}'; complete it with the client \
                     configured for that server (a code must never reach another server)",
                    pending.client_id(),
                    pending.aud()
                ),
            )
            .into());
        }
        let code = pending.complete(callback)?;
        Ok(CodeExchangeFlow::new(
            self.config.clone(),
            code,
            options,
            self.jwks.clone(),
        ))
    }

    /// A refresh with `refresh_token`.
    pub fn refresh(&self, refresh_token: SecretString, options: CallOptions) -> TokenFlow {
        TokenFlow::refresh(self.config.clone(), refresh_token).with_options(options)
    }

    /// A backend services token request.
    pub fn backend_token(&self, options: CallOptions) -> TokenFlow {
        TokenFlow::backend_services(self.config.clone()).with_options(options)
    }

    /// Verifies the callback and exchanges the code, producing a [`Session`] (user kind).
    pub fn start_session(
        &self,
        pending: PendingAuthorization,
        callback: &str,
        options: CallOptions,
    ) -> Result<SessionFlow, Error> {
        let requested = pending.scopes().to_vec();
        let exchange = self.exchange_code(pending, callback, options)?;
        Ok(SessionFlow::start_exchange(
            self.config.clone(),
            exchange,
            &requested,
        ))
    }

    /// A backend services token request producing a [`Session`] (backend kind), which the
    /// transports renew with a fresh assertion.
    pub fn backend_session(&self, options: CallOptions) -> SessionFlow {
        SessionFlow::start(
            self.config.clone(),
            self.backend_token(options),
            SessionKind::Backend,
        )
    }

    /// Renews `session`: a refresh for a user session, a new assertion for a backend one.
    /// A refresh's id_token is verified (keys from this factory's [`JwksCache`]) and must
    /// name the session's original user, else the renewal fails (see [`CodeExchangeFlow`]).
    /// `options` may narrow the scope (refresh) or override credentials. Errors at once when
    /// the session belongs to another client or server, or cannot be renewed (a user
    /// session without refresh token: re-authorization required).
    pub fn renew_session(
        &self,
        session: &Session,
        options: CallOptions,
    ) -> Result<SessionFlow, Error> {
        SessionFlow::renew(self.config.clone(), session, options, self.jwks.clone())
    }

    /// A session from a token response obtained with this configuration (e.g. by
    /// `request_access_token`). The configured scopes stand in for an omitted `scope`.
    pub fn session_from_token(&self, token: crate::TokenResponse, kind: SessionKind) -> Session {
        Session::from_token_response(
            token,
            self.config.base_url(),
            self.config.client_id().unwrap_or_default(),
            kind,
            &crate::scope::Scopes::parse(&self.config.scopes().join(" ")),
        )
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

    /// Token introspection (RFC 7662), with an optional `token_type_hint`.
    pub fn introspect(
        &self,
        token: SecretString,
        hint: Option<TokenTypeHint>,
        options: CallOptions,
    ) -> IntrospectionFlow {
        let flow = IntrospectionFlow::new(self.config.clone(), token).with_options(options);
        match hint {
            Some(hint) => flow.token_type_hint(hint),
            None => flow,
        }
    }

    /// Token revocation (RFC 7009), with an optional `token_type_hint`.
    pub fn revoke(
        &self,
        token: SecretString,
        hint: Option<TokenTypeHint>,
        options: CallOptions,
    ) -> RevocationFlow {
        let flow = RevocationFlow::new(self.config.clone(), token).with_options(options);
        match hint {
            Some(hint) => flow.token_type_hint(hint),
            None => flow,
        }
    }

    /// Reads `client`'s registration (RFC 7592).
    pub fn read_registration(
        &self,
        client: &RegisteredClient,
    ) -> RegistrationManagementFlow<RegisteredClient> {
        RegistrationManagementFlow::read(self.config.clone(), client)
    }

    /// Replaces `client`'s registered metadata with `metadata` (RFC 7592).
    pub fn update_registration(
        &self,
        client: &RegisteredClient,
        metadata: &ClientMetadata,
    ) -> RegistrationManagementFlow<RegisteredClient> {
        RegistrationManagementFlow::update(self.config.clone(), client, metadata)
    }

    /// Deletes `client`'s registration (RFC 7592).
    pub fn delete_registration(&self, client: &RegisteredClient) -> RegistrationManagementFlow<()> {
        RegistrationManagementFlow::delete(self.config.clone(), client)
    }
}

/// Implemented by each transport's client so that [`ClientBuilder`] can build it: the
/// settings every transport shares live here once.
pub trait BuildClient: Sized {
    /// Builds the client from the settings every transport shares.
    fn build_client(settings: ClientSettings) -> Result<Self, Error>;
}

/// What [`ClientBuilder`] hands a transport to build its client from.
#[derive(Debug)]
#[non_exhaustive]
pub struct ClientSettings {
    /// The client configuration.
    pub config: ClientConfig,
    /// The limits, the redirect policy already following `allow_insecure_localhost`.
    pub limits: Limits,
    /// Extra trusted root certificates (DER), on top of the built-in webpki roots.
    pub extra_roots_der: Vec<Vec<u8>>,
    /// The client's discovery cache (its lifetime set, and any metadata supplied by the user).
    pub metadata: MetadataCache,
    /// The client's cache of the server's JWK Set (lifetime and re-fetch policy set).
    pub jwks: JwksCache,
}

impl ClientSettings {
    /// The flow factory for these settings (configuration and JWK Set cache).
    pub fn flows(&self) -> FlowFactory {
        FlowFactory::new(self.config.clone()).with_jwks_cache(self.jwks.clone())
    }
}

/// Builds a transport's client with non-default limits or extra trusted roots.
///
/// Each transport exposes it as `SmartClientBuilder`.
pub struct ClientBuilder<C> {
    config: ClientConfig,
    limits: Limits,
    extra_roots_der: Vec<Vec<u8>>,
    metadata_lifetime: Duration,
    metadata: Option<Arc<SmartMetadata>>,
    jwks_lifetime: Duration,
    jwks_refresh: JwksRefreshPolicy,
    client: PhantomData<fn() -> C>,
}

impl<C> std::fmt::Debug for ClientBuilder<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("limits", &self.limits)
            .field("extra_roots", &self.extra_roots_der.len())
            .finish()
    }
}

impl<C: BuildClient> ClientBuilder<C> {
    /// A builder with the default [`Limits`] and only the built-in (webpki) roots.
    pub fn new(config: ClientConfig) -> Self {
        Self {
            config,
            limits: Limits::default(),
            extra_roots_der: Vec::new(),
            metadata_lifetime: crate::cache::DEFAULT_METADATA_LIFETIME,
            metadata: None,
            jwks_lifetime: crate::identity::DEFAULT_JWKS_LIFETIME,
            jwks_refresh: JwksRefreshPolicy::default(),
            client: PhantomData,
        }
    }

    /// How long the server's fetched JWK Set is used before it is fetched again (default one
    /// hour).
    pub fn jwks_lifetime(mut self, lifetime: Duration) -> Self {
        self.jwks_lifetime = lifetime;
        self
    }

    /// How often the JWK Set may be fetched again because a token names an unknown `kid`
    /// (default: at most once per 30 s).
    pub fn jwks_refresh_policy(mut self, policy: JwksRefreshPolicy) -> Self {
        self.jwks_refresh = policy;
        self
    }

    /// How long discovered metadata is used before it is fetched again (default one hour).
    pub fn metadata_lifetime(mut self, lifetime: Duration) -> Self {
        self.metadata_lifetime = lifetime;
        self
    }

    /// Uses this server metadata (obtained elsewhere) for every flow: no discovery request
    /// is sent, and it does not expire.
    pub fn server_metadata(mut self, metadata: SmartMetadata) -> Self {
        self.metadata = Some(Arc::new(metadata));
        self
    }

    /// All limits at once (body cap, timeouts, redirect hops).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Time allowed to open a connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.limits.connect_timeout = timeout;
        self
    }

    /// The deadline of one whole call (default 30 s): discovery, redirects and the request,
    /// up to the last body byte, all count against it.
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.limits.call_timeout = timeout;
        self
    }

    /// The older name of [`call_timeout`](Self::call_timeout).
    pub fn request_timeout(self, timeout: Duration) -> Self {
        self.call_timeout(timeout)
    }

    /// Largest response body accepted (default 1 MiB); reading stops at the cap.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_response_bytes = bytes;
        self
    }

    /// Trusts the root CA certificate(s) in `pem` in addition to the webpki roots: an
    /// enterprise EHR's private CA, or a test CA.
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, Error> {
        self.extra_roots_der.extend(pem_certificates(pem)?);
        Ok(self)
    }

    /// The client. Its redirect policy follows the configuration's `allow_insecure_localhost`.
    pub fn build(self) -> Result<C, Error> {
        let limits = self
            .limits
            .allow_insecure_localhost(self.config.allow_insecure_localhost());
        let metadata = MetadataCache::new(self.metadata_lifetime);
        if let Some(supplied) = self.metadata {
            metadata.set(supplied);
        }
        C::build_client(ClientSettings {
            config: self.config,
            limits,
            extra_roots_der: self.extra_roots_der,
            metadata,
            jwks: JwksCache::new(self.jwks_lifetime, self.jwks_refresh),
        })
    }
}

/// The DER of every `CERTIFICATE` block in `pem`; an error when there is none or a block
/// does not decode.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, ConfigurationError> {
    let invalid = |reason: String| ConfigurationError::invalid("root_certificate_pem", reason);
    let text = std::str::from_utf8(pem).map_err(|_| invalid("not valid PEM (not UTF-8)".into()))?;
    let mut certificates = Vec::new();
    for block in crate::assertion::pem::blocks(text) {
        let block = block.map_err(|e| invalid(e.to_string()))?;
        if block.label == "CERTIFICATE" {
            certificates.push(block.decode().map_err(|e| invalid(e.to_string()))?.to_vec());
        }
    }
    if certificates.is_empty() {
        return Err(invalid("no CERTIFICATE block found".into()));
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n";

    #[test]
    fn a_pending_authorization_is_redeemed_only_by_its_own_client() {
        use crate::flow::{Env, Flow, Step};
        let config_for = |base: &str, id: &str| {
            ClientConfig::builder(base)
                .client_id(id)
                .redirect_uri("https://app.example/cb")
                .scopes(["openid"])
                .authorization_endpoint(format!("{base}/authorize"))
                .token_endpoint(format!("{base}/token"))
                .build()
                .unwrap()
        };
        let ehr_a = FlowFactory::new(config_for("https://a.example", "app-at-a"));
        let ehr_b = FlowFactory::new(config_for("https://b.example", "app-at-b"));
        let mut random = crate::random::SeededRandom::new(4);
        let mut env = Env::new(std::time::SystemTime::UNIX_EPOCH, &mut random);
        let Step::Done(request) = ehr_a
            .authorize(AuthorizeParams::default())
            .start(&mut env)
            .unwrap()
        else {
            panic!("endpoint configured");
        };
        let callback = format!("?code=CODE-FROM-A&state={}", request.pending.state());
        let err = ehr_b
            .exchange_code(request.pending.clone(), &callback, CallOptions::new())
            .expect_err("another server's client must refuse");
        assert!(
            err.to_string().contains("started by client 'app-at-a'"),
            "{err}"
        );
        assert!(
            ehr_a
                .exchange_code(request.pending, &callback, CallOptions::new())
                .is_ok()
        );
    }

    #[test]
    fn pem_blocks_are_split_and_only_certificates_kept() {
        let two = format!(
            "junk\n{CERT}-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n{CERT}"
        );
        let ders = pem_certificates(two.as_bytes()).unwrap();
        assert_eq!(ders, vec![vec![0x30, 0x03, 0x02, 0x01, 0x00]; 2]);
        assert!(pem_certificates(b"nothing here").is_err());
        assert!(
            pem_certificates(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----")
                .is_err()
        );
        assert!(pem_certificates(b"-----BEGIN CERTIFICATE-----\nMAMCAQA=").is_err());
        assert!(pem_certificates(&[0xff, 0xfe]).is_err());
    }

    struct Probe(ClientConfig, Limits, usize);

    impl BuildClient for Probe {
        fn build_client(settings: ClientSettings) -> Result<Self, Error> {
            Ok(Probe(
                settings.config,
                settings.limits,
                settings.extra_roots_der.len(),
            ))
        }
    }

    #[test]
    fn builder_applies_settings_and_the_loopback_opt_in() {
        let config = ClientConfig::builder("http://127.0.0.1:1/fhir")
            .allow_insecure_localhost(true)
            .build()
            .unwrap();
        let probe = ClientBuilder::<Probe>::new(config)
            .connect_timeout(Duration::from_secs(2))
            .request_timeout(Duration::from_secs(3))
            .max_response_bytes(10)
            .add_root_certificate_pem(CERT.as_bytes())
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(probe.1.connect_timeout, Duration::from_secs(2));
        assert_eq!(probe.1.call_timeout, Duration::from_secs(3));
        assert_eq!(probe.1.max_response_bytes, 10);
        assert!(probe.1.redirects.allow_insecure_localhost);
        assert_eq!(probe.2, 1);
        assert_eq!(probe.0.base_url(), "http://127.0.0.1:1/fhir");
    }
}
