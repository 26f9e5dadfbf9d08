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
