//! Discovery of `<base>/.well-known/smart-configuration`.

use http::Method;

use crate::config::ClientConfig;
use crate::error::{DiscoveryError, Error};
use crate::flow::{Env, Flow, HttpRequest, HttpResponse, Operation, Step};
use crate::metadata::SmartMetadata;
use crate::requests;

/// The discovery GET for `config`.
///
/// ```
/// use safire_core::{ClientConfig, discovery::discovery_request};
/// let config = ClientConfig::builder("https://ehr.example/r4/").build()?;
/// let request = discovery_request(&config)?;
/// assert_eq!(request.uri(), "https://ehr.example/r4/.well-known/smart-configuration");
/// # Ok::<(), safire_core::Error>(())
/// ```
pub fn discovery_request(config: &ClientConfig) -> Result<HttpRequest, Error> {
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
    url: String,
    request: Option<HttpRequest>,
}

impl DiscoveryFlow {
    /// Discovery for `config`'s base URL.
    pub fn new(config: &ClientConfig) -> Self {
        Self {
            url: config.discovery_url(),
            request: discovery_request(config).ok(),
        }
    }
}

impl Flow for DiscoveryFlow {
    type Output = SmartMetadata;

    fn start(&mut self, _env: &mut Env<'_>) -> Result<Step<SmartMetadata>, Error> {
        match self.request.take() {
            Some(request) => Ok(Step::Send(request)),
            None => Err(DiscoveryError::new(
                &self.url,
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
        Ok(Step::Done(parse_discovery_response(&self.url, response)?))
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
