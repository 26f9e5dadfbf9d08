//! The redirect policy. Transports never follow redirects themselves; they ask this module.
//!
//! - Credential-bearing requests (anything but GET/HEAD: token and registration POSTs) are never
//!   followed: a 307/308 would replay the secret or assertion to whoever the `Location` names.
//! - GETs (discovery) are followed at most [`RedirectPolicy::max_hops`] times, only to https
//!   (http loopback only with the opt-in), and a cross-origin hop drops `Authorization`.

use http::{Method, StatusCode, header};
use url::Url;

use crate::config::{has_userinfo, is_loopback};
use crate::error::{NetworkError, NetworkErrorKind, url_for_message};
use crate::requests::{HttpRequest, HttpResponse, Operation};

/// What redirects may be followed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedirectPolicy {
    /// Most hops followed for one request (default 5).
    pub max_hops: usize,
    /// Whether an http `Location` on a loopback host is acceptable (development only).
    pub allow_insecure_localhost: bool,
    /// Whether discovery may follow a redirect to another origin (default: no). The metadata
    /// found there would name the endpoints that receive the client's credentials.
    pub allow_cross_origin_discovery: bool,
}

impl Default for RedirectPolicy {
    fn default() -> Self {
        Self {
            max_hops: 5,
            allow_insecure_localhost: false,
            allow_cross_origin_discovery: false,
        }
    }
}

/// Decides what to do with `response` to `sent`, after `hops_taken` redirects so far.
///
/// `Ok(None)`: not a redirect, hand the response to the flow. `Ok(Some(next))`: send `next`.
/// `Err`: the redirect is refused.
///
/// ```
/// use safire_core::{RedirectPolicy, transport::next_hop};
/// let sent = http::Request::post("https://ehr.example/token").body(Vec::new()).unwrap();
/// let moved = http::Response::builder()
///     .status(307)
///     .header("location", "https://elsewhere.example/token")
///     .body(Vec::new())
///     .unwrap();
/// assert!(next_hop(&sent, &moved, 0, &RedirectPolicy::default()).is_err());
/// ```
pub fn next_hop(
    sent: &HttpRequest,
    response: &HttpResponse,
    hops_taken: usize,
    policy: &RedirectPolicy,
) -> Result<Option<HttpRequest>, NetworkError> {
    let status = response.status();
    if !is_followable_redirect(status) {
        return Ok(None);
    }
    let Some(location) = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let what = sent
        .extensions()
        .get::<Operation>()
        .map_or("request", |op| op.label());
    let sent_url = Url::parse(&sent.uri().to_string()).map_err(|_| {
        NetworkError::new(NetworkErrorKind::Io, "request URI is not an absolute URL")
    })?;

    // A registration-management GET carries its registration access token: never replayed.
    let carries_bearer =
        sent.extensions().get::<Operation>() == Some(&Operation::RegistrationManagement);
    if carries_bearer || (sent.method() != Method::GET && sent.method() != Method::HEAD) {
        return Err(NetworkError::new(
            NetworkErrorKind::RedirectRefused,
            format!(
                "Refused to follow HTTP {} redirect from the {what} {} to {}: a {} carrying \
                 credentials is never redirected; configure the endpoint's final URL",
                status.as_u16(),
                url_for_message(sent_url.as_str()),
                url_for_message(location),
                sent.method()
            ),
        ));
    }

    let target = sent_url.join(location).map_err(|_| {
        NetworkError::new(
            NetworkErrorKind::RedirectRefused,
            format!(
                "Blocked redirect to non-HTTPS URL: {} (not a valid URL)",
                url_for_message(location)
            ),
        )
    })?;
    if has_userinfo(&target) {
        return Err(NetworkError::new(
            NetworkErrorKind::RedirectRefused,
            format!(
                "Refused to follow a redirect to a URL with credentials in it ({}): the server \
                 chose them, and they would be sent to another host",
                url_for_message(target.as_str())
            ),
        ));
    }
    let secure = match target.scheme() {
        "https" => true,
        "http" => policy.allow_insecure_localhost && is_loopback(&target),
        _ => false,
    };
    if !secure {
        return Err(NetworkError::new(
            NetworkErrorKind::RedirectRefused,
            format!(
                "Blocked redirect to non-HTTPS URL: {}",
                url_for_message(target.as_str())
            ),
        ));
    }
    // The JWK Set decides which keys are trusted: it follows the discovery rule.
    let discovery = matches!(
        sent.extensions().get::<Operation>(),
        Some(Operation::Discovery | Operation::Jwks)
    );
    if discovery
        && !policy.allow_cross_origin_discovery
        && !same_origin_or_upgrade(&sent_url, &target)
    {
        return Err(NetworkError::new(
            NetworkErrorKind::RedirectRefused,
            format!(
                "Refused to follow a {what} redirect from {} to another origin, {}: the \
                 document there would decide where the client's credentials go or which keys \
                 are trusted. If that server is trusted, allow it with \
                 Limits::allow_cross_origin_discovery_redirects(true)",
                sent_url.origin().ascii_serialization(),
                url_for_message(&target.origin().ascii_serialization())
            ),
        ));
    }
    if hops_taken >= policy.max_hops {
        return Err(NetworkError::new(
            NetworkErrorKind::TooManyRedirects,
            format!(
                "Too many redirects: gave up after {} hops at {}",
                policy.max_hops,
                url_for_message(target.as_str())
            ),
        ));
    }

    let uri: http::Uri = target.as_str().parse().map_err(|_| {
        NetworkError::new(
            NetworkErrorKind::RedirectRefused,
            format!(
                "Redirect target is not a usable URI: {}",
                url_for_message(target.as_str())
            ),
        )
    })?;
    let mut next = crate::flow::clone_request(sent);
    *next.uri_mut() = uri;
    if target.origin() != sent_url.origin() {
        next.headers_mut().remove(header::AUTHORIZATION);
        next.headers_mut().remove(header::COOKIE);
    }
    Ok(Some(next))
}

/// Where a session's bearer token may be sent: URLs under the session's FHIR base (the same
/// origin and a path inside the base path), plus any origin the application names
/// explicitly. Everything else is refused before a request is built, and a redirect of an
/// authorized request never carries the token out of these destinations.
///
/// Paths are compared after URL normalization (`.`/`..` segments, `%2e`), on segment
/// boundaries: with the base `https://ehr.example/fhir`, `https://ehr.example/fhir/Patient/1`
/// is allowed, `https://ehr.example/fhir-admin` and `https://ehr.example/fhir/../admin` are not.
///
/// ```
/// use safire_core::BearerPolicy;
/// let policy = BearerPolicy::new("https://ehr.example/fhir")?;
/// assert!(policy.allows_str("https://ehr.example/fhir/Patient/123"));
/// assert!(policy.allows_str("https://ehr.example/fhir"));
/// assert!(!policy.allows_str("https://ehr.example/fhirfake/Patient/123"));
/// assert!(!policy.allows_str("https://ehr.example/fhir/../admin"));
/// assert!(!policy.allows_str("https://evil.example/fhir/Patient/123"));
/// assert!(!policy.allows_str("http://ehr.example/fhir/Patient/123"));
/// // An origin the application names explicitly (e.g. a binary store) is allowed as a whole.
/// let policy = policy.allow_origin("https://files.ehr.example")?;
/// assert!(policy.allows_str("https://files.ehr.example/Binary/9"));
/// # Ok::<(), safire_core::ConfigurationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerPolicy {
    base: Url,
    extra_origins: Vec<url::Origin>,
}

impl BearerPolicy {
    /// The policy for a session whose FHIR base URL is `fhir_base`.
    pub fn new(fhir_base: &str) -> Result<Self, crate::error::ConfigurationError> {
        let base = parse_destination("fhir_base", fhir_base)?;
        Ok(Self {
            base,
            extra_origins: Vec::new(),
        })
    }

    /// The same policy also allowing every URL of `origin` (scheme, host and port; a path
    /// is ignored).
    pub fn allow_origin(mut self, origin: &str) -> Result<Self, crate::error::ConfigurationError> {
        let url = parse_destination("allowed origin", origin)?;
        self.extra_origins.push(url.origin());
        Ok(self)
    }

    /// The FHIR base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// True when a bearer token may go to `target`.
    pub fn allows(&self, target: &Url) -> bool {
        if has_userinfo(target) || target.cannot_be_a_base() {
            return false;
        }
        let origin = target.origin();
        if self.extra_origins.contains(&origin) {
            return true;
        }
        if origin != self.base.origin() {
            return false;
        }
        let prefix = self.base.path().trim_end_matches('/');
        let path = target.path();
        match path.strip_prefix(prefix) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }

    /// `url` made absolute against the FHIR base (`Patient/123` →
    /// `https://ehr.example/fhir/Patient/123`; an absolute URL stays as it is), refused
    /// unless the policy allows it.
    ///
    /// ```
    /// use safire_core::BearerPolicy;
    /// let policy = BearerPolicy::new("https://ehr.example/fhir")?;
    /// assert_eq!(policy.resolve("Patient/123")?.as_str(), "https://ehr.example/fhir/Patient/123");
    /// assert!(policy.resolve("../admin").is_err());
    /// assert!(policy.resolve("https://evil.example/fhir/Patient/1").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve(&self, url: &str) -> Result<Url, crate::error::SessionError> {
        let mut base = self.base.clone();
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let target = base.join(url).map_err(|_| {
            crate::error::SessionError::new(
                crate::error::SessionErrorKind::DestinationNotAllowed,
                "the URL is not valid relative to the FHIR base",
            )
        })?;
        if self.allows(&target) {
            Ok(target)
        } else {
            Err(self.refusal(&target.origin().ascii_serialization()))
        }
    }

    fn refusal(&self, shown: &str) -> crate::error::SessionError {
        crate::error::SessionError::new(
            crate::error::SessionErrorKind::DestinationNotAllowed,
            format!(
                "the token is only sent to URLs under the session's FHIR base {}; {} is \
                 outside it (allow another origin explicitly if it must receive the token)",
                url_for_message(self.base.as_str()),
                url_for_message(shown)
            ),
        )
    }

    /// [`allows`](Self::allows) for a URL string; an unparsable URL is not allowed.
    pub fn allows_str(&self, target: &str) -> bool {
        Url::parse(target).is_ok_and(|url| self.allows(&url))
    }

    /// Refuses `request` unless its URI is allowed, with an error naming the origin only.
    pub fn check(&self, request: &HttpRequest) -> Result<(), crate::error::SessionError> {
        let uri = request.uri().to_string();
        match Url::parse(&uri) {
            Ok(url) if self.allows(&url) => Ok(()),
            parsed => {
                let shown = parsed
                    .map(|url| url.origin().ascii_serialization())
                    .unwrap_or_else(|_| "an unparsable URL".to_owned());
                Err(self.refusal(&shown))
            }
        }
    }
}

fn parse_destination(what: &str, value: &str) -> Result<Url, crate::error::ConfigurationError> {
    let url = Url::parse(value)
        .map_err(|_| crate::error::ConfigurationError::invalid(what, "not an absolute URL"))?;
    if !url.has_host() || url.cannot_be_a_base() || has_userinfo(&url) {
        return Err(crate::error::ConfigurationError::invalid(
            what,
            "must be an absolute http(s) URL with a host and no credentials",
        ));
    }
    if !matches!(url.scheme(), "https" | "http") {
        return Err(crate::error::ConfigurationError::invalid(
            what,
            "must be an https URL",
        ));
    }
    Ok(url)
}

/// [`next_hop`] for a request carrying a session's bearer token: the same rules, and the
/// `Authorization` header is dropped from any hop to a URL `bearer` does not allow (another
/// origin, or outside the FHIR base path), so a redirect never takes the token elsewhere.
///
/// ```
/// use safire_core::{BearerPolicy, RedirectPolicy, transport::authorized_next_hop};
/// let bearer = BearerPolicy::new("https://ehr.example/fhir")?;
/// let sent = http::Request::get("https://ehr.example/fhir/Patient/1")
///     .header("authorization", "Bearer t")
///     .body(Vec::new())
///     .unwrap();
/// let moved = http::Response::builder()
///     .status(302)
///     .header("location", "/admin/Patient/1")
///     .body(Vec::new())
///     .unwrap();
/// let next = authorized_next_hop(&sent, &moved, 0, &RedirectPolicy::default(), &bearer)?.unwrap();
/// assert!(next.headers().get("authorization").is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn authorized_next_hop(
    sent: &HttpRequest,
    response: &HttpResponse,
    hops_taken: usize,
    policy: &RedirectPolicy,
    bearer: &BearerPolicy,
) -> Result<Option<HttpRequest>, NetworkError> {
    let Some(mut next) = next_hop(sent, response, hops_taken, policy)? else {
        return Ok(None);
    };
    let allowed = Url::parse(&next.uri().to_string()).is_ok_and(|url| bearer.allows(&url));
    if !allowed {
        next.headers_mut().remove(header::AUTHORIZATION);
    }
    Ok(Some(next))
}

/// The same origin, or the same host moved from http to https.
fn same_origin_or_upgrade(from: &Url, to: &Url) -> bool {
    from.origin() == to.origin()
        || (from.scheme() == "http" && to.scheme() == "https" && from.host_str() == to.host_str())
}

fn is_followable_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str) -> HttpRequest {
        let mut req = http::Request::get(url)
            .header(header::AUTHORIZATION, "Bearer canary-token")
            .body(Vec::new())
            .unwrap();
        req.extensions_mut().insert(Operation::Discovery);
        req
    }

    fn redirect(status: u16, location: &str) -> HttpResponse {
        http::Response::builder()
            .status(status)
            .header(header::LOCATION, location)
            .body(Vec::new())
            .unwrap()
    }

    #[test]
    fn https_to_https_is_followed_and_same_origin_keeps_authorization() {
        let next = next_hop(
            &get("https://ehr.example/a"),
            &redirect(302, "/b"),
            0,
            &RedirectPolicy::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(next.uri(), "https://ehr.example/b");
        assert!(next.headers().contains_key(header::AUTHORIZATION));
    }

    #[test]
    fn cross_origin_drops_authorization() {
        let opted_in = RedirectPolicy {
            allow_cross_origin_discovery: true,
            ..RedirectPolicy::default()
        };
        let next = next_hop(
            &get("https://ehr.example/a"),
            &redirect(301, "https://cdn.example/b"),
            0,
            &opted_in,
        )
        .unwrap()
        .unwrap();
        assert!(!next.headers().contains_key(header::AUTHORIZATION));
        assert_eq!(
            next.extensions().get::<Operation>(),
            Some(&Operation::Discovery)
        );
    }

    #[test]
    fn http_target_is_blocked_with_the_seed_message() {
        let err = next_hop(
            &get("https://ehr.example/a"),
            &redirect(302, "http://evil.example/x?code=secret"),
            0,
            &RedirectPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind, NetworkErrorKind::RedirectRefused);
        assert_eq!(
            err.to_string(),
            "HTTP request failed: Blocked redirect to non-HTTPS URL: http://evil.example/x"
        );
    }

    #[test]
    fn loopback_http_needs_the_opt_in() {
        let policy = RedirectPolicy {
            allow_insecure_localhost: true,
            allow_cross_origin_discovery: true,
            ..RedirectPolicy::default()
        };
        let sent = get("http://127.0.0.1:8080/a");
        assert!(next_hop(&sent, &redirect(302, "http://127.0.0.1:9090/b"), 0, &policy).is_ok());
        assert!(
            next_hop(
                &sent,
                &redirect(302, "http://127.0.0.1:9090/b"),
                0,
                &RedirectPolicy::default()
            )
            .is_err()
        );
        assert!(next_hop(&sent, &redirect(302, "http://ehr.example/b"), 0, &policy).is_err());
    }

    #[test]
    fn hop_limit() {
        let policy = RedirectPolicy::default();
        let sent = get("https://ehr.example/a");
        assert!(
            next_hop(&sent, &redirect(302, "/a"), 4, &policy)
                .unwrap()
                .is_some()
        );
        let err = next_hop(&sent, &redirect(302, "/a"), 5, &policy).unwrap_err();
        assert_eq!(err.kind, NetworkErrorKind::TooManyRedirects);
    }

    #[test]
    fn posts_are_never_followed() {
        for status in [301, 302, 303, 307, 308] {
            let mut sent = http::Request::post("https://ehr.example/token")
                .body(b"client_secret=canary".to_vec())
                .unwrap();
            sent.extensions_mut().insert(Operation::Token);
            let err = next_hop(
                &sent,
                &redirect(status, "https://ehr.example/token2"),
                0,
                &RedirectPolicy::default(),
            )
            .unwrap_err();
            assert_eq!(err.kind, NetworkErrorKind::RedirectRefused);
            assert!(
                err.to_string()
                    .contains("token endpoint https://ehr.example/token")
            );
            assert!(!err.to_string().contains("canary"));
        }
    }

    #[test]
    fn non_redirects_and_missing_location_pass_through() {
        let sent = get("https://ehr.example/a");
        let ok = http::Response::builder()
            .status(200)
            .body(Vec::new())
            .unwrap();
        assert!(
            next_hop(&sent, &ok, 0, &RedirectPolicy::default())
                .unwrap()
                .is_none()
        );
        let no_location = http::Response::builder()
            .status(302)
            .body(Vec::new())
            .unwrap();
        assert!(
            next_hop(&sent, &no_location, 0, &RedirectPolicy::default())
                .unwrap()
                .is_none()
        );
        let not_modified = redirect(304, "https://ehr.example/b");
        assert!(
            next_hop(&sent, &not_modified, 0, &RedirectPolicy::default())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn garbage_locations_are_refused_not_panicking() {
        let sent = get("https://ehr.example/a");
        for location in [
            "javascript:alert(1)",
            "data:text/plain,x",
            "ftp://x/y",
            "https://",
        ] {
            let result = next_hop(
                &sent,
                &redirect(302, location),
                0,
                &RedirectPolicy::default(),
            );
            assert!(result.is_err(), "{location}");
        }
    }

    #[test]
    fn discovery_stays_on_its_origin_unless_allowed() {
        let sent = get("https://ehr.example/fhir/.well-known/smart-configuration");
        let err = next_hop(
            &sent,
            &redirect(302, "https://evil.example/.well-known/smart-configuration"),
            0,
            &RedirectPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind, NetworkErrorKind::RedirectRefused);
        let text = err.to_string();
        assert!(text.contains("https://evil.example"), "{text}");
        assert!(
            text.contains("allow_cross_origin_discovery_redirects"),
            "{text}"
        );
        // Same origin, and an http -> https upgrade of the same host, are fine.
        assert!(
            next_hop(
                &sent,
                &redirect(302, "/r4/x"),
                0,
                &RedirectPolicy::default()
            )
            .is_ok()
        );
        let policy = RedirectPolicy {
            allow_insecure_localhost: true,
            ..RedirectPolicy::default()
        };
        let plain = get("http://localhost/fhir/.well-known/smart-configuration");
        assert!(next_hop(&plain, &redirect(301, "https://localhost/x"), 0, &policy).is_ok());
        assert!(next_hop(&plain, &redirect(301, "https://127.0.0.1/x"), 0, &policy).is_err());
    }

    fn bearer_get(url: &str) -> HttpRequest {
        let mut req = http::Request::get(url)
            .header(header::AUTHORIZATION, "Bearer canary-token")
            .body(Vec::new())
            .unwrap();
        req.extensions_mut().insert(Operation::Fhir);
        req
    }

    #[test]
    fn bearer_policy_matches_origin_and_path_prefix() {
        let policy = BearerPolicy::new("https://ehr.example/r4/").unwrap();
        for ok in [
            "https://ehr.example/r4",
            "https://ehr.example/r4/",
            "https://ehr.example/r4/Patient/1?_format=json",
            "https://ehr.example:443/r4/Observation",
            "https://EHR.example/r4/x",
        ] {
            assert!(policy.allows_str(ok), "{ok}");
        }
        for refused in [
            "https://ehr.example/r4x",
            "https://ehr.example/r",
            "https://ehr.example/",
            "https://ehr.example/r4/../admin",
            "https://ehr.example/r4/%2e%2e/admin",
            "https://ehr.example:8443/r4/Patient",
            "http://ehr.example/r4/Patient",
            "https://evil.example/r4/Patient",
            "https://ehr.example.evil.example/r4",
            "https://user:pw@ehr.example/r4/Patient",
            "not a url",
            "data:text/plain,x",
        ] {
            assert!(!policy.allows_str(refused), "{refused}");
        }
        // A root base allows the whole origin.
        let root = BearerPolicy::new("https://ehr.example").unwrap();
        assert!(root.allows_str("https://ehr.example/anything"));
        assert!(BearerPolicy::new("ftp://x/y").is_err());
        assert!(BearerPolicy::new("https://u:p@x/y").is_err());
    }

    #[test]
    fn bearer_check_names_the_origin_only() {
        let policy = BearerPolicy::new("https://ehr.example/fhir").unwrap();
        let err = policy
            .check(&bearer_get("https://evil.example/steal?token=canary"))
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("https://evil.example"), "{text}");
        assert!(!text.contains("canary"), "{text}");
        assert!(
            policy
                .check(&bearer_get("https://ehr.example/fhir/Patient/1"))
                .is_ok()
        );
    }

    #[test]
    fn authorized_redirects_keep_the_token_only_inside_the_base() {
        let bearer = BearerPolicy::new("https://ehr.example/fhir").unwrap();
        let policy = RedirectPolicy::default();
        let sent = bearer_get("https://ehr.example/fhir/Patient/1");
        let inside = authorized_next_hop(
            &sent,
            &redirect(302, "/fhir/Patient/2"),
            0,
            &policy,
            &bearer,
        )
        .unwrap()
        .unwrap();
        assert!(inside.headers().contains_key(header::AUTHORIZATION));
        for outside in ["/other/Patient/2", "https://cdn.example/fhir/Patient/2"] {
            let next = authorized_next_hop(&sent, &redirect(307, outside), 0, &policy, &bearer)
                .unwrap()
                .unwrap();
            assert!(
                !next.headers().contains_key(header::AUTHORIZATION),
                "{outside}"
            );
        }
        let extra = bearer.clone().allow_origin("https://cdn.example").unwrap();
        let next = authorized_next_hop(
            &sent,
            &redirect(307, "https://cdn.example/x"),
            0,
            &policy,
            &extra,
        )
        .unwrap()
        .unwrap();
        // next_hop itself drops Authorization across origins: explicit origins are for
        // requests the application addresses there, not for redirects.
        assert!(!next.headers().contains_key(header::AUTHORIZATION));
    }

    #[test]
    fn userinfo_in_a_target_is_refused_without_printing_it() {
        let err = next_hop(
            &get("https://ehr.example/a"),
            &redirect(302, "https://user:pass-canary@ehr.example/b"),
            0,
            &RedirectPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(err.kind, NetworkErrorKind::RedirectRefused);
        assert!(!err.to_string().contains("pass-canary"), "{err}");
        assert!(!err.to_string().contains("user:"), "{err}");
    }
}
