//! Browserless login + consent against the test server (its default `INTERACTIONS=auto` mode).
//!
//! The user agent part of an authorization-code flow, reduced to HTTP: send the authorization
//! request, follow the server's `303`s with a cookie jar, answer the interaction page, and stop at
//! the first redirect that leaves the authorization server (the client's `redirect_uri`):
//!
//! ```text
//! GET|POST /auth?...            -> 303 /interaction/<uid>      (+ _interaction, _interaction_resume cookies)
//! GET /interaction/<uid>?login=… -> 303 /auth/<uid>              (server logs in + grants everything asked)
//! GET /auth/<uid>               -> 303 <redirect_uri>?code=…&state=…&iss=…
//! ```
//!
//! The cookie jar is mandatory: the resume endpoint rejects a request without the signed,
//! path-scoped interaction cookies. The "user" answers through the interaction URL's query
//! (`login=<account id>`, or `decision=deny`), which the server's auto-interaction reads.
//!
//! Whatever the authorization server puts in the final redirect is returned as is, so error
//! responses (`error=access_denied`, `error=invalid_target`, PKCE required, ...) are `Ok` too:
//! they are the client's business, not the harness's.

use std::collections::BTreeMap;

use url::Url;

use crate::HarnessError;
use crate::http::{HttpClient, HttpRequest, HttpResponse};

/// At most this many redirects are followed (the auto flow needs 3).
const MAX_HOPS: usize = 10;

/// What the test user does on the interaction page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Log in as `login` (an arbitrary account id; empty = the server's `DEFAULT_USER`)
    /// and approve every requested scope.
    Approve {
        /// The account id; `fhirUser` becomes `<fhir base>/Practitioner/<login>`.
        login: String,
    },
    /// Deny: the client receives `error=access_denied`.
    Deny,
}

/// The end of a browserless authorization.
#[derive(Debug, Clone)]
pub struct AuthorizationOutcome {
    /// The final redirect, to the client's `redirect_uri` (`code`, `state`, `iss`, or `error`...).
    pub callback_url: String,
    /// Every `Location` followed, in order (for diagnostics).
    pub hops: Vec<String>,
}

impl AuthorizationOutcome {
    /// The callback's query parameters.
    pub fn params(&self) -> Result<BTreeMap<String, String>, HarnessError> {
        callback_params(&self.callback_url)
    }
}

/// A user agent with a cookie jar. Reuse one `Browser` across authorizations to keep the
/// server-side session (e.g. to test `prompt=none`); [`approve`] / [`deny`] use a fresh one.
#[derive(Debug, Default)]
pub struct Browser {
    http: HttpClient,
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new() -> Self {
        Self {
            http: HttpClient::with_cookies(),
        }
    }

    /// The underlying client (e.g. to inspect [`HttpClient::cookie_names`]).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Sends the authorization request (any method: a `GET` of the authorization URL, or a form
    /// `POST` to the authorization endpoint) and follows the redirects until one leaves the
    /// authorization server's origin.
    pub fn authorize(
        &self,
        request: HttpRequest,
        decision: &Decision,
    ) -> Result<AuthorizationOutcome, HarnessError> {
        let start = Url::parse(request.url()).map_err(|e| {
            HarnessError::Other(format!("bad authorization URL {}: {e}", request.url()))
        })?;
        let as_origin = start.origin();
        let mut hops = Vec::new();
        let mut current = start;
        let mut resp = self.http.send(request)?;
        for hop in 1..=MAX_HOPS {
            let location = redirect_target(&resp, &current, hop)?;
            hops.push(location.to_string());
            if location.origin() != as_origin {
                return Ok(AuthorizationOutcome {
                    callback_url: location.to_string(),
                    hops,
                });
            }
            let mut next = location;
            if next.path().starts_with("/interaction/") {
                answer_interaction(&mut next, decision);
            }
            resp = self.http.get(next.as_str())?;
            current = next;
        }
        Err(HarnessError::Other(format!(
            "authorization did not reach the redirect_uri within {MAX_HOPS} redirects: {hops:?}"
        )))
    }
}

fn redirect_target(resp: &HttpResponse, current: &Url, hop: usize) -> Result<Url, HarnessError> {
    let step = format!("authorization hop {hop} ({current})");
    if !(300..400).contains(&resp.status) {
        return Err(resp.unexpected(&step));
    }
    let location = resp.location().ok_or_else(|| resp.unexpected(&step))?;
    current
        .join(location)
        .map_err(|e| HarnessError::Other(format!("{step}: bad Location {location:?}: {e}")))
}

fn answer_interaction(url: &mut Url, decision: &Decision) {
    let mut q = url.query_pairs_mut();
    match decision {
        Decision::Approve { login } if login.is_empty() => {}
        Decision::Approve { login } => {
            q.append_pair("login", login);
        }
        Decision::Deny => {
            q.append_pair("decision", "deny");
        }
    }
}

/// Approves the authorization request at `authorization_url` (a complete `GET` authorization URL)
/// as user `login`, and returns the final callback URL (`<redirect_uri>?code=…&state=…&iss=…`).
pub fn approve(authorization_url: &str, login: &str) -> Result<String, HarnessError> {
    let decision = Decision::Approve {
        login: login.to_owned(),
    };
    Browser::new()
        .authorize(HttpRequest::get(authorization_url), &decision)
        .map(|o| o.callback_url)
}

/// Denies the authorization request; the callback URL carries `error=access_denied`.
pub fn deny(authorization_url: &str) -> Result<String, HarnessError> {
    Browser::new()
        .authorize(HttpRequest::get(authorization_url), &Decision::Deny)
        .map(|o| o.callback_url)
}

/// Like [`approve`], for an authorization request sent as a form `POST` to the authorization
/// endpoint (SMART `authorize-post`).
pub fn approve_post<K: AsRef<str>, V: AsRef<str>>(
    authorization_endpoint: &str,
    params: &[(K, V)],
    login: &str,
) -> Result<String, HarnessError> {
    let decision = Decision::Approve {
        login: login.to_owned(),
    };
    Browser::new()
        .authorize(
            HttpRequest::post(authorization_endpoint).form(params),
            &decision,
        )
        .map(|o| o.callback_url)
}

/// Like [`deny`], for an authorization request sent as a form `POST`.
pub fn deny_post<K: AsRef<str>, V: AsRef<str>>(
    authorization_endpoint: &str,
    params: &[(K, V)],
) -> Result<String, HarnessError> {
    Browser::new()
        .authorize(
            HttpRequest::post(authorization_endpoint).form(params),
            &Decision::Deny,
        )
        .map(|o| o.callback_url)
}

/// The query parameters of a callback URL (`code`, `state`, `iss`, `error`, ...).
pub fn callback_params(callback_url: &str) -> Result<BTreeMap<String, String>, HarnessError> {
    let url = Url::parse(callback_url)
        .map_err(|e| HarnessError::Other(format!("bad callback URL {callback_url}: {e}")))?;
    Ok(url.query_pairs().into_owned().collect())
}
