//! A tiny blocking HTTP/1.1 client for test code: plain HTTP on loopback, no redirects followed,
//! an optional cookie jar, and responses of any status returned as values (never as errors).
//!
//! It is deliberately not a Safire client: the harness and the smoke tests use it to drive the
//! server directly, and scenario tests can use it to check what a Safire client left behind
//! (e.g. introspect a token).

use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use crate::HarnessError;

/// Timeout for a whole request (connect + send + receive).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest response body kept in error messages.
const ERROR_BODY_LIMIT: usize = 4096;

/// An HTTP request under construction. Build with [`HttpRequest::get`] / [`HttpRequest::post`]
/// and send with [`HttpClient::send`].
#[derive(Debug, Clone)]
pub struct HttpRequest {
    method: http::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    /// A request with any method.
    pub fn new(method: http::Method, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `GET url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(http::Method::GET, url)
    }

    /// `POST url` (add a body with [`form`](Self::form) or [`json`](Self::json)).
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(http::Method::POST, url)
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// `Authorization: Basic base64(user:password)`. (Credentials are sent as given: the caller
    /// form-urlencodes them first if RFC 6749 §2.3.1 strictness matters.)
    pub fn basic_auth(self, user: &str, password: &str) -> Self {
        let token = base64_std(format!("{user}:{password}").as_bytes());
        self.header("authorization", format!("Basic {token}"))
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            ser.append_pair(k.as_ref(), v.as_ref());
        }
        self.body = ser.finish().into_bytes();
        self.header("content-type", "application/x-www-form-urlencoded")
    }

    /// An `application/json` body.
    pub fn json(mut self, value: &Value) -> Self {
        self.body = value.to_string().into_bytes();
        self.header("content-type", "application/json")
    }

    /// The request URL.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A response: status, headers (in order, repeated names kept) and the body as text.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Response headers; names are lower-case.
    pub headers: Vec<(String, String)>,
    /// Response body (lossy UTF-8).
    pub body: String,
}

impl HttpResponse {
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Location` header.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Result<Value, HarnessError> {
        serde_json::from_str(&self.body).map_err(|e| {
            HarnessError::Other(format!(
                "response body is not JSON ({e}): HTTP {} {}",
                self.status,
                truncate(&self.body)
            ))
        })
    }

    /// The body as JSON if the status is `expected`, else [`HarnessError::UnexpectedResponse`].
    pub fn expect_json(&self, expected: u16, step: &str) -> Result<Value, HarnessError> {
        if self.status != expected {
            return Err(self.unexpected(step));
        }
        self.json()
    }

    /// An [`HarnessError::UnexpectedResponse`] describing this response.
    pub fn unexpected(&self, step: &str) -> HarnessError {
        HarnessError::UnexpectedResponse {
            step: step.to_owned(),
            status: self.status,
            body: truncate(&self.body).to_owned(),
        }
    }
}

/// A blocking HTTP client that never follows redirects and returns every status as a response.
///
/// [`HttpClient::with_cookies`] adds a cookie jar (RFC 6265 name/value/path/host; expiry only as
/// far as oidc-provider uses it: a past `expires` deletes) — enough to carry oidc-provider's
/// `_interaction`, `_interaction_resume` and `_session` cookies across the login hops.
#[derive(Debug)]
pub struct HttpClient {
    agent: ureq::Agent,
    jar: Option<Mutex<Vec<Cookie>>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpClient {
    /// A client without cookies.
    pub fn new() -> Self {
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .new_agent();
        Self { agent, jar: None }
    }

    /// A client with an (initially empty) cookie jar.
    pub fn with_cookies() -> Self {
        Self {
            jar: Some(Mutex::new(Vec::new())),
            ..Self::new()
        }
    }

    /// `GET url` with no extra headers.
    pub fn get(&self, url: &str) -> Result<HttpResponse, HarnessError> {
        self.send(HttpRequest::get(url))
    }

    /// `POST url` with a form body.
    pub fn post_form<K: AsRef<str>, V: AsRef<str>>(
        &self,
        url: &str,
        pairs: &[(K, V)],
    ) -> Result<HttpResponse, HarnessError> {
        self.send(HttpRequest::post(url).form(pairs))
    }

    /// `POST url` with a JSON body.
    pub fn post_json(&self, url: &str, body: &Value) -> Result<HttpResponse, HarnessError> {
        self.send(HttpRequest::post(url).json(body))
    }

    /// Sends a request. Any HTTP status is `Ok`; only transport failures are errors.
    pub fn send(&self, req: HttpRequest) -> Result<HttpResponse, HarnessError> {
        let err = |message: String| HarnessError::Http {
            method: req.method.to_string(),
            url: req.url.clone(),
            message,
        };
        let parsed = Url::parse(&req.url).map_err(|e| err(format!("bad URL: {e}")))?;
        let mut builder = http::Request::builder()
            .method(req.method.clone())
            .uri(req.url.as_str());
        for (n, v) in &req.headers {
            builder = builder.header(n.as_str(), v.as_str());
        }
        if let Some(cookie) = self.cookie_header(&parsed) {
            builder = builder.header("cookie", cookie);
        }
        let request = builder
            .body(req.body.clone())
            .map_err(|e| err(format!("cannot build request: {e}")))?;
        let mut resp = self.agent.run(request).map_err(|e| err(e.to_string()))?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| err(format!("reading body: {e}")))?;
        self.store_cookies(&parsed, &headers);
        Ok(HttpResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    /// Names of the cookies currently in the jar (for diagnostics).
    pub fn cookie_names(&self) -> Vec<String> {
        match &self.jar {
            Some(jar) => jar
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|c| c.name.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    fn cookie_header(&self, url: &Url) -> Option<String> {
        let jar = self.jar.as_ref()?.lock().unwrap_or_else(|p| p.into_inner());
        let host = url.host_str().unwrap_or_default();
        let pairs: Vec<String> = jar
            .iter()
            .filter(|c| c.host == host && path_matches(url.path(), &c.path))
            .map(|c| format!("{}={}", c.name, c.value))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    fn store_cookies(&self, url: &Url, headers: &[(String, String)]) {
        let Some(jar) = &self.jar else { return };
        let mut jar = jar.lock().unwrap_or_else(|p| p.into_inner());
        for (_, raw) in headers.iter().filter(|(n, _)| n == "set-cookie") {
            let Some(cookie) = Cookie::parse(raw, url) else {
                continue;
            };
            jar.retain(|c| {
                !(c.name == cookie.name && c.path == cookie.path && c.host == cookie.host)
            });
            if !cookie.expired {
                jar.push(cookie);
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Cookie {
    name: String,
    value: String,
    host: String,
    path: String,
    expired: bool,
}

impl Cookie {
    fn parse(raw: &str, url: &Url) -> Option<Self> {
        let mut parts = raw.split(';');
        let (name, value) = parts.next()?.split_once('=')?;
        let mut cookie = Cookie {
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
            host: url.host_str().unwrap_or_default().to_owned(),
            path: default_path(url.path()),
            expired: false,
        };
        for attr in parts {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            match k.trim().to_ascii_lowercase().as_str() {
                "path" if v.trim().starts_with('/') => cookie.path = v.trim().to_owned(),
                // oidc-provider (koa) deletes cookies with `expires=Thu, 01 Jan 1970 00:00:00 GMT`
                "expires" if v.contains("1970") => cookie.expired = true,
                "max-age" if v.trim().parse::<i64>().is_ok_and(|n| n <= 0) => cookie.expired = true,
                _ => {}
            }
        }
        (!cookie.name.is_empty()).then_some(cookie)
    }
}

/// RFC 6265 §5.1.4 default-path.
fn default_path(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

/// RFC 6265 §5.1.4 path-match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

pub(crate) fn truncate(s: &str) -> &str {
    if s.len() <= ERROR_BODY_LIMIT {
        return s;
    }
    let mut end = ERROR_BODY_LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Standard padded base64 (for HTTP Basic), kept local to avoid a dependency for 15 lines.
fn base64_std(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_std(i.as_bytes()), o);
        }
    }

    #[test]
    fn cookie_paths() {
        assert!(path_matches("/auth/abc", "/auth/abc"));
        assert!(path_matches("/auth/abc/x", "/auth/abc"));
        assert!(!path_matches("/auth/abcd", "/auth/abc"));
        assert!(path_matches("/anything", "/"));
        assert_eq!(default_path("/a/b"), "/a");
        assert_eq!(default_path("/a"), "/");
    }

    #[test]
    fn jar_stores_scopes_and_deletes() {
        let client = HttpClient::with_cookies();
        let url = Url::parse("http://127.0.0.1:1/auth").unwrap();
        let set = |v: &str| vec![("set-cookie".to_owned(), v.to_owned())];
        client.store_cookies(&url, &set("_i=1; path=/interaction/u1; httponly"));
        client.store_cookies(&url, &set("_s=2; path=/; samesite=none"));
        let at =
            |p: &str| client.cookie_header(&Url::parse(&format!("http://127.0.0.1:1{p}")).unwrap());
        assert_eq!(at("/interaction/u1").as_deref(), Some("_i=1; _s=2"));
        assert_eq!(at("/auth/u1").as_deref(), Some("_s=2"));
        client.store_cookies(
            &url,
            &set("_i=; path=/interaction/u1; expires=Thu, 01 Jan 1970 00:00:00 GMT"),
        );
        assert_eq!(at("/interaction/u1").as_deref(), Some("_s=2"));
    }
}
