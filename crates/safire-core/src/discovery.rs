//! Discovery of `<base>/.well-known/smart-configuration`, falling back to the authorization
//! server's RFC 8414 or OpenID Connect metadata when the FHIR server publishes none and the
//! client is configured with the authorization server's issuer.

use http::Method;
use std::borrow::Cow;

use crate::config::ClientConfig;
use crate::error::{ConfigurationError, DiscoveryError, Error};
use crate::flow::{Env, Flow, Step};
use crate::metadata::SmartMetadata;
use crate::requests::{self, HttpRequest, HttpResponse, Operation};

/// A server endpoint a flow sends to: configured explicitly, or taken from the discovered
/// metadata by one rule ([`ServerEndpoint::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerEndpoint {
    /// `authorization_endpoint`.
    Authorization,
    /// `token_endpoint`.
    Token,
    /// `registration_endpoint` (RFC 7591).
    Registration,
    /// `introspection_endpoint` (RFC 7662).
    Introspection,
    /// `revocation_endpoint` (RFC 7009).
    Revocation,
    /// `jwks_uri`: the authorization server's JWK Set (id_token signing keys); configured
    /// with [`ClientConfigBuilder::server_jwks_uri`](crate::ClientConfigBuilder::server_jwks_uri).
    Jwks,
}

impl ServerEndpoint {
    /// The metadata field (and configuration attribute) naming this endpoint.
    pub fn field(self) -> &'static str {
        match self {
            ServerEndpoint::Authorization => "authorization_endpoint",
            ServerEndpoint::Token => "token_endpoint",
            ServerEndpoint::Registration => "registration_endpoint",
            ServerEndpoint::Introspection => "introspection_endpoint",
            ServerEndpoint::Revocation => "revocation_endpoint",
            ServerEndpoint::Jwks => "jwks_uri",
        }
    }

    /// The endpoint as configured explicitly, if it is.
    pub fn configured(self, config: &ClientConfig) -> Option<&str> {
        match self {
            ServerEndpoint::Authorization => config.authorization_endpoint(),
            ServerEndpoint::Token => config.token_endpoint(),
            ServerEndpoint::Registration => None,
            ServerEndpoint::Introspection => config.introspection_endpoint(),
            ServerEndpoint::Revocation => config.revocation_endpoint(),
            ServerEndpoint::Jwks => config.server_jwks_uri(),
        }
    }

    fn discovered(self, metadata: &SmartMetadata) -> Option<&str> {
        match self {
            ServerEndpoint::Authorization => metadata.authorization_endpoint.as_deref(),
            ServerEndpoint::Token => metadata.token_endpoint.as_deref(),
            ServerEndpoint::Registration => metadata.registration_endpoint.as_deref(),
            ServerEndpoint::Introspection => metadata.introspection_endpoint.as_deref(),
            ServerEndpoint::Revocation => metadata.revocation_endpoint.as_deref(),
            ServerEndpoint::Jwks => metadata.jwks_uri.as_deref(),
        }
    }

    /// The URL to send to: the configured one, else the discovered one, https checked either
    /// way. A discovered document without it is a [`DiscoveryError`] naming the field.
    ///
    /// A discovered URL is the server's choice: a relative one is resolved against the FHIR
    /// base URL (SMART: clients SHOULD; [`SmartMetadata::compliance_findings`] reports it),
    /// and one that is not https (or carries `user:password@`) is a [`DiscoveryError`]
    /// naming the field and the URL ([`ErrorSource::Server`](crate::ErrorSource::Server)).
    ///
    /// ```
    /// use safire_core::{ClientConfig, ServerEndpoint, SmartMetadata};
    /// let config = ClientConfig::builder("https://ehr.example/fhir").build()?;
    /// let metadata: SmartMetadata = serde_json::from_str(r#"{"token_endpoint":"https://ehr.example/t"}"#).unwrap();
    /// assert_eq!(ServerEndpoint::Token.resolve(&config, Some(&metadata))?, "https://ehr.example/t");
    /// assert!(ServerEndpoint::Authorization.resolve(&config, Some(&metadata)).is_err());
    /// # Ok::<(), safire_core::Error>(())
    /// ```
    pub fn resolve(
        self,
        config: &ClientConfig,
        metadata: Option<&SmartMetadata>,
    ) -> Result<String, Error> {
        self.resolve_borrowed(config, metadata).map(Cow::into_owned)
    }

    /// [`resolve`](Self::resolve) without copying a configured endpoint: what the flows
    /// building a request use (the URL is parsed once more there anyway).
    pub(crate) fn resolve_borrowed<'c>(
        self,
        config: &'c ClientConfig,
        metadata: Option<&SmartMetadata>,
    ) -> Result<Cow<'c, str>, Error> {
        if let Some(endpoint) = self.configured(config) {
            return Ok(Cow::Borrowed(endpoint));
        }
        let Some(metadata) = metadata else {
            return Err(ConfigurationError::invalid(
                self.field(),
                "is neither configured nor discovered; run the flow through a Driver (which \
                 discovers it) or configure it",
            )
            .into());
        };
        let Some(endpoint) = self.discovered(metadata) else {
            let hint = match self {
                ServerEndpoint::Registration => {
                    "server does not advertise a 'registration_endpoint' — the server may not \
                     support Dynamic Client Registration, or the endpoint must be passed explicitly"
                        .to_owned()
                }
                ServerEndpoint::Introspection | ServerEndpoint::Revocation => format!(
                    "server does not advertise a '{}' — configure it with \
                     ClientConfigBuilder::{}",
                    self.field(),
                    self.field()
                ),
                ServerEndpoint::Jwks => {
                    "server does not advertise a 'jwks_uri', so the id_token cannot be \
                     verified; configure it with ClientConfigBuilder::server_jwks_uri"
                        .to_owned()
                }
                _ => format!("response missing required field '{}'", self.field()),
            };
            return Err(DiscoveryError::new(&config.discovery_url(), None, Some(hint)).into());
        };
        let endpoint = absolute_endpoint(config, endpoint);
        // The server chose this URL: a refusal is its fault, not the configuration's.
        if let Some(why) = config.refuse_server_endpoint(self.field(), &endpoint) {
            return Err(DiscoveryError::new(
                &config.discovery_url(),
                None,
                Some(format!(
                    "the server advertises {} {}, {why}",
                    self.field(),
                    crate::error::url_for_message(&endpoint)
                )),
            )
            .into());
        }
        Ok(Cow::Owned(endpoint))
    }
}

/// A relative endpoint URL in the metadata, resolved against the FHIR base URL (SMART App
/// Launch: clients SHOULD; [`SmartMetadata::compliance_findings`] reports it). Absolute
/// URLs, and anything that does not resolve, come back unchanged.
fn absolute_endpoint(config: &ClientConfig, endpoint: &str) -> String {
    if !crate::metadata::is_relative_reference(endpoint) {
        return endpoint.to_owned();
    }
    let base = format!("{}/", config.base_url().trim_end_matches('/'));
    url::Url::parse(&base)
        .and_then(|base| base.join(endpoint))
        .map_or_else(|_| endpoint.to_owned(), String::from)
}

/// The discovery GET for `config` (one trailing `/` of the base is dropped).
pub(crate) fn discovery_request(config: &ClientConfig) -> Result<HttpRequest, Error> {
    requests::build(
        Method::GET,
        &config.discovery_url(),
        Operation::Discovery,
        None,
        None,
        Vec::new(),
    )
}

/// Parses the discovery response: 2xx with a JSON object body (whatever the content type),
/// or a [`DiscoveryError`] naming the endpoint and status.
pub fn parse_discovery_response(
    endpoint: &str,
    response: HttpResponse,
) -> Result<SmartMetadata, DiscoveryError> {
    let status = response.status();
    if !requests::is_success(status) {
        return Err(DiscoveryError::new(endpoint, Some(status.as_u16()), None));
    }
    match SmartMetadata::from_body(response.body()) {
        Some(metadata) => Ok(metadata),
        None => Err(DiscoveryError::new(
            endpoint,
            Some(status.as_u16()),
            Some("response is not a usable JSON object".into()),
        )),
    }
}

/// What a 404 for the SMART configuration tells the user to do.
const NO_METADATA_HINT: &str = "the server publishes no SMART configuration; configure the \
     endpoints explicitly (ClientConfigBuilder::token_endpoint, ::authorization_endpoint), or, \
     if its authorization server publishes RFC 8414 or OpenID Connect metadata, configure \
     ClientConfigBuilder::authorization_server_issuer to use it";

/// Which document a discovery step fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `<base>/.well-known/smart-configuration`.
    Smart,
    /// RFC 8414 `/.well-known/oauth-authorization-server` of the configured issuer.
    OAuthServer,
    /// OpenID Connect Discovery `<issuer>/.well-known/openid-configuration`.
    OpenId,
}

/// RFC 8414 §3.1: the well-known segment goes between the issuer's host and its path.
fn oauth_server_metadata_url(issuer: &str) -> Option<String> {
    let url = url::Url::parse(issuer).ok()?;
    let path = url.path().trim_end_matches('/');
    let mut origin = url.origin().ascii_serialization();
    origin.push_str("/.well-known/oauth-authorization-server");
    origin.push_str(path);
    Some(origin)
}

/// OpenID Connect Discovery 1.0 §4: the well-known segment is appended to the issuer.
fn openid_metadata_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Fetches and parses the SMART configuration. Output: [`SmartMetadata`].
///
/// When `<base>/.well-known/smart-configuration` answers 404 and the configuration names the
/// authorization server's issuer
/// ([`authorization_server_issuer`](crate::ClientConfigBuilder::authorization_server_issuer)),
/// the endpoints are taken from that issuer's RFC 8414 metadata
/// (`/.well-known/oauth-authorization-server`), else from its OpenID Connect metadata
/// (`/.well-known/openid-configuration`). Their `issuer` must be identical to the configured
/// one (RFC 8414 §3.3, OpenID Connect Discovery §4.3), or discovery fails.
///
/// ```
/// # use safire_core::*;
/// # use std::time::SystemTime;
/// let config = ClientConfig::builder("https://api.example/fhir")
///     .authorization_server_issuer("https://login.example")
///     .build()?;
/// let metadata = run_blocking(
///     DiscoveryFlow::new(&config),
///     &Limits::default(),
///     &mut SeededRandom::new(1),
///     SystemTime::now,
///     |request| {
///         let (status, body): (u16, &[u8]) = match request.uri().to_string().as_str() {
///             "https://login.example/.well-known/oauth-authorization-server" => (200, br#"{
///                 "issuer": "https://login.example",
///                 "token_endpoint": "https://login.example/token",
///                 "jwks_uri": "https://login.example/keys"}"#),
///             _ => (404, b""), // no SMART configuration at the FHIR server
///         };
///         Ok::<_, Error>(http::Response::builder().status(status).body(body.to_vec()).unwrap())
///     },
/// )?;
/// assert_eq!(metadata.jwks_uri.as_deref(), Some("https://login.example/keys"));
/// # Ok::<(), safire_core::Error>(())
/// ```
#[derive(Debug)]
pub struct DiscoveryFlow {
    config: ClientConfig,
    source: Source,
    url: String,
}

impl DiscoveryFlow {
    /// Discovery for `config`'s base URL.
    pub fn new(config: &ClientConfig) -> Self {
        Self {
            config: config.clone(),
            source: Source::Smart,
            url: config.discovery_url(),
        }
    }

    fn request(&self) -> Result<HttpRequest, Error> {
        requests::build(
            Method::GET,
            &self.url,
            Operation::Discovery,
            None,
            None,
            Vec::new(),
        )
        .map_err(|_| {
            DiscoveryError::new(
                &self.url,
                None,
                Some("the discovery URL is not a usable URI".into()),
            )
            .into()
        })
    }

    /// The next document to try after a 404, if any.
    fn fallback(&self) -> Option<(Source, String)> {
        let issuer = self.config.authorization_server_issuer()?;
        match self.source {
            Source::Smart => match oauth_server_metadata_url(issuer) {
                Some(url) => Some((Source::OAuthServer, url)),
                None => Some((Source::OpenId, openid_metadata_url(issuer))),
            },
            Source::OAuthServer => Some((Source::OpenId, openid_metadata_url(issuer))),
            Source::OpenId => None,
        }
    }

    /// Feeds the response to the last request: the next request (a fallback document) or the
    /// metadata.
    pub(crate) fn step(&mut self, response: HttpResponse) -> Result<Step<SmartMetadata>, Error> {
        if response.status() == http::StatusCode::NOT_FOUND {
            if let Some((source, url)) = self.fallback() {
                self.source = source;
                self.url = url;
                return Ok(Step::Send(self.request()?));
            }
            if self.source == Source::Smart {
                return Err(DiscoveryError::new(
                    &self.url,
                    Some(404),
                    Some(NO_METADATA_HINT.into()),
                )
                .into());
            }
        }
        if response.status() == http::StatusCode::NOT_FOUND && self.source == Source::OpenId {
            return Err(DiscoveryError::new(
                &self.url,
                Some(404),
                Some(
                    "neither the FHIR server nor the configured authorization server issuer \
                     publishes metadata; configure the endpoints explicitly \
                     (ClientConfigBuilder::token_endpoint, ::authorization_endpoint)"
                        .into(),
                ),
            )
            .into());
        }
        let metadata = parse_discovery_response(&self.url, response)?;
        if self.source != Source::Smart {
            let expected = self
                .config
                .authorization_server_issuer()
                .unwrap_or_default();
            if metadata.issuer.as_deref() != Some(expected) {
                return Err(DiscoveryError::new(
                    &self.url,
                    None,
                    Some(format!(
                        "the metadata's issuer {} is not the configured issuer '{expected}' \
                         (RFC 8414 §3.3 and OpenID Connect Discovery §4.3 require them identical)",
                        metadata.issuer.as_deref().map_or_else(
                            || "(absent)".to_owned(),
                            |i| format!("'{}'", crate::error::server_text(i))
                        )
                    )),
                )
                .into());
            }
        }
        Ok(Step::Done(metadata))
    }
}

impl Flow for DiscoveryFlow {
    type Output = SmartMetadata;

    fn config(&self) -> Option<&ClientConfig> {
        Some(&self.config)
    }

    fn start(&mut self, _env: &mut Env<'_>) -> Result<Step<SmartMetadata>, Error> {
        Ok(Step::Send(self.request()?))
    }

    fn on_response(
        &mut self,
        response: HttpResponse,
        _env: &mut Env<'_>,
    ) -> Result<Step<SmartMetadata>, Error> {
        self.step(response)
    }
}

/// Asserts that `err` refuses the http `url` the server advertised as `field`, blaming the
/// server (for the flows' tests).
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_advertised_http_refused(err: &Error, field: &str, url: &str) {
    let expected = format!("the server advertises {field} {url}, which is not https");
    assert!(err.to_string().contains(&expected), "{err}");
    // The server advertised it: not the caller's configuration to fix.
    assert_eq!(err.source_of_fault(), crate::ErrorSource::Server);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn respond(status: u16, body: &str) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .header("content-type", "text/html")
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    const URL: &str = "https://ehr.example/fhir/.well-known/smart-configuration";

    #[test]
    fn request_is_a_plain_json_get() {
        let config = ClientConfig::builder("https://ehr.example/fhir")
            .build()
            .unwrap();
        let request = discovery_request(&config).unwrap();
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.headers()["accept"], "application/json");
        assert!(request.headers().get("authorization").is_none());
        assert_eq!(
            request.extensions().get::<Operation>(),
            Some(&Operation::Discovery)
        );
    }

    #[test]
    fn json_object_accepted_whatever_the_content_type() {
        let metadata =
            parse_discovery_response(URL, respond(200, r#"{"token_endpoint":"https://t"}"#))
                .unwrap();
        assert_eq!(metadata.token_endpoint.as_deref(), Some("https://t"));
    }

    #[test]
    fn errors_name_endpoint_and_status() {
        let err = parse_discovery_response(URL, respond(500, "<html>oops</html>")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Failed to discover SMART configuration from {URL} (HTTP 500)")
        );
        for body in ["[1,2]", "\"str\"", "null", "", "{not json", "42"] {
            let err = parse_discovery_response(URL, respond(200, body)).unwrap_err();
            assert_eq!(err.status, Some(200));
            assert!(
                err.to_string()
                    .ends_with(": response is not a usable JSON object"),
                "{body}"
            );
        }
    }

    fn metadata(json: serde_json::Value) -> SmartMetadata {
        SmartMetadata::from_json_object(json.as_object().unwrap().clone())
    }

    #[test]
    fn an_insecure_endpoint_the_server_advertises_is_the_servers_fault() {
        let config = ClientConfig::builder("https://ehr.example/fhir")
            .build()
            .unwrap();
        for (url, why) in [
            ("http://ehr.example/token", "not https"),
            ("https://user:pw@ehr.example/token", "user credentials"),
        ] {
            let err = ServerEndpoint::Token
                .resolve(
                    &config,
                    Some(&metadata(serde_json::json!({"token_endpoint": url}))),
                )
                .unwrap_err();
            assert!(matches!(err, Error::Discovery(_)), "{err:?}");
            assert_eq!(err.source_of_fault(), crate::ErrorSource::Server);
            let text = err.to_string();
            assert!(
                text.contains("token_endpoint") && text.contains(why),
                "{text}"
            );
            assert!(!text.contains("pw"), "{text}");
        }
        // The same URL configured by the user stays the caller's to fix.
        let err = ClientConfig::builder("https://ehr.example/fhir")
            .token_endpoint("http://ehr.example/token")
            .build()
            .unwrap_err();
        assert_eq!(
            Error::from(err).source_of_fault(),
            crate::ErrorSource::Caller
        );
    }

    #[test]
    fn relative_endpoints_resolve_against_the_fhir_base() {
        let config = ClientConfig::builder("https://ehr.example/r4/fhir/")
            .build()
            .unwrap();
        let meta = metadata(serde_json::json!({
            "token_endpoint": "/auth/token",
            "authorization_endpoint": "authorize",
            "revocation_endpoint": "https://other.example/revoke",
        }));
        let resolve = |endpoint: ServerEndpoint| endpoint.resolve(&config, Some(&meta)).unwrap();
        assert_eq!(
            resolve(ServerEndpoint::Token),
            "https://ehr.example/auth/token"
        );
        assert_eq!(
            resolve(ServerEndpoint::Authorization),
            "https://ehr.example/r4/fhir/authorize"
        );
        assert_eq!(
            resolve(ServerEndpoint::Revocation),
            "https://other.example/revoke"
        );
        let findings = meta.compliance_findings();
        let relative: Vec<_> = findings
            .iter()
            .filter(|f| f.message.contains("relative URL"))
            .filter_map(|f| f.field.as_deref())
            .collect();
        assert_eq!(relative, ["authorization_endpoint", "token_endpoint"]);
    }

    #[test]
    fn a_missing_smart_configuration_names_the_explicit_endpoint_options() {
        let config = ClientConfig::builder("https://ehr.example/fhir")
            .build()
            .unwrap();
        let mut flow = DiscoveryFlow::new(&config);
        let err = flow.step(respond(404, "")).unwrap_err();
        let text = err.to_string();
        for option in [
            "token_endpoint",
            "authorization_endpoint",
            "authorization_server_issuer",
        ] {
            assert!(text.contains(option), "{text}");
        }
        // With an issuer configured, the last fallback's 404 still names the options.
        let config = ClientConfig::builder("https://ehr.example/fhir")
            .authorization_server_issuer("https://login.example")
            .build()
            .unwrap();
        let mut flow = DiscoveryFlow::new(&config);
        assert!(matches!(flow.step(respond(404, "")), Ok(Step::Send(_))));
        assert!(matches!(flow.step(respond(404, "")), Ok(Step::Send(_))));
        let text = flow.step(respond(404, "")).unwrap_err().to_string();
        assert!(
            text.contains("ClientConfigBuilder::token_endpoint"),
            "{text}"
        );
    }
}
