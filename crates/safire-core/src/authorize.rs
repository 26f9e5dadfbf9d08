//! The authorization request (GET or POST), the pending state the app keeps across the
//! redirect, the callback check, and EHR launch parsing.

use std::fmt;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use url::Url;

use crate::config::ClientConfig;
use crate::discovery::{discovery_request, parse_discovery_response};
use crate::error::{
    AuthError, AuthErrorKind, ConfigurationError, Error, OAuthErrorFields, server_text,
};
use crate::flow::{Env, Flow, HttpResponse, Step};
use crate::metadata::SmartMetadata;
use crate::pkce::{Pkce, random_hex};
use crate::secret::SecretString;

/// How the authorization request reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AuthorizationMethod {
    /// A redirect to the endpoint with the parameters in the query (the default).
    #[default]
    Get,
    /// An auto-submitting HTML form (SMART `authorize-post`).
    Post,
}

/// What to ask for in one authorization request.
///
/// ```
/// use safire_core::AuthorizeParams;
/// let standalone = AuthorizeParams::default();
/// let ehr = AuthorizeParams::ehr_launch("xyz123").post();
/// assert_eq!(ehr.launch.as_deref(), Some("xyz123"));
/// # let _ = standalone;
/// ```
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    /// GET (default) or POST.
    pub method: AuthorizationMethod,
    /// The `launch` value of an EHR launch; `None` for a standalone launch.
    pub launch: Option<String>,
    /// Scopes for this request instead of the configured ones.
    pub scopes: Option<Vec<String>>,
    /// Further parameters (`prompt`, `login_hint`, …); the standard ones cannot be overridden.
    pub extra: Vec<(String, String)>,
}

impl AuthorizeParams {
    /// An EHR launch with the `launch` value the EHR passed.
    pub fn ehr_launch(launch: impl Into<String>) -> Self {
        Self {
            launch: Some(launch.into()),
            ..Self::default()
        }
    }

    /// Use POST-based authorization.
    pub fn post(mut self) -> Self {
        self.method = AuthorizationMethod::Post;
        self
    }

    /// Adds a further parameter such as `prompt=consent`.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// Ask for these scopes instead of the configured ones.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }
}

/// The authorization request to send the user's browser to, and what to keep until the callback.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// GET or POST.
    pub method: AuthorizationMethod,
    /// GET: the endpoint with the query to redirect to. POST: the bare endpoint (form action).
    pub url: Url,
    /// POST: the form fields. GET: the same parameters, for inspection.
    pub params: Vec<(String, String)>,
    /// Store this in the user's session; it completes the flow at the callback.
    pub pending: PendingAuthorization,
}

impl AuthorizationRequest {
    /// An HTML page that submits the request (POST) or follows it (GET) by itself, with every
    /// value HTML-escaped.
    pub fn auto_submit_html(&self) -> String {
        let action = escape_html(self.url.as_str());
        if self.method == AuthorizationMethod::Get {
            return format!(
                "<!DOCTYPE html><html><head><meta http-equiv=\"refresh\" content=\"0;url={action}\"></head>\
                 <body><a href=\"{action}\">Continue to sign in</a></body></html>"
            );
        }
        let mut html = format!(
            "<!DOCTYPE html><html><body onload=\"document.forms[0].submit()\">\
             <form method=\"post\" action=\"{action}\">"
        );
        for (name, value) in &self.params {
            html.push_str(&format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape_html(name),
                escape_html(value)
            ));
        }
        html.push_str("<noscript><button type=\"submit\">Continue to sign in</button></noscript></form></body></html>");
        html
    }
}

fn escape_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What an app stores across the redirect (in its session) to finish the flow at the callback.
///
/// It serializes with its secrets: the PKCE verifier and state are in it in plain text, so keep
/// it server-side or in an encrypted session, never in a cookie that is only signed. Its
/// `Debug` shows neither. Refuse stale ones with [`is_older_than`](Self::is_older_than).
///
/// The RFC 9207 `iss` check compares the callback's `iss` with the issuer the SMART
/// configuration names. SMART discovery does not bind that issuer to the URL it came from, so
/// an app that talks to several authorization servers should also give each its own
/// redirect URI (RFC 9700 §4.4) and look pending authorizations up per server.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    state: SecretString,
    code_verifier: SecretString,
    client_id: String,
    /// The `aud` sent: the FHIR server this authorization is for.
    aud: String,
    redirect_uri: String,
    /// Issuers the RFC 9207 `iss` callback parameter may name.
    expected_issuers: Vec<String>,
    /// Whether the server promised to send `iss` (RFC 9207 metadata).
    issuer_required: bool,
    scopes: Vec<String>,
    /// Seconds since the Unix epoch when the request was made.
    created_at: u64,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("state", &self.state)
            .field("code_verifier", &self.code_verifier)
            .field("client_id", &self.client_id)
            .field("aud", &self.aud)
            .field("redirect_uri", &self.redirect_uri)
            .field("expected_issuers", &self.expected_issuers)
            .field("scopes", &self.scopes)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// The authorization code returned by a verified callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    /// The code (redacted in `Debug`).
    pub code: SecretString,
    /// The PKCE verifier to send with it.
    pub code_verifier: SecretString,
    /// The redirect URI the code was issued for.
    pub redirect_uri: String,
}

impl PendingAuthorization {
    /// The `state` value sent (to look the pending authorization up in a store).
    pub fn state(&self) -> &str {
        self.state.expose()
    }

    /// The PKCE verifier.
    pub fn code_verifier(&self) -> &SecretString {
        &self.code_verifier
    }

    /// The client that started the authorization: only it may redeem the code.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The FHIR server (`aud`) the authorization is for: pick the client for it at the callback.
    pub fn aud(&self) -> &str {
        &self.aud
    }

    /// True when the authorization was started more than `max_age` before `now`: apps should
    /// refuse stale pending authorizations (10 minutes is a sensible limit).
    pub fn is_older_than(&self, now: std::time::SystemTime, max_age: std::time::Duration) -> bool {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        now.saturating_sub(self.created_at) > max_age.as_secs()
    }

    /// The redirect URI used.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The scopes requested.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// When the request was made, in seconds since the Unix epoch.
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// Verifies the callback URL (or just its query string) and returns the code.
    ///
    /// Checks, in order: `state` present and equal (constant time), RFC 9207 `iss` equal to the
    /// expected issuer when present (required when the server advertised it), then `error` →
    /// [`AuthErrorKind::Denied`], then `code`.
    pub fn complete(&self, callback: &str) -> Result<AuthorizationCode, AuthError> {
        let query = callback_query(callback)?;
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        self.complete_with_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Like [`complete`](Self::complete), for frameworks that already parsed the query.
    pub fn complete_with_params<'a>(
        &self,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<AuthorizationCode, AuthError> {
        let mut callback = CallbackParams::default();
        for (name, value) in params {
            let slot = match name {
                "state" => &mut callback.state,
                "code" => &mut callback.code,
                "iss" => &mut callback.iss,
                "error" => &mut callback.error,
                "error_description" => &mut callback.error_description,
                "error_uri" => &mut callback.error_uri,
                _ => continue,
            };
            if slot.is_some() {
                return Err(AuthError::new(
                    AuthErrorKind::MalformedUrl,
                    format!(
                        "the callback repeats the '{name}' parameter; start a new authorization"
                    ),
                ));
            }
            *slot = Some(value.to_owned());
        }
        self.verify(callback)
    }

    fn verify(&self, callback: CallbackParams) -> Result<AuthorizationCode, AuthError> {
        let Some(state) = callback.state else {
            return Err(AuthError::new(
                AuthErrorKind::MissingState,
                "the callback has no 'state' parameter; it did not come from this authorization request",
            ));
        };
        let matches: bool = state
            .as_bytes()
            .ct_eq(self.state.expose().as_bytes())
            .into();
        if !matches {
            return Err(AuthError::new(
                AuthErrorKind::StateMismatch,
                "the callback's state does not match the pending authorization (possible CSRF); start a new authorization",
            ));
        }
        match &callback.iss {
            Some(iss) if !self.issuer_matches(iss) => {
                return Err(AuthError::new(
                    AuthErrorKind::IssuerMismatch,
                    format!(
                        "the callback's iss '{}' is not the expected issuer '{}' (RFC 9207; possible mix-up attack)",
                        server_text(iss),
                        self.expected_issuers
                            .first()
                            .map(String::as_str)
                            .unwrap_or_default()
                    ),
                ));
            }
            None if self.issuer_required => {
                return Err(AuthError::new(
                    AuthErrorKind::IssuerMismatch,
                    "the server advertises RFC 9207 but the callback has no 'iss' parameter",
                ));
            }
            _ => {}
        }
        if let Some(error) = callback.error {
            return Err(AuthError {
                kind: AuthErrorKind::Denied,
                oauth: OAuthErrorFields {
                    status: None,
                    error_code: Some(server_text(&error)),
                    error_description: callback.error_description.as_deref().map(server_text),
                    error_uri: callback.error_uri.as_deref().map(server_text),
                },
                detail: None,
            });
        }
        match callback.code {
            Some(code) if !code.is_empty() => Ok(AuthorizationCode {
                code: SecretString::new(code),
                code_verifier: self.code_verifier.clone(),
                redirect_uri: self.redirect_uri.clone(),
            }),
            _ => Err(AuthError::new(
                AuthErrorKind::MissingCode,
                "the callback has neither 'code' nor 'error'",
            )),
        }
    }

    fn issuer_matches(&self, iss: &str) -> bool {
        let iss = iss.strip_suffix('/').unwrap_or(iss);
        self.expected_issuers
            .iter()
            .any(|expected| expected.strip_suffix('/').unwrap_or(expected) == iss)
    }
}

#[derive(Default)]
struct CallbackParams {
    state: Option<String>,
    code: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    error_uri: Option<String>,
}

/// The query of a callback given as a full URL, a `?query`, or a bare query.
fn callback_query(callback: &str) -> Result<String, AuthError> {
    let trimmed = callback.trim();
    let lower = trimmed.get(..8).unwrap_or(trimmed).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let url = Url::parse(trimmed).map_err(|_| {
            AuthError::new(
                AuthErrorKind::MalformedUrl,
                "the callback URL cannot be parsed",
            )
        })?;
        return Ok(url.query().unwrap_or_default().to_owned());
    }
    Ok(trimmed.strip_prefix('?').unwrap_or(trimmed).to_owned())
}

/// The `iss` and `launch` an EHR passes when it launches the app.
///
/// ```
/// use safire_core::EhrLaunch;
/// let launch = EhrLaunch::from_url(
///     "https://app.example/launch?iss=https%3A%2F%2Fehr.example%2Ffhir&launch=xyz",
///     &["https://ehr.example/fhir"],
/// )?;
/// assert_eq!(launch.iss, "https://ehr.example/fhir");
/// assert!(EhrLaunch::from_url("https://app.example/launch?iss=https://evil.example&launch=x",
///     &["https://ehr.example/fhir"]).is_err());
/// # Ok::<(), safire_core::AuthError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EhrLaunch {
    /// The FHIR base URL of the launching EHR (checked against the allow-list).
    pub iss: String,
    /// The opaque launch value to send back in the authorization request.
    pub launch: String,
}

impl EhrLaunch {
    /// Parses the launch URL (or its query) and accepts `iss` only if it is on the allow-list:
    /// an attacker-chosen `iss` would otherwise receive the app's credentials.
    pub fn from_url(launch_url: &str, allowed_issuers: &[&str]) -> Result<Self, AuthError> {
        let query = callback_query(launch_url)?;
        let mut iss = None;
        let mut launch = None;
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match name.as_ref() {
                "iss" if iss.is_none() => iss = Some(value.into_owned()),
                "launch" if launch.is_none() => launch = Some(value.into_owned()),
                "iss" | "launch" => {
                    return Err(AuthError::new(
                        AuthErrorKind::MalformedLaunch,
                        format!("the launch URL repeats '{name}'"),
                    ));
                }
                _ => {}
            }
        }
        let (Some(iss), Some(launch)) = (iss, launch.filter(|l| !l.is_empty())) else {
            return Err(AuthError::new(
                AuthErrorKind::MalformedLaunch,
                "an EHR launch URL needs both 'iss' and 'launch' parameters",
            ));
        };
        let normalized = iss.strip_suffix('/').unwrap_or(&iss);
        let allowed = allowed_issuers
            .iter()
            .any(|a| a.strip_suffix('/').unwrap_or(a) == normalized);
        if !allowed {
            return Err(AuthError::new(
                AuthErrorKind::LaunchIssuerNotAllowed,
                format!(
                    "the EHR launch names iss '{}', which is not on this app's allow-list; add it if you trust that EHR",
                    server_text(&iss)
                ),
            ));
        }
        Ok(Self { iss, launch })
    }
}

/// Builds the authorization request; discovers the endpoint first when it is not configured
/// (and, for POST, to check that the server advertises `authorize-post`).
pub struct AuthorizeFlow {
    config: Arc<ClientConfig>,
    params: AuthorizeParams,
    metadata: Option<Arc<SmartMetadata>>,
}

impl AuthorizeFlow {
    /// An authorization request for `config` with `params`.
    pub fn new(config: Arc<ClientConfig>, params: AuthorizeParams) -> Self {
        Self {
            config,
            params,
            metadata: None,
        }
    }

    fn needs_metadata(&self) -> bool {
        self.metadata.is_none()
            && (self.config.authorization_endpoint().is_none()
                || self.params.method == AuthorizationMethod::Post)
    }

    fn check_configuration(&self) -> Result<(), ConfigurationError> {
        let mut missing = Vec::new();
        if self.config.client_id().is_none() {
            missing.push("client_id");
        }
        let scopes = self
            .params
            .scopes
            .as_deref()
            .unwrap_or(self.config.scopes());
        if scopes.is_empty() {
            missing.push("scopes");
        }
        if self.config.redirect_uri().is_none() {
            missing.push("redirect_uri");
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ConfigurationError::missing(missing))
        }
    }

    fn build(&self, env: &mut Env<'_>) -> Result<AuthorizationRequest, Error> {
        let config = &self.config;
        let metadata = self.metadata.as_deref();
        let endpoint = match config.authorization_endpoint() {
            Some(endpoint) => endpoint.to_owned(),
            None => {
                let discovered = metadata.and_then(|m| m.authorization_endpoint.clone());
                let Some(endpoint) = discovered else {
                    return Err(ConfigurationError::missing(["authorization_endpoint"]).into());
                };
                config.check_endpoint("authorization_endpoint", &endpoint)?;
                endpoint
            }
        };
        if self.params.method == AuthorizationMethod::Post
            && metadata.is_some_and(|m| !m.supports_post_based_authorization())
        {
            return Err(ConfigurationError::invalid(
                "method",
                "post: the server does not advertise the 'authorize-post' capability; use AuthorizationMethod::Get",
            )
            .into());
        }
        let client_id = config.require_client_id()?;
        let redirect_uri = config
            .redirect_uri()
            .ok_or_else(|| ConfigurationError::missing(["redirect_uri"]))?;
        let scopes: Vec<String> = self
            .params
            .scopes
            .clone()
            .unwrap_or_else(|| config.scopes().to_vec());

        let state = random_hex(env.random, 16)?;
        let pkce = Pkce::generate(env.random)?;
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), client_id.to_owned()),
            ("redirect_uri".into(), redirect_uri.to_owned()),
        ];
        if let Some(launch) = &self.params.launch {
            params.push(("launch".into(), launch.clone()));
        }
        params.extend([
            ("scope".to_owned(), scopes.join(" ")),
            ("state".to_owned(), state.clone()),
            ("aud".to_owned(), config.issuer().to_owned()),
            ("code_challenge".to_owned(), pkce.challenge().to_owned()),
            ("code_challenge_method".to_owned(), "S256".to_owned()),
        ]);

        for (name, value) in &self.params.extra {
            if params.iter().any(|(set, _)| set == name) || name == "launch" {
                return Err(ConfigurationError::invalid(
                    "authorization parameter",
                    format!("'{name}' is set by Safire itself and cannot be overridden"),
                )
                .into());
            }
            params.push((name.clone(), value.clone()));
        }
        let mut url = Url::parse(&endpoint).map_err(|_| ConfigurationError::Uris {
            invalid: vec!["authorization_endpoint".into()],
            non_https: vec![],
        })?;
        if self.params.method == AuthorizationMethod::Get {
            url.query_pairs_mut()
                .extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }

        // RFC 9207: the configured authorization server issuer wins over the discovered one.
        let mut expected_issuers = Vec::new();
        let server_issuer = config
            .authorization_server_issuer()
            .map(str::to_owned)
            .or_else(|| metadata.and_then(|m| m.issuer.clone()));
        if let Some(issuer) = server_issuer {
            expected_issuers.push(issuer);
        }
        if !expected_issuers.iter().any(|i| i == config.issuer()) {
            expected_issuers.push(config.issuer().to_owned());
        }
        let issuer_required = metadata
            .and_then(|m| {
                m.extra
                    .get("authorization_response_iss_parameter_supported")
            })
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let created_at = env
            .now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);

        Ok(AuthorizationRequest {
            method: self.params.method,
            url,
            params,
            pending: PendingAuthorization {
                state: SecretString::new(state),
                code_verifier: pkce.into_verifier(),
                client_id: client_id.to_owned(),
                aud: config.issuer().to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                expected_issuers,
                issuer_required,
                scopes,
                created_at,
            },
        })
    }
}

impl Flow for AuthorizeFlow {
    type Output = AuthorizationRequest;

    fn wants_metadata(&self) -> bool {
        self.needs_metadata()
    }

    fn provide_metadata(&mut self, metadata: Arc<SmartMetadata>) {
        self.metadata = Some(metadata);
    }

    fn start(&mut self, env: &mut Env<'_>) -> Result<Step<AuthorizationRequest>, Error> {
        self.check_configuration()?;
        if self.needs_metadata() {
            return Ok(Step::Send(discovery_request(&self.config)?));
        }
        Ok(Step::Done(self.build(env)?))
    }

    fn on_response(
        &mut self,
        response: HttpResponse,
        env: &mut Env<'_>,
    ) -> Result<Step<AuthorizationRequest>, Error> {
        let metadata = parse_discovery_response(&self.config.discovery_url(), response)?;
        self.metadata = Some(Arc::new(metadata));
        Ok(Step::Done(self.build(env)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SeededRandom;
    use std::time::SystemTime;

    fn config() -> Arc<ClientConfig> {
        Arc::new(
            ClientConfig::builder("https://ehr.example/fhir")
                .client_id("my-app")
                .redirect_uri("https://app.example/cb")
                .scopes(["launch/patient", "patient/*.rs", "openid", "fhirUser"])
                .authorization_endpoint("https://ehr.example/authorize?tenant=7")
                .build()
                .unwrap(),
        )
    }

    fn start(flow: AuthorizeFlow, seed: u64) -> AuthorizationRequest {
        let mut random = SeededRandom::new(seed);
        let mut flow = flow;
        match flow
            .start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random))
            .unwrap()
        {
            Step::Done(request) => request,
            Step::Send(_) => panic!("no discovery expected"),
        }
    }

    fn query(url: &Url) -> std::collections::HashMap<String, String> {
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn get_request_has_every_parameter() {
        let request = start(AuthorizeFlow::new(config(), AuthorizeParams::default()), 1);
        let q = query(&request.url);
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "my-app");
        assert_eq!(q["redirect_uri"], "https://app.example/cb");
        assert_eq!(q["scope"], "launch/patient patient/*.rs openid fhirUser");
        assert_eq!(q["aud"], "https://ehr.example/fhir");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["tenant"], "7", "existing endpoint query is kept");
        assert_eq!(q["state"], request.pending.state());
        assert_eq!(q["state"].len(), 32);
        assert_eq!(
            q["code_challenge"],
            crate::pkce::s256_challenge(request.pending.code_verifier().expose())
        );
        assert!(!q.contains_key("launch"));
    }

    #[test]
    fn ehr_launch_and_post() {
        let flow = AuthorizeFlow::new(config(), AuthorizeParams::ehr_launch("L-1").post());
        let mut flow = flow;
        flow.provide_metadata(Arc::new(SmartMetadata::from_json_object(
            serde_json::json!({"capabilities": ["authorize-post"]})
                .as_object()
                .unwrap()
                .clone(),
        )));
        let request = start(flow, 2);
        assert_eq!(request.method, AuthorizationMethod::Post);
        assert_eq!(request.url.query(), Some("tenant=7"));
        assert!(request.params.contains(&("launch".into(), "L-1".into())));
        let html = request.auto_submit_html();
        assert!(html.contains("name=\"launch\" value=\"L-1\""));
    }

    #[test]
    fn extra_parameters() {
        let request = start(
            AuthorizeFlow::new(
                config(),
                AuthorizeParams::default().param("prompt", "consent"),
            ),
            3,
        );
        assert_eq!(query(&request.url)["prompt"], "consent");
        let mut flow = AuthorizeFlow::new(config(), AuthorizeParams::default().param("state", "x"));
        let mut random = SeededRandom::new(1);
        assert!(
            flow.start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random))
                .is_err()
        );
    }

    #[test]
    fn post_refused_when_not_advertised() {
        let mut flow = AuthorizeFlow::new(config(), AuthorizeParams::default().post());
        flow.provide_metadata(Arc::new(SmartMetadata::from_json_object(
            serde_json::json!({"capabilities": ["launch-standalone"]})
                .as_object()
                .unwrap()
                .clone(),
        )));
        let mut random = SeededRandom::new(1);
        let err = flow
            .start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random))
            .unwrap_err();
        assert!(err.to_string().contains("authorize-post"), "{err}");
    }

    #[test]
    fn missing_configuration_is_listed_at_once() {
        let config = Arc::new(
            ClientConfig::builder("https://ehr.example/fhir")
                .build()
                .unwrap(),
        );
        let mut flow = AuthorizeFlow::new(config, AuthorizeParams::default());
        let mut random = SeededRandom::new(1);
        let err = flow
            .start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Configuration missing: client_id, scopes, redirect_uri"
        );
    }

    #[test]
    fn discovery_first_when_endpoint_unknown() {
        let config = Arc::new(
            ClientConfig::builder("https://ehr.example/fhir")
                .client_id("a")
                .redirect_uri("https://app.example/cb")
                .scopes(["openid"])
                .build()
                .unwrap(),
        );
        let mut flow = AuthorizeFlow::new(config, AuthorizeParams::default());
        let mut random = SeededRandom::new(1);
        let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
        let Step::Send(request) = flow.start(&mut env).unwrap() else {
            panic!()
        };
        assert_eq!(
            request.uri(),
            "https://ehr.example/fhir/.well-known/smart-configuration"
        );
        let body = br#"{"authorization_endpoint":"http://ehr.example/auth","token_endpoint":"https://ehr.example/token"}"#;
        let response = http::Response::builder()
            .status(200)
            .body(body.to_vec())
            .unwrap();
        let err = flow.on_response(response, &mut env).unwrap_err();
        assert!(
            err.to_string()
                .contains("requires HTTPS for: authorization_endpoint"),
            "{err}"
        );
    }

    fn pending() -> PendingAuthorization {
        start(AuthorizeFlow::new(config(), AuthorizeParams::default()), 5).pending
    }

    #[test]
    fn callback_happy_path_and_iss() {
        let p = pending();
        let cb = format!(
            "https://app.example/cb?code=abc&state={}&iss=https%3A%2F%2Fehr.example%2Ffhir",
            p.state()
        );
        let code = p.complete(&cb).unwrap();
        assert_eq!(code.code.expose(), "abc");
        assert_eq!(code.code_verifier, *p.code_verifier());
        let bare = format!("code=abc&state={}", p.state());
        assert!(p.complete(&bare).is_ok());
    }

    #[test]
    fn callback_rejections() {
        let p = pending();
        let wrong_state = p.complete("?code=abc&state=0123").unwrap_err();
        assert_eq!(wrong_state.kind, AuthErrorKind::StateMismatch);
        assert_eq!(
            p.complete("?code=abc").unwrap_err().kind,
            AuthErrorKind::MissingState
        );
        let mixup = p
            .complete(&format!(
                "?code=abc&state={}&iss=https://evil.example",
                p.state()
            ))
            .unwrap_err();
        assert_eq!(mixup.kind, AuthErrorKind::IssuerMismatch);
        let denied = p
            .complete(&format!(
                "?error=access_denied&error_description=User+said+no&state={}",
                p.state()
            ))
            .unwrap_err();
        assert_eq!(denied.kind, AuthErrorKind::Denied);
        assert_eq!(
            denied.to_string(),
            "Authorization request failed — access_denied — User said no"
        );
        let no_code = p.complete(&format!("?state={}", p.state())).unwrap_err();
        assert_eq!(no_code.kind, AuthErrorKind::MissingCode);
        let repeated = p
            .complete(&format!("?state={0}&state={0}&code=a", p.state()))
            .unwrap_err();
        assert_eq!(repeated.kind, AuthErrorKind::MalformedUrl);
    }

    #[test]
    fn pending_round_trips_and_redacts() {
        let p = pending();
        let json = serde_json::to_string(&p).unwrap();
        let back: PendingAuthorization = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        let debug = format!("{p:?}");
        assert!(!debug.contains(p.code_verifier().expose()));
        assert!(!debug.contains(p.state()));
    }

    #[test]
    fn bare_queries_with_urls_in_values_are_queries() {
        let p = pending();
        let bare = format!("iss=https://ehr.example/fhir&code=abc&state={}", p.state());
        assert!(p.complete(&bare).is_ok());
        let launch = EhrLaunch::from_url(
            "iss=https://ehr.example/fhir&launch=abc",
            &["https://ehr.example/fhir"],
        )
        .unwrap();
        assert_eq!(launch.launch, "abc");
        let upper = format!("HTTPS://app.example/cb?code=abc&state={}", p.state());
        assert!(p.complete(&upper).is_ok());
    }

    #[test]
    fn configured_server_issuer_is_what_iss_must_name() {
        let config = Arc::new(
            ClientConfig::builder("https://ehr.example/fhir")
                .client_id("my-app")
                .redirect_uri("https://app.example/cb")
                .scopes(["openid"])
                .authorization_endpoint("https://auth.ehr.example/authorize")
                .authorization_server_issuer("https://auth.ehr.example")
                .build()
                .unwrap(),
        );
        let p = start(AuthorizeFlow::new(config, AuthorizeParams::default()), 8).pending;
        assert_eq!(p.aud(), "https://ehr.example/fhir");
        assert_eq!(p.client_id(), "my-app");
        let ok = format!(
            "?code=c&state={}&iss=https%3A%2F%2Fauth.ehr.example",
            p.state()
        );
        assert!(p.complete(&ok).is_ok());
        let other = format!(
            "?code=c&state={}&iss=https%3A%2F%2Fother.example",
            p.state()
        );
        assert_eq!(
            p.complete(&other).unwrap_err().kind,
            AuthErrorKind::IssuerMismatch
        );
    }

    #[test]
    fn staleness() {
        let p = pending();
        let minute = std::time::Duration::from_secs(60);
        assert!(!p.is_older_than(SystemTime::UNIX_EPOCH + minute, 10 * minute));
        assert!(p.is_older_than(SystemTime::UNIX_EPOCH + 11 * minute, 10 * minute));
    }

    #[test]
    fn ehr_launch_allow_list() {
        let ok = EhrLaunch::from_url(
            "https://app.example/launch?launch=abc&iss=https://ehr.example/fhir/",
            &["https://ehr.example/fhir"],
        )
        .unwrap();
        assert_eq!(ok.launch, "abc");
        let err = EhrLaunch::from_url(
            "?launch=abc&iss=https://evil.example",
            &["https://ehr.example/fhir"],
        )
        .unwrap_err();
        assert_eq!(err.kind, AuthErrorKind::LaunchIssuerNotAllowed);
        let err = EhrLaunch::from_url("?launch=abc", &["https://ehr.example/fhir"]).unwrap_err();
        assert_eq!(err.kind, AuthErrorKind::MalformedLaunch);
        let empty = EhrLaunch::from_url(
            "?launch=&iss=https://ehr.example/fhir",
            &["https://ehr.example/fhir"],
        );
        assert_eq!(empty.unwrap_err().kind, AuthErrorKind::MalformedLaunch);
    }
}
