//! The authorization server's request handling, independent of the HTTP stack.
//! Every input here is untrusted: failures become OAuth error responses.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64ct::{Base64, Encoding};
use hyper::HeaderMap;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::jose::{self, Jwk};
use crate::types::{ClientAuth, ClientRegistration, Endpoint, Fault, LaunchContext, Quirk};

mod authorize;
mod client_auth;
mod discovery;
mod fhir;
mod interact;
mod introspection;
mod launch;
mod oidc;
mod registration;
mod revocation;
mod scope;
mod state;
mod token;

#[cfg(test)]
mod tests;

pub(crate) use fhir::{builtin_patients, patient_resource};
pub(crate) use interact::{PENDING_LIFETIME, PendingAuth, Stage};
pub(crate) use introspection::subject;
pub(crate) use oidc::{SigningKeys, parse_rsa_pem};
pub(crate) use scope::*;
pub(crate) use state::*;
pub(crate) use token::insert_launch_context;

pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub(crate) const CODE_LIFETIME: u64 = 60;
/// How long an EHR `launch` value may be used.
pub(crate) const LAUNCH_LIFETIME: u64 = 300;
pub(crate) const REFRESH_LIFETIME: u64 = 24 * 3600;
pub(crate) const BACKEND_TOKEN_LIFETIME: u64 = 300;
pub(crate) const MAX_ASSERTION_LIFETIME: u64 = 300;
pub(crate) const CLOCK_SKEW: u64 = 60;

// ---------------------------------------------------------------- plumbing

/// An HTTP request reduced to what the handlers need.
pub(crate) struct Req {
    pub(crate) method: String,
    /// Path below the base path (e.g. `/Patient/p1`).
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Req {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub(crate) fn has_content_type(&self, expected: &str) -> bool {
        self.header("content-type")
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|ct| ct.trim().eq_ignore_ascii_case(expected))
    }

    /// The parameters of a form POST to the `what` endpoint ("token", "introspection" …):
    /// `application/x-www-form-urlencoded` only, no parameter twice, and with `body_only`
    /// none in the query either.
    pub(crate) fn form_params(&self, what: &str, body_only: bool) -> Result<Params, OAuthError> {
        if !self.has_content_type("application/x-www-form-urlencoded") {
            return Err(err(
                "invalid_request",
                format!("{what} requests must be application/x-www-form-urlencoded"),
            ));
        }
        if body_only && self.query.as_deref().is_some_and(|q| !q.is_empty()) {
            return Err(err(
                "invalid_request",
                format!("{what} parameters must be in the body, not the query"),
            ));
        }
        let params = Params::parse(&self.body);
        params.reject_duplicates()?;
        Ok(params)
    }
}

/// An HTTP response.
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    pub(crate) fn json(status: u16, v: &Value) -> Resp {
        Resp {
            status,
            headers: vec![
                ("content-type", "application/json".into()),
                ("cache-control", "no-store".into()),
                ("pragma", "no-cache".into()),
            ],
            body: v.to_string().into_bytes(),
        }
    }
    pub(crate) fn redirect(location: String) -> Resp {
        Resp {
            status: 302,
            headers: vec![("location", location), ("cache-control", "no-store".into())],
            body: Vec::new(),
        }
    }
    pub(crate) fn fault(f: &Fault) -> Option<Resp> {
        match f {
            Fault::OAuth { status, error } => Some(Resp::json(
                *status,
                &json!({"error": error, "error_description": "injected fault"}),
            )),
            Fault::Status(status) => Some(Resp {
                status: *status,
                headers: vec![("cache-control", "no-store".into())],
                body: Vec::new(),
            }),
            Fault::MalformedJson => Some(Resp {
                status: 200,
                headers: vec![
                    ("content-type", "application/json".into()),
                    ("cache-control", "no-store".into()),
                ],
                body: b"{\"access_token\": \"truncated".to_vec(),
            }),
            Fault::Redirect { status, location } => Some(Resp {
                status: *status,
                headers: vec![("location", location.clone())],
                body: Vec::new(),
            }),
            Fault::Delay(_) => None,
        }
    }
}

/// An OAuth error (RFC 6749 §5.2 shape).
#[derive(Debug)]
pub(crate) struct OAuthError {
    pub(crate) status: u16,
    pub(crate) error: &'static str,
    pub(crate) description: String,
    /// `WWW-Authenticate` challenge to send with a 401.
    pub(crate) challenge: Option<String>,
}

pub(crate) fn err(error: &'static str, description: impl Into<String>) -> OAuthError {
    let status = match error {
        "invalid_client" | "invalid_token" => 401,
        "server_error" => 500,
        _ => 400,
    };
    OAuthError {
        status,
        error,
        description: description.into(),
        challenge: None,
    }
}

impl OAuthError {
    pub(crate) fn with_challenge(mut self, c: impl Into<String>) -> Self {
        self.challenge = Some(c.into());
        self
    }
    pub(crate) fn into_resp(self) -> Resp {
        let mut r = Resp::json(
            self.status,
            &json!({"error": self.error, "error_description": self.description}),
        );
        // RFC 9110 §15.5.2: every 401 carries a challenge.
        let challenge = self.challenge.or_else(|| match (self.status, self.error) {
            (401, "invalid_token") => {
                Some("Bearer realm=\"safire-sandbox\", error=\"invalid_token\"".into())
            }
            (401, _) => Some("Basic realm=\"safire-sandbox\"".into()),
            _ => None,
        });
        if let Some(c) = challenge {
            r.headers.push(("www-authenticate", c));
        }
        r
    }
}

pub(crate) fn random_token(bytes: usize) -> Result<String, OAuthError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| err("server_error", format!("OS RNG failed: {e}")))?;
    Ok(jose::b64url(&buf))
}

/// Constant-time byte comparison.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Request parameters with RFC 6749 §3.1 semantics: empty values are omitted;
/// repeated names are recorded so they can be rejected, and so are names or
/// values whose percent-decoding is not UTF-8 (never silently replaced).
pub(crate) struct Params {
    pub(crate) map: HashMap<String, String>,
    pub(crate) duplicates: Vec<String>,
    pub(crate) malformed: Vec<String>,
}

/// Lenient `application/x-www-form-urlencoded` byte decoding (`+` is a space,
/// a `%` not followed by two hex digits stays as is, like the WHATWG parser).
fn form_decode_bytes(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        let hex = |j: usize| input.get(j).and_then(|c| (*c as char).to_digit(16));
        match b {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    out
}

impl Params {
    pub(crate) fn parse(raw: &[u8]) -> Params {
        let mut map = HashMap::new();
        let mut duplicates = Vec::new();
        let mut malformed = Vec::new();
        for piece in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match piece.iter().position(|b| *b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &[][..]),
            };
            let k = String::from_utf8_lossy(&form_decode_bytes(k)).into_owned();
            let Ok(v) = String::from_utf8(form_decode_bytes(v)) else {
                malformed.push(k);
                continue;
            };
            if v.is_empty() {
                continue;
            }
            if map.insert(k.clone(), v).is_some() {
                duplicates.push(k);
            }
        }
        Params {
            map,
            duplicates,
            malformed,
        }
    }
    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(String::as_str)
    }
    pub(crate) fn require(&self, k: &str) -> Result<&str, OAuthError> {
        self.get(k)
            .ok_or_else(|| err("invalid_request", format!("missing parameter `{k}`")))
    }
    /// Refuse repeated parameters and parameters that are not UTF-8.
    pub(crate) fn reject_duplicates(&self) -> Result<(), OAuthError> {
        if let Some(m) = self.malformed.first() {
            return Err(err(
                "invalid_request",
                format!("parameter `{m}` is not valid UTF-8 once decoded"),
            ));
        }
        match self.duplicates.first() {
            Some(d) => Err(err("invalid_request", format!("parameter `{d}` repeated"))),
            None => Ok(()),
        }
    }
}

/// Decode `application/x-www-form-urlencoded` text (RFC 6749 §2.3.1 Basic credentials).
pub(crate) fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

pub(crate) fn split_scope(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}
