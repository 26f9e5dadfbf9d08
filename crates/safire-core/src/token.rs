//! Token requests: authorization-code exchange, refresh, and backend services
//! (`client_credentials`), with client authentication applied here, never in a transport.

use std::sync::Arc;

use base64ct::{Base64, Encoding};
use http::{HeaderValue, Method};

use crate::assertion::{ClientAssertion, MAX_ASSERTION_LIFETIME, Signer};
use crate::authorize::AuthorizationCode;
use crate::config::{BasicAuthEncoding, CallOptions, ClientAuth, ClientConfig};
use crate::discovery::{discovery_request, parse_discovery_response};
use crate::error::{ConfigurationError, DiscoveryError, Error, TokenError};
use crate::flow::{Env, Flow, HttpRequest, HttpResponse, Operation, Step};
use crate::metadata::SmartMetadata;
use crate::oauth_error::parse_oauth_error;
use crate::requests;
use crate::secret::SecretString;
use crate::token_response::{TokenFlowKind, TokenResponse};

/// The `client_assertion_type` for JWT client authentication (RFC 7523).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Token request parameters that Safire sets and [`CallOptions::extra_param`] may not.
const RESERVED_PARAMS: &[&str] = &[
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// Scopes a backend services request asks for when none are configured or given.
pub const DEFAULT_BACKEND_SCOPES: &[&str] = &["system/*.rs"];

/// What is being exchanged for a token.
#[derive(Debug, Clone)]
pub enum Grant {
    /// `authorization_code` with its PKCE verifier.
    AuthorizationCode(AuthorizationCode),
    /// `refresh_token`, optionally narrowing scopes via [`CallOptions::scopes`].
    RefreshToken(SecretString),
    /// `client_credentials` (SMART Backend Services), always with a signed assertion.
    ClientCredentials,
}

impl Grant {
    fn kind(&self) -> TokenFlowKind {
        match self {
            Grant::AuthorizationCode(_) => TokenFlowKind::AppLaunch,
            Grant::RefreshToken(_) => TokenFlowKind::Refresh,
            Grant::ClientCredentials => TokenFlowKind::BackendServices,
        }
    }
}

/// How the client proves who it is, once credentials are resolved from config and overrides.
enum ResolvedAuth {
    Public,
    Basic(HeaderValue),
    Assertion {
        signer: Arc<dyn Signer>,
        kid: String,
    },
}

/// A token request as a flow. Output: [`TokenResponse`].
///
/// ```
/// # use safire_core::*;
/// # use std::time::SystemTime;
/// let config = ClientConfig::builder("https://ehr.example/fhir")
///     .client_id("app")
///     .token_endpoint("https://ehr.example/token")
///     .build()?;
/// let mut flow = TokenFlow::refresh(config.into(), "rt-1");
/// let mut random = SeededRandom::new(1);
/// let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
/// let Step::Send(request) = flow.start(&mut env)? else { unreachable!() };
/// assert_eq!(request.body(), b"grant_type=refresh_token&refresh_token=rt-1&client_id=app");
/// # Ok::<(), safire_core::Error>(())
/// ```
pub struct TokenFlow {
    config: Arc<ClientConfig>,
    grant: Grant,
    options: CallOptions,
    metadata: Option<Arc<SmartMetadata>>,
    awaiting: Awaiting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    Nothing,
    Discovery,
    Token,
}

impl TokenFlow {
    /// A flow for `grant`.
    pub fn new(config: Arc<ClientConfig>, grant: Grant) -> Self {
        Self {
            config,
            grant,
            options: CallOptions::default(),
            metadata: None,
            awaiting: Awaiting::Nothing,
        }
    }

    /// Exchanges the code from a verified callback.
    pub fn authorization_code(config: Arc<ClientConfig>, code: AuthorizationCode) -> Self {
        Self::new(config, Grant::AuthorizationCode(code))
    }

    /// Refreshes with `refresh_token`.
    pub fn refresh(config: Arc<ClientConfig>, refresh_token: impl Into<SecretString>) -> Self {
        Self::new(config, Grant::RefreshToken(refresh_token.into()))
    }

    /// A backend services (`client_credentials`) request.
    pub fn backend_services(config: Arc<ClientConfig>) -> Self {
        Self::new(config, Grant::ClientCredentials)
    }

    /// Per-call overrides (secret, key and kid, scopes).
    pub fn with_options(mut self, options: CallOptions) -> Self {
        self.options = options;
        self
    }

    fn scopes(&self) -> Option<Vec<String>> {
        match &self.grant {
            Grant::AuthorizationCode(_) => None,
            Grant::RefreshToken(_) => self.options.scopes.clone(),
            Grant::ClientCredentials => Some(
                self.options
                    .scopes
                    .clone()
                    .filter(|s| !s.is_empty())
                    .or_else(|| Some(self.config.scopes().to_vec()).filter(|s| !s.is_empty()))
                    .unwrap_or_else(|| {
                        DEFAULT_BACKEND_SCOPES
                            .iter()
                            .map(|s| (*s).to_owned())
                            .collect()
                    }),
            ),
        }
    }

    /// Resolves credentials, or lists every missing one.
    fn resolve_auth(&self) -> Result<ResolvedAuth, ConfigurationError> {
        let client_id = self.config.require_client_id()?;
        let configured = self.config.client_auth();
        let wants_assertion = matches!(self.grant, Grant::ClientCredentials)
            || matches!(configured, ClientAuth::PrivateKeyJwt { .. });
        self.check_overrides_fit(wants_assertion, configured)?;
        if wants_assertion {
            let (config_signer, config_kid) = match configured {
                ClientAuth::PrivateKeyJwt { signer, kid } => (signer.clone(), kid.clone()),
                _ => (None, None),
            };
            let signer = self.options.signer.clone().or(config_signer);
            let kid = self
                .options
                .kid
                .clone()
                .or(config_kid)
                .filter(|k| !k.trim().is_empty());
            return match (signer, kid) {
                (Some(signer), Some(kid)) => Ok(ResolvedAuth::Assertion { signer, kid }),
                (signer, kid) => {
                    let mut missing = Vec::new();
                    if signer.is_none() {
                        missing.push("private_key");
                    }
                    if kid.is_none() {
                        missing.push("kid");
                    }
                    Err(ConfigurationError::missing(missing))
                }
            };
        }
        match configured {
            ClientAuth::ClientSecretBasic { secret, encoding } => {
                let secret = self
                    .options
                    .client_secret
                    .clone()
                    .or_else(|| secret.clone())
                    .filter(|s| !s.is_blank())
                    .ok_or_else(|| ConfigurationError::missing(["client_secret"]))?;
                Ok(ResolvedAuth::Basic(basic_authorization(
                    client_id, &secret, *encoding,
                )?))
            }
            _ => Ok(ResolvedAuth::Public),
        }
    }

    /// Per-call credentials must fit how the client authenticates: silently dropping a secret
    /// or key the caller passed would send the request with other credentials than intended.
    fn check_overrides_fit(
        &self,
        wants_assertion: bool,
        configured: &ClientAuth,
    ) -> Result<(), ConfigurationError> {
        let method = if wants_assertion {
            "private_key_jwt"
        } else {
            configured.method_name()
        };
        let mismatch = |given: &str| {
            ConfigurationError::invalid(
                given,
                format!(
                    "given per call, but this request authenticates with '{method}'; configure \
                     the matching ClientAuth or drop the override"
                ),
            )
        };
        let key_given = self.options.signer.is_some() || self.options.kid.is_some();
        if self.options.client_secret.is_some() && method != "client_secret_basic" {
            return Err(mismatch("client_secret"));
        }
        if key_given && method != "private_key_jwt" {
            return Err(mismatch("private_key"));
        }
        Ok(())
    }

    fn token_endpoint(&self) -> Result<Option<String>, Error> {
        if let Some(endpoint) = self.config.token_endpoint() {
            return Ok(Some(endpoint.to_owned()));
        }
        let Some(metadata) = &self.metadata else {
            return Ok(None);
        };
        let Some(endpoint) = metadata.token_endpoint.clone() else {
            return Err(DiscoveryError::new(
                &self.config.discovery_url(),
                None,
                Some("response missing required field 'token_endpoint'".into()),
            )
            .into());
        };
        self.config.check_endpoint("token_endpoint", &endpoint)?;
        Ok(Some(endpoint))
    }

    fn token_request(&self, endpoint: &str, env: &mut Env<'_>) -> Result<HttpRequest, Error> {
        let auth = self.resolve_auth()?;
        let client_id = self.config.require_client_id()?;
        let scope = self.scopes().map(|s| s.join(" "));
        let mut form: Vec<(&str, &str)> = Vec::with_capacity(8);
        match &self.grant {
            Grant::AuthorizationCode(code) => {
                form.push(("grant_type", "authorization_code"));
                form.push(("code", code.code.expose()));
                form.push(("redirect_uri", &code.redirect_uri));
                form.push(("code_verifier", code.code_verifier.expose()));
            }
            Grant::RefreshToken(token) => {
                form.push(("grant_type", "refresh_token"));
                form.push(("refresh_token", token.expose()));
            }
            Grant::ClientCredentials => form.push(("grant_type", "client_credentials")),
        }
        if let Some(scope) = &scope {
            form.push(("scope", scope));
        }
        for (name, value) in &self.options.extra_params {
            if RESERVED_PARAMS.contains(&name.as_str()) {
                return Err(ConfigurationError::invalid(
                    "extra_param",
                    format!("'{name}' is set by Safire itself and cannot be overridden"),
                )
                .into());
            }
            form.push((name, value));
        }
        let assertion;
        let mut authorization = None;
        match &auth {
            ResolvedAuth::Public => form.push(("client_id", client_id)),
            ResolvedAuth::Basic(header) => authorization = Some(header.clone()),
            ResolvedAuth::Assertion { signer, kid } => {
                assertion = ClientAssertion {
                    signer: signer.as_ref(),
                    kid,
                    jku: self.config.jwks_uri(),
                    client_id,
                    audience: endpoint,
                    lifetime: MAX_ASSERTION_LIFETIME,
                }
                .sign(env.now, env.random)?;
                form.push(("client_assertion_type", JWT_BEARER_ASSERTION_TYPE));
                form.push(("client_assertion", assertion.expose()));
            }
        }
        requests::build(
            Method::POST,
            endpoint,
            Operation::Token,
            Some("application/x-www-form-urlencoded"),
            authorization,
            requests::form_body(form),
        )
    }
}

/// `Basic base64(id:secret)` with the chosen encoding of id and secret.
pub fn basic_authorization(
    client_id: &str,
    secret: &SecretString,
    encoding: BasicAuthEncoding,
) -> Result<HeaderValue, ConfigurationError> {
    let credentials = match encoding {
        BasicAuthEncoding::Raw => format!("{client_id}:{}", secret.expose()),
        BasicAuthEncoding::FormUrlEncoded => format!(
            "{}:{}",
            form_urlencode(client_id),
            form_urlencode(secret.expose())
        ),
    };
    let mut value = HeaderValue::try_from(format!(
        "Basic {}",
        Base64::encode_string(credentials.as_bytes())
    ))
    .map_err(|_| ConfigurationError::invalid("client_secret", "cannot be sent in a header"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// RFC 6749 Appendix B encoding: unreserved characters stay, space becomes `+`, every other
/// byte is percent-encoded.
fn form_urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// Parses a token endpoint response: 2xx → [`TokenResponse`], otherwise a [`TokenError`]
/// carrying the OAuth error fields.
pub fn parse_token_response(
    response: &HttpResponse,
    received_at: std::time::SystemTime,
) -> Result<TokenResponse, TokenError> {
    let status = response.status();
    if !requests::is_success(status) {
        return Err(TokenError {
            oauth: parse_oauth_error(status.as_u16(), response.body()),
            received_fields: Vec::new(),
            detail: None,
        });
    }
    TokenResponse::parse(status.as_u16(), response.body(), received_at)
}

impl Flow for TokenFlow {
    type Output = TokenResponse;

    fn wants_metadata(&self) -> bool {
        self.metadata.is_none() && self.config.token_endpoint().is_none()
    }

    fn provide_metadata(&mut self, metadata: Arc<SmartMetadata>) {
        self.metadata = Some(metadata);
    }

    fn start(&mut self, env: &mut Env<'_>) -> Result<Step<TokenResponse>, Error> {
        // Every credential problem surfaces before any request, discovery included.
        self.resolve_auth()?;
        match self.token_endpoint()? {
            Some(endpoint) => {
                self.awaiting = Awaiting::Token;
                Ok(Step::Send(self.token_request(&endpoint, env)?))
            }
            None => {
                self.awaiting = Awaiting::Discovery;
                Ok(Step::Send(discovery_request(&self.config)?))
            }
        }
    }

    fn on_response(
        &mut self,
        response: HttpResponse,
        env: &mut Env<'_>,
    ) -> Result<Step<TokenResponse>, Error> {
        match self.awaiting {
            Awaiting::Discovery => {
                let metadata = parse_discovery_response(&self.config.discovery_url(), response)?;
                self.metadata = Some(Arc::new(metadata));
                let endpoint = self.token_endpoint()?.ok_or_else(|| {
                    DiscoveryError::new(
                        &self.config.discovery_url(),
                        None,
                        Some("response missing required field 'token_endpoint'".into()),
                    )
                })?;
                self.awaiting = Awaiting::Token;
                Ok(Step::Send(self.token_request(&endpoint, env)?))
            }
            Awaiting::Token | Awaiting::Nothing => {
                self.awaiting = Awaiting::Nothing;
                let mut token = parse_token_response(&response, env.now)?;
                if let Some(kind) = token
                    .token_type
                    .as_deref()
                    .filter(|t| !t.eq_ignore_ascii_case("bearer"))
                {
                    return Err(TokenError {
                        oauth: crate::error::OAuthErrorFields {
                            status: Some(response.status().as_u16()),
                            ..Default::default()
                        },
                        received_fields: Vec::new(),
                        detail: Some(
                            format!(
                                "unsupported token_type '{}': Safire uses Bearer tokens (DPoP and \
                                 other proof-of-possession types are not supported)",
                                crate::error::server_text(kind)
                            )
                            .into(),
                        ),
                    }
                    .into());
                }
                let findings = token.compliance_findings(self.grant.kind());
                token.findings = findings;
                Ok(Step::Done(token))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::AuthorizationCode;
    use crate::random::SeededRandom;
    use std::collections::HashMap;
    use std::time::SystemTime;

    fn builder() -> crate::config::ClientConfigBuilder {
        ClientConfig::builder("https://ehr.example/fhir")
            .client_id("my-app")
            .token_endpoint("https://ehr.example/token")
    }

    fn first_request(flow: &mut TokenFlow) -> Result<HttpRequest, Error> {
        let mut random = SeededRandom::new(1);
        match flow.start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random))? {
            Step::Send(request) => Ok(request),
            Step::Done(_) => panic!("a token flow always sends"),
        }
    }

    fn form(request: &HttpRequest) -> HashMap<String, String> {
        url::form_urlencoded::parse(request.body())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn code() -> AuthorizationCode {
        AuthorizationCode {
            code: SecretString::new("code-canary"),
            code_verifier: SecretString::new("v".repeat(64)),
            redirect_uri: "https://app.example/cb".into(),
        }
    }

    #[test]
    fn public_code_exchange() {
        let config = Arc::new(builder().build().unwrap());
        let request = first_request(&mut TokenFlow::authorization_code(config, code())).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri(), "https://ehr.example/token");
        assert_eq!(
            request.headers()["content-type"],
            "application/x-www-form-urlencoded"
        );
        assert!(request.headers().get("authorization").is_none());
        let f = form(&request);
        assert_eq!(f["grant_type"], "authorization_code");
        assert_eq!(f["code"], "code-canary");
        assert_eq!(f["redirect_uri"], "https://app.example/cb");
        assert_eq!(f["code_verifier"], "v".repeat(64));
        assert_eq!(f["client_id"], "my-app");
    }

    #[test]
    fn basic_auth_both_encodings() {
        let secret = SecretString::new("p@ss w:rd");
        let rfc =
            basic_authorization("my app", &secret, BasicAuthEncoding::FormUrlEncoded).unwrap();
        let raw = basic_authorization("my app", &secret, BasicAuthEncoding::Raw).unwrap();
        let decode = |v: &HeaderValue| {
            let b64 = v
                .to_str()
                .unwrap()
                .strip_prefix("Basic ")
                .unwrap()
                .to_owned();
            String::from_utf8(Base64::decode_vec(&b64).unwrap()).unwrap()
        };
        assert_eq!(decode(&rfc), "my+app:p%40ss+w%3Ard");
        assert_eq!(decode(&raw), "my app:p@ss w:rd");
        assert!(rfc.is_sensitive());
        let plain = SecretString::new("abc-123_~.");
        assert_eq!(
            basic_authorization("id", &plain, BasicAuthEncoding::FormUrlEncoded).unwrap(),
            basic_authorization("id", &plain, BasicAuthEncoding::Raw).unwrap()
        );
    }

    #[test]
    fn symmetric_client_sends_basic_and_no_client_id() {
        let config = Arc::new(
            builder()
                .client_auth(ClientAuth::client_secret_basic("secret-canary"))
                .build()
                .unwrap(),
        );
        let request = first_request(&mut TokenFlow::refresh(config.clone(), "rt")).unwrap();
        assert!(
            request.headers()["authorization"]
                .to_str()
                .unwrap()
                .starts_with("Basic ")
        );
        assert!(!form(&request).contains_key("client_id"));
        // Per-call secret override wins.
        let overridden = first_request(
            &mut TokenFlow::refresh(config, "rt")
                .with_options(CallOptions::new().client_secret("rotated")),
        )
        .unwrap();
        assert_ne!(
            overridden.headers()["authorization"],
            request.headers()["authorization"]
        );
    }

    #[test]
    fn missing_credentials_fail_before_any_request() {
        let no_secret = Arc::new(
            builder()
                .client_auth(ClientAuth::ClientSecretBasic {
                    secret: None,
                    encoding: BasicAuthEncoding::Raw,
                })
                .build()
                .unwrap(),
        );
        let err = first_request(&mut TokenFlow::refresh(no_secret, "rt")).unwrap_err();
        assert_eq!(err.to_string(), "Configuration missing: client_secret");

        let no_key = Arc::new(
            ClientConfig::builder("https://ehr.example/fhir")
                .client_id("svc")
                .client_auth(ClientAuth::PrivateKeyJwt {
                    signer: None,
                    kid: None,
                })
                .build()
                .unwrap(),
        );
        // No token endpoint configured either: the credential error still comes first.
        let err = first_request(&mut TokenFlow::backend_services(no_key)).unwrap_err();
        assert_eq!(err.to_string(), "Configuration missing: private_key, kid");

        let no_client = Arc::new(
            ClientConfig::builder("https://ehr.example/fhir")
                .build()
                .unwrap(),
        );
        let err = first_request(&mut TokenFlow::refresh(no_client, "rt")).unwrap_err();
        assert_eq!(err.to_string(), "Configuration missing: client_id");
    }

    #[test]
    fn refresh_with_narrower_scopes() {
        let config = Arc::new(builder().build().unwrap());
        let request = first_request(
            &mut TokenFlow::refresh(config, "rt-canary")
                .with_options(CallOptions::new().scopes(["patient/Observation.rs"])),
        )
        .unwrap();
        let f = form(&request);
        assert_eq!(f["grant_type"], "refresh_token");
        assert_eq!(f["refresh_token"], "rt-canary");
        assert_eq!(f["scope"], "patient/Observation.rs");
    }

    #[test]
    fn discovers_the_token_endpoint_first_and_requires_https() {
        let config = Arc::new(
            ClientConfig::builder("https://ehr.example/fhir")
                .client_id("a")
                .build()
                .unwrap(),
        );
        let mut flow = TokenFlow::refresh(config, "rt");
        assert!(flow.wants_metadata());
        let mut random = SeededRandom::new(1);
        let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
        let Step::Send(discovery) = flow.start(&mut env).unwrap() else {
            panic!()
        };
        assert_eq!(
            discovery.extensions().get::<Operation>(),
            Some(&Operation::Discovery)
        );
        let response = http::Response::builder()
            .status(200)
            .body(br#"{"token_endpoint":"https://ehr.example/t"}"#.to_vec())
            .unwrap();
        let Step::Send(token) = flow.on_response(response, &mut env).unwrap() else {
            panic!()
        };
        assert_eq!(token.uri(), "https://ehr.example/t");

        let config = Arc::new(
            ClientConfig::builder("https://ehr.example/fhir")
                .client_id("a")
                .build()
                .unwrap(),
        );
        let mut flow = TokenFlow::refresh(config.clone(), "rt");
        flow.provide_metadata(Arc::new(SmartMetadata::from_json_object(
            serde_json::json!({"token_endpoint": "http://ehr.example/t"})
                .as_object()
                .unwrap()
                .clone(),
        )));
        let err = flow.start(&mut env).unwrap_err();
        assert!(
            err.to_string()
                .contains("requires HTTPS for: token_endpoint"),
            "{err}"
        );

        let mut flow = TokenFlow::refresh(config, "rt");
        flow.provide_metadata(Arc::new(SmartMetadata::from_json_object(
            serde_json::Map::new(),
        )));
        let err = flow.start(&mut env).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("response missing required field 'token_endpoint'"),
            "{err}"
        );
    }

    #[test]
    fn extra_params_are_sent_but_cannot_override() {
        let config = Arc::new(builder().build().unwrap());
        let request = first_request(&mut TokenFlow::refresh(config.clone(), "rt").with_options(
            CallOptions::new().extra_param("resource", "https://other.example/fhir"),
        ))
        .unwrap();
        assert_eq!(form(&request)["resource"], "https://other.example/fhir");
        let err = first_request(
            &mut TokenFlow::refresh(config, "rt")
                .with_options(CallOptions::new().extra_param("client_id", "evil")),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("'client_id' is set by Safire"),
            "{err}"
        );
    }

    #[test]
    fn overrides_that_do_not_fit_the_auth_method_are_refused() {
        let public = Arc::new(builder().build().unwrap());
        let err = first_request(
            &mut TokenFlow::refresh(public, "rt")
                .with_options(CallOptions::new().client_secret("s")),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("Invalid client_secret: given per call"),
            "{err}"
        );
        let symmetric = Arc::new(
            builder()
                .client_auth(ClientAuth::client_secret_basic("s"))
                .build()
                .unwrap(),
        );
        let key: Arc<dyn Signer> = Arc::new(
            crate::assertion::PrivateKey::generate_es384(&mut SeededRandom::new(1)).unwrap(),
        );
        let err = first_request(
            &mut TokenFlow::refresh(symmetric, "rt")
                .with_options(CallOptions::new().private_key(key.clone(), "k")),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("Invalid private_key: given per call"),
            "{err}"
        );
        // Backend services always use an assertion: a per-call key is what it needs.
        let backend = Arc::new(builder().build().unwrap());
        let request = first_request(
            &mut TokenFlow::backend_services(backend)
                .with_options(CallOptions::new().private_key(key, "k")),
        )
        .unwrap();
        assert!(form(&request).contains_key("client_assertion"));
        assert!(!form(&request).contains_key("client_id"));
    }

    #[test]
    fn non_bearer_tokens_are_refused() {
        let config = Arc::new(builder().build().unwrap());
        let mut flow = TokenFlow::refresh(config, "rt");
        let mut random = SeededRandom::new(1);
        let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
        flow.start(&mut env).unwrap();
        let response = http::Response::builder()
            .status(200)
            .body(br#"{"access_token":"at-canary","token_type":"DPoP","scope":"x"}"#.to_vec())
            .unwrap();
        let err = flow.on_response(response, &mut env).unwrap_err();
        assert!(
            err.to_string().contains("unsupported token_type 'DPoP'"),
            "{err}"
        );
        assert!(!format!("{err:?}").contains("at-canary"));
    }

    #[test]
    fn oauth_errors_become_token_errors() {
        let config = Arc::new(builder().build().unwrap());
        let mut flow = TokenFlow::refresh(config, "rt");
        let mut random = SeededRandom::new(1);
        let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
        flow.start(&mut env).unwrap();
        let response = http::Response::builder()
            .status(400)
            .body(
                br#"{"error":"invalid_grant","error_description":"Refresh token expired"}"#
                    .to_vec(),
            )
            .unwrap();
        let err = flow.on_response(response, &mut env).unwrap_err();
        assert_eq!(err.status(), Some(400));
        assert_eq!(err.error_code(), Some("invalid_grant"));
        assert_eq!(
            err.to_string(),
            "Token request failed — HTTP 400 — invalid_grant — Refresh token expired"
        );
    }
}
