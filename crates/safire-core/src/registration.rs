//! Dynamic client registration (RFC 7591), optionally with an initial access token.

use std::sync::Arc;

use http::{HeaderValue, Method};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::ClientConfig;
use crate::discovery::ServerEndpoint;
use crate::error::{ConfigurationError, Error};
use crate::flow::{Env, Flow, Step};
use crate::metadata::SmartMetadata;
use crate::registration_response::RegisteredClient;
use crate::requests::{self, HttpRequest, HttpResponse, Operation};
use crate::secret::SecretString;

/// The client metadata sent to the registration endpoint (RFC 7591 §2).
///
/// ```
/// use safire_core::ClientMetadata;
/// let metadata = ClientMetadata::new("My SMART App")
///     .redirect_uris(["https://app.example/callback"])
///     .grant_types(["authorization_code", "refresh_token"])
///     .token_endpoint_auth_method("none")
///     .scope("launch/patient openid fhirUser patient/*.rs");
/// let json = serde_json::to_value(&metadata).unwrap();
/// assert_eq!(json["client_name"], "My SMART App");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientMetadata {
    /// Human-readable name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Redirect URIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// Grant types the client will use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types: Vec<String>,
    /// Response types (`code`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_types: Vec<String>,
    /// `none`, `client_secret_basic` or `private_key_jwt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// Space-separated scopes the client may ask for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client's public keys, by value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// The client's public keys, by reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Any other RFC 7591 or server-specific field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ClientMetadata {
    /// Metadata for a client called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            client_name: Some(name.into()),
            ..Self::default()
        }
    }

    /// Sets the redirect URIs.
    pub fn redirect_uris<I: IntoIterator<Item = S>, S: Into<String>>(mut self, uris: I) -> Self {
        self.redirect_uris = uris.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the grant types.
    pub fn grant_types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, types: I) -> Self {
        self.grant_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the response types.
    pub fn response_types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, types: I) -> Self {
        self.response_types = types.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the token endpoint authentication method.
    pub fn token_endpoint_auth_method(mut self, method: impl Into<String>) -> Self {
        self.token_endpoint_auth_method = Some(method.into());
        self
    }

    /// Sets the space-separated scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Sets the public keys (e.g. a [`Jwks`](crate::Jwks) made from the signing key).
    pub fn jwks(mut self, jwks: &impl Serialize) -> Self {
        self.jwks = serde_json::to_value(jwks).ok();
        self
    }

    /// Sets any other field.
    pub fn field(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extra.insert(name.into(), value);
        self
    }
}

/// Registers a client. Output: [`RegisteredClient`].
///
/// The endpoint is the one given, else the discovered `registration_endpoint`; https is
/// enforced whatever its source. The initial access token is sent as `Authorization`:
/// verbatim when it names a scheme (`Bearer abc`), else as `Bearer <token>`.
pub struct RegistrationFlow {
    config: Arc<ClientConfig>,
    body: Result<Vec<u8>, String>,
    endpoint: Option<String>,
    initial_access_token: Option<SecretString>,
    metadata: Option<Arc<SmartMetadata>>,
}

impl RegistrationFlow {
    /// Registration of `client` for `config`'s server.
    pub fn new(config: Arc<ClientConfig>, client: &ClientMetadata) -> Self {
        Self {
            config,
            body: serde_json::to_vec(client).map_err(|e| e.to_string()),
            endpoint: None,
            initial_access_token: None,
            metadata: None,
        }
    }

    /// Use this endpoint instead of the discovered one.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into()).filter(|e| !e.trim().is_empty());
        self
    }

    /// Send this initial access token.
    pub fn initial_access_token(mut self, token: impl Into<SecretString>) -> Self {
        self.initial_access_token = Some(token.into());
        self
    }

    fn resolve_endpoint(&self) -> Result<String, Error> {
        match &self.endpoint {
            Some(endpoint) => {
                self.config
                    .check_endpoint("registration_endpoint", endpoint)?;
                Ok(endpoint.clone())
            }
            None => ServerEndpoint::Registration.resolve(&self.config, self.metadata.as_deref()),
        }
    }

    fn body(&self) -> Result<Vec<u8>, ConfigurationError> {
        self.body.clone().map_err(|e| {
            ConfigurationError::invalid("client metadata", format!("cannot be serialized: {e}"))
        })
    }

    fn registration_request(&self, endpoint: &str) -> Result<HttpRequest, Error> {
        let body = self.body()?;
        let authorization = match &self.initial_access_token {
            None => None,
            Some(token) => {
                let raw = token.expose().trim();
                let value = if raw.contains(' ') {
                    raw.to_owned()
                } else {
                    format!("Bearer {raw}")
                };
                Some(HeaderValue::try_from(value).map_err(|_| {
                    ConfigurationError::invalid(
                        "initial_access_token",
                        "contains characters that cannot be sent in a header",
                    )
                })?)
            }
        };
        requests::build(
            Method::POST,
            endpoint,
            Operation::Registration,
            Some("application/json"),
            authorization,
            body,
        )
    }
}

impl Flow for RegistrationFlow {
    type Output = RegisteredClient;

    fn config(&self) -> Option<&ClientConfig> {
        Some(&self.config)
    }

    fn endpoints(&self) -> &[ServerEndpoint] {
        match self.endpoint {
            Some(_) => &[],
            None => &[ServerEndpoint::Registration],
        }
    }

    fn preflight(&self) -> Result<(), Error> {
        self.body().map(|_| ()).map_err(Error::from)
    }

    fn provide_metadata(&mut self, metadata: Arc<SmartMetadata>) {
        self.metadata = Some(metadata);
    }

    fn start(&mut self, _env: &mut Env<'_>) -> Result<Step<RegisteredClient>, Error> {
        let endpoint = self.resolve_endpoint()?;
        Ok(Step::Send(self.registration_request(&endpoint)?))
    }

    fn on_response(
        &mut self,
        response: HttpResponse,
        _env: &mut Env<'_>,
    ) -> Result<Step<RegisteredClient>, Error> {
        let client = RegisteredClient::parse(response.status().as_u16(), response.body())?;
        Ok(Step::Done(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;
    use std::time::SystemTime;

    fn config(allow_http: bool, base: &str) -> Arc<ClientConfig> {
        Arc::new(
            ClientConfig::builder(base)
                .allow_insecure_localhost(allow_http)
                .build()
                .unwrap(),
        )
    }

    fn metadata() -> ClientMetadata {
        ClientMetadata::new("Test App")
            .redirect_uris(["https://app.example/cb"])
            .token_endpoint_auth_method("none")
    }

    fn run(
        flow: RegistrationFlow,
        responses: Vec<HttpResponse>,
    ) -> (Vec<HttpRequest>, Result<RegisteredClient, Error>) {
        let mut random = SeededRandom::new(1);
        let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
        let mut sent = Vec::new();
        let limits = crate::flow::Limits::default()
            .allow_insecure_localhost(flow.config.allow_insecure_localhost());
        let mut flow = crate::flow::Driver::new(flow, limits);
        let mut step = match flow.start(&mut env) {
            Ok(step) => step,
            Err(e) => return (sent, Err(e)),
        };
        let mut responses = responses.into_iter();
        loop {
            match step {
                Step::Done(client) => return (sent, Ok(client)),
                Step::Send(request) => {
                    sent.push(request);
                    let response = responses.next().expect("test supplies enough responses");
                    step = match flow.on_response(response, &mut env) {
                        Ok(step) => step,
                        Err(e) => return (sent, Err(e)),
                    };
                }
            }
        }
    }

    fn json(status: u16, body: &str) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn explicit_endpoint_with_initial_access_token() {
        let flow = RegistrationFlow::new(config(false, "https://ehr.example/fhir"), &metadata())
            .endpoint("https://ehr.example/register")
            .initial_access_token("iat-canary");
        let (sent, result) = run(
            flow,
            vec![json(201, r#"{"client_id":"c-1","client_secret":"s"}"#)],
        );
        let client = result.unwrap();
        assert_eq!(client.client_id, "c-1");
        assert_eq!(sent.len(), 1);
        let request = &sent[0];
        assert_eq!(request.headers()["authorization"], "Bearer iat-canary");
        assert_eq!(request.headers()["content-type"], "application/json");
        let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
        assert_eq!(body["redirect_uris"][0], "https://app.example/cb");
        assert_eq!(body["token_endpoint_auth_method"], "none");
    }

    #[test]
    fn scheme_given_is_sent_verbatim() {
        let flow = RegistrationFlow::new(config(false, "https://ehr.example/fhir"), &metadata())
            .endpoint("https://ehr.example/register")
            .initial_access_token("Bearer abc");
        let (sent, _) = run(flow, vec![json(201, r#"{"client_id":"c"}"#)]);
        assert_eq!(sent[0].headers()["authorization"], "Bearer abc");
    }

    #[test]
    fn discovered_endpoint_and_its_absence() {
        let flow = RegistrationFlow::new(config(false, "https://ehr.example/fhir"), &metadata());
        let (sent, result) = run(
            flow,
            vec![
                json(
                    200,
                    r#"{"registration_endpoint":"https://ehr.example/reg"}"#,
                ),
                json(201, r#"{"client_id":"c-2"}"#),
            ],
        );
        assert_eq!(result.unwrap().client_id, "c-2");
        assert_eq!(sent[1].uri(), "https://ehr.example/reg");
        assert!(sent[1].headers().get("authorization").is_none());

        let flow = RegistrationFlow::new(config(false, "https://ehr.example/fhir"), &metadata());
        let (_, result) = run(flow, vec![json(200, r#"{"token_endpoint":"https://t"}"#)]);
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Discovery(_)));
        assert!(
            err.to_string()
                .contains("does not advertise a 'registration_endpoint'"),
            "{err}"
        );
    }

    #[test]
    fn https_enforced_whatever_the_source() {
        let flow = RegistrationFlow::new(config(false, "https://ehr.example/fhir"), &metadata())
            .endpoint("http://ehr.example/register");
        let (sent, result) = run(flow, vec![]);
        assert!(sent.is_empty());
        assert!(matches!(result.unwrap_err(), Error::Configuration(_)));

        let flow = RegistrationFlow::new(config(false, "https://ehr.example/fhir"), &metadata());
        let (sent, result) = run(
            flow,
            vec![json(
                200,
                r#"{"registration_endpoint":"http://ehr.example/reg"}"#,
            )],
        );
        assert_eq!(sent.len(), 1, "nothing sent to the http endpoint");
        crate::discovery::assert_advertised_http_refused(
            &result.unwrap_err(),
            "registration_endpoint",
            "http://ehr.example/reg",
        );

        let flow = RegistrationFlow::new(config(true, "http://127.0.0.1:8080/fhir"), &metadata())
            .endpoint("http://127.0.0.1:8080/register");
        let (_, result) = run(flow, vec![json(201, r#"{"client_id":"c"}"#)]);
        assert!(result.is_ok());
    }

    #[test]
    fn errors_carry_status_and_code() {
        let flow = RegistrationFlow::new(config(false, "https://ehr.example/fhir"), &metadata())
            .endpoint("https://ehr.example/register");
        let (_, result) = run(
            flow,
            vec![json(
                400,
                r#"{"error":"invalid_redirect_uri","error_description":"Redirect URI must use HTTPS"}"#,
            )],
        );
        let err = result.unwrap_err();
        assert_eq!(
            err.to_string(),
            "Client registration failed — HTTP 400 — invalid_redirect_uri — Redirect URI must use HTTPS"
        );
        assert!(matches!(err, Error::Registration(_)));
    }
}
