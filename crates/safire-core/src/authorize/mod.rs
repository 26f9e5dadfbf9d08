//! The authorization request (GET or POST), the pending state the app keeps across the
//! redirect, the callback check, and EHR launch parsing.

mod launch;
mod pending;

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::ClientConfig;
use crate::discovery::ServerEndpoint;
use crate::error::{ConfigurationError, Error};
use crate::flow::{Env, Flow, Step};
use crate::metadata::SmartMetadata;
use crate::pkce::{Pkce, random_hex};
use crate::requests::HttpResponse;
use crate::secret::SecretString;

pub use launch::EhrLaunch;
pub use pending::{AuthorizationCode, PendingAuthorization};

/// How the authorization request reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
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
    ///
    /// This trusts the caller to have checked the launch's `iss` against the client's
    /// server. Prefer the client's `ehr_launch_authorization` (or
    /// [`FlowFactory::ehr_launch`](crate::FlowFactory::ehr_launch)), which takes the launch
    /// URL itself and refuses an `iss` the client is not configured for.
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
#[non_exhaustive]
pub struct AuthorizationRequest {
    /// GET or POST.
    pub method: AuthorizationMethod,
    /// GET: the endpoint with the query to redirect to. POST: the bare endpoint (form action).
    pub url: Url,
    /// Store this in the user's session; it completes the flow at the callback.
    pub pending: PendingAuthorization,
    /// POST: the form body. GET: empty; the parameters are the end of `url`'s query.
    form: String,
}

impl AuthorizationRequest {
    /// The parameters Safire sends, in order, decoded: for POST the form fields; for GET the
    /// same parameters, read from the URL's query (which also keeps any the configured
    /// endpoint itself carries, before Safire's own).
    ///
    /// ```
    /// # use safire_core::*;
    /// # use std::{sync::Arc, time::SystemTime};
    /// let config = ClientConfig::builder("https://ehr.example/fhir")
    ///     .client_id("app")
    ///     .redirect_uri("https://app.example/cb")
    ///     .scopes(["launch/patient"])
    ///     .authorization_endpoint("https://ehr.example/authorize?tenant=7")
    ///     .build()?;
    /// let mut flow = AuthorizeFlow::new(Arc::new(config), AuthorizeParams::default());
    /// let mut random = SeededRandom::new(1);
    /// let Step::Done(request) = flow.start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random))?
    /// else { unreachable!() };
    /// let params = request.params();
    /// assert_eq!(params[0], ("response_type".to_owned(), "code".to_owned()));
    /// assert!(request.url.query().unwrap().starts_with("tenant=7&response_type=code&"));
    /// # Ok::<(), safire_core::Error>(())
    /// ```
    pub fn params(&self) -> Vec<(String, String)> {
        let pairs = match self.method {
            AuthorizationMethod::Post => url::form_urlencoded::parse(self.form.as_bytes()),
            AuthorizationMethod::Get => self.url.query_pairs(),
        };
        // Safire's parameters start with `response_type`, which the endpoint's own query
        // never keeps (no parameter is sent twice).
        pairs
            .skip_while(|(name, _)| name != "response_type")
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect()
    }

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
        for (name, value) in self.params() {
            html.push_str(&format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape_html(&name),
                escape_html(&value)
            ));
        }
        html.push_str("<noscript><button type=\"submit\">Continue to sign in</button></noscript></form></body></html>");
        html
    }
}

/// Escapes text for HTML element content and quoted attribute values (`&`, `<`, `>`, `"`,
/// `'`): what [`AuthorizationRequest::auto_submit_html`] does to every value, for pages an
/// app renders around it (a callback or an error page quoting what a server sent).
///
/// ```
/// assert_eq!(
///     safire_core::escape_html(r#"<a href="x">Tom & Jerry's</a>"#),
///     "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
/// );
/// ```
pub fn escape_html(raw: &str) -> String {
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

/// Builds the authorization request. The driver discovers the endpoint first when it is not
/// configured (and, for POST, the metadata that says whether `authorize-post` is advertised).
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

    /// Every missing attribute at once, before any request.
    fn check_configuration(&self) -> Result<(), ConfigurationError> {
        let mut missing = Vec::new();
        if self.config.client_id().is_none() {
            missing.push("client_id");
        }
        if self.scopes().is_empty() {
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

    fn scopes(&self) -> &[String] {
        self.params
            .scopes
            .as_deref()
            .unwrap_or(self.config.scopes())
    }

    /// The endpoint, and for POST the check that the server accepts it.
    fn endpoint(&self) -> Result<Url, Error> {
        let metadata = self.metadata.as_deref();
        let endpoint = ServerEndpoint::Authorization.resolve_borrowed(&self.config, metadata)?;
        if self.params.method == AuthorizationMethod::Post
            && !self.config.authorize_post_supported()
            && metadata.is_none_or(|m| !m.supports_post_based_authorization())
        {
            return Err(ConfigurationError::invalid(
                "method",
                "post: the server does not advertise the 'authorize-post' capability; use \
                 AuthorizationMethod::Get, or declare it with \
                 ClientConfigBuilder::authorize_post_supported if the server accepts it",
            )
            .into());
        }
        Ok(Url::parse(&endpoint).map_err(|_| ConfigurationError::Uris {
            invalid: vec!["authorization_endpoint".into()],
            non_https: vec![],
        })?)
    }

    /// The request parameters in the order SMART lists them, then the caller's extras
    /// (borrowed: they are encoded once, straight into the URL or the form body).
    fn parameters<'a>(
        &'a self,
        own: [Option<(&'a str, &'a str)>; 10],
    ) -> Result<impl Iterator<Item = (&'a str, &'a str)> + Clone, ConfigurationError> {
        let own = own.into_iter().flatten();
        for (name, _) in &self.params.extra {
            if own.clone().any(|(set, _)| set == name) || name == "launch" || name == "nonce" {
                return Err(ConfigurationError::invalid(
                    "authorization parameter",
                    format!("'{name}' is set by Safire itself and cannot be overridden"),
                ));
            }
        }
        Ok(own.chain(
            self.params
                .extra
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        ))
    }

    /// RFC 9207: the authorization server issuer a callback `iss` must name (configured,
    /// else discovered; none when neither is known — never the FHIR base by guesswork), and
    /// whether the server promised to send it.
    fn expected_issuers(&self) -> (Vec<String>, bool) {
        let metadata = self.metadata.as_deref();
        let expected: Vec<String> = self
            .config
            .authorization_server_issuer()
            .map(str::to_owned)
            .or_else(|| metadata.and_then(|m| m.issuer.clone()))
            .into_iter()
            .collect();
        let advertised = metadata
            .and_then(|m| {
                m.extra
                    .get("authorization_response_iss_parameter_supported")
            })
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        (expected, advertised || self.config.server_sends_iss())
    }

    fn build(&self, env: &mut Env<'_>) -> Result<AuthorizationRequest, Error> {
        let mut url = self.endpoint()?;
        let client_id = self.config.require_client_id()?;
        let redirect_uri = self
            .config
            .redirect_uri()
            .ok_or_else(|| ConfigurationError::missing(["redirect_uri"]))?;
        let state = random_hex::<16>(env.random)?;
        let pkce = Pkce::generate(env.random)?;
        // OpenID Connect: a nonce binds the id_token to this request (checked at the exchange).
        let nonce = if self.scopes().iter().any(|s| s == "openid") {
            Some(random_hex::<16>(env.random)?)
        } else {
            None
        };
        let scope = self.scopes().join(" ");
        let params = self.parameters([
            Some(("response_type", "code")),
            Some(("client_id", client_id)),
            Some(("redirect_uri", redirect_uri)),
            self.params
                .launch
                .as_deref()
                .map(|launch| ("launch", launch)),
            Some(("scope", &scope)),
            Some(("state", &state)),
            Some(("aud", self.config.audience())),
            Some(("code_challenge", pkce.challenge())),
            Some(("code_challenge_method", "S256")),
            nonce.as_deref().map(|nonce| ("nonce", nonce)),
        ])?;
        let form = if self.params.method == AuthorizationMethod::Get {
            // The endpoint's own query stays, minus any parameter Safire sets: none is sent
            // twice.
            let kept: Vec<(String, String)> = match url.query() {
                Some(_) => url
                    .query_pairs()
                    .filter(|(name, _)| !params.clone().any(|(set, _)| set == name))
                    .map(|(name, value)| (name.into_owned(), value.into_owned()))
                    .collect(),
                None => Vec::new(),
            };
            url.set_query(None);
            url.query_pairs_mut()
                .extend_pairs(kept.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .extend_pairs(params);
            String::new()
        } else {
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish()
        };
        let (expected_issuers, issuer_required) = self.expected_issuers();
        let created_at = env
            .now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(AuthorizationRequest {
            method: self.params.method,
            url,
            form,
            pending: PendingAuthorization {
                state: SecretString::new(state),
                code_verifier: pkce.into_verifier(),
                client_id: client_id.to_owned(),
                aud: self.config.audience().to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                expected_issuers,
                issuer_required,
                strict_issuer: self.config.strict_issuer_check(),
                scopes: self.scopes().to_vec(),
                created_at,
                nonce: nonce.map(SecretString::new),
            },
        })
    }
}

impl Flow for AuthorizeFlow {
    type Output = AuthorizationRequest;

    fn config(&self) -> Option<&ClientConfig> {
        Some(&self.config)
    }

    fn endpoints(&self) -> &[ServerEndpoint] {
        &[ServerEndpoint::Authorization]
    }

    fn needs_metadata(&self) -> bool {
        self.params.method == AuthorizationMethod::Post && !self.config.authorize_post_supported()
    }

    fn preflight(&self) -> Result<(), Error> {
        Ok(self.check_configuration()?)
    }

    fn provide_metadata(&mut self, metadata: Arc<SmartMetadata>) {
        self.metadata = Some(metadata);
    }

    fn start(&mut self, env: &mut Env<'_>) -> Result<Step<AuthorizationRequest>, Error> {
        self.check_configuration()?;
        Ok(Step::Done(self.build(env)?))
    }

    fn on_response(
        &mut self,
        _response: HttpResponse,
        _env: &mut Env<'_>,
    ) -> Result<Step<AuthorizationRequest>, Error> {
        Err(Error::Usage(
            "the authorization flow sends no request of its own",
        ))
    }
}

#[cfg(test)]
mod tests;
