//! Discovery of `<base>/.well-known/smart-configuration`.

use http::Method;

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
        }
    }

    fn discovered(self, metadata: &SmartMetadata) -> Option<&str> {
        match self {
            ServerEndpoint::Authorization => metadata.authorization_endpoint.as_deref(),
            ServerEndpoint::Token => metadata.token_endpoint.as_deref(),
            ServerEndpoint::Registration => metadata.registration_endpoint.as_deref(),
            ServerEndpoint::Introspection => metadata.introspection_endpoint.as_deref(),
            ServerEndpoint::Revocation => metadata.revocation_endpoint.as_deref(),
        }
    }

    /// The URL to send to: the configured one, else the discovered one, https checked either
    /// way. A discovered document without it is a [`DiscoveryError`] naming the field.
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
        if let Some(endpoint) = self.configured(config) {
            return Ok(endpoint.to_owned());
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
                _ => format!("response missing required field '{}'", self.field()),
            };
            return Err(DiscoveryError::new(&config.discovery_url(), None, Some(hint)).into());
        };
        config.check_endpoint(self.field(), endpoint)?;
        Ok(endpoint.to_owned())
    }
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

/// Fetches and parses the SMART configuration. Output: [`SmartMetadata`].
#[derive(Debug)]
pub struct DiscoveryFlow {
    config: ClientConfig,
    request: Option<HttpRequest>,
}

impl DiscoveryFlow {
    /// Discovery for `config`'s base URL.
    pub fn new(config: &ClientConfig) -> Self {
        Self {
            config: config.clone(),
            request: discovery_request(config).ok(),
        }
    }
}

impl Flow for DiscoveryFlow {
    type Output = SmartMetadata;

    fn config(&self) -> Option<&ClientConfig> {
        Some(&self.config)
    }

    fn start(&mut self, _env: &mut Env<'_>) -> Result<Step<SmartMetadata>, Error> {
        match self.request.take() {
            Some(request) => Ok(Step::Send(request)),
            None => Err(DiscoveryError::new(
                &self.config.discovery_url(),
                None,
                Some("the discovery URL is not a usable URI".into()),
            )
            .into()),
        }
    }

    fn on_response(
        &mut self,
        response: HttpResponse,
        _env: &mut Env<'_>,
    ) -> Result<Step<SmartMetadata>, Error> {
        let url = self.config.discovery_url();
        Ok(Step::Done(parse_discovery_response(&url, response)?))
    }
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
}
