//! What was sent, used to scrub what comes back.
//!
//! Servers echo requests: an `error_description` quoting the client secret, an `error_uri`
//! carrying the refresh token, a body repeating the `Authorization` header. Before any text
//! from a response reaches an error, a finding or a log, every secret the request carried is
//! replaced by `[REDACTED]` — in each form it went on the wire: raw, form-encoded,
//! JSON-escaped, base64 inside `Basic`, and the pieces of a signed assertion.

use base64ct::{Base64, Encoding};
use http::header;

use crate::error::Error;
use crate::requests::HttpRequest;
use crate::secret::REDACTED;

/// Form parameters whose values are secrets.
const SECRET_PARAMS: &[&str] = &[
    "client_secret",
    "refresh_token",
    "code",
    "code_verifier",
    "client_assertion",
    "assertion",
    "token",
];

/// Shorter values are not scrubbed: replacing two-letter strings would garble messages and
/// protect nothing.
const MIN_SECRET_LEN: usize = 4;

/// The secrets one request carried, in every form they went on the wire.
#[derive(Default)]
pub(crate) struct SentSecrets {
    forms: Vec<String>,
}

impl SentSecrets {
    /// Everything secret in `request`: its `Authorization` header and secret form values.
    pub(crate) fn of(request: &HttpRequest) -> Self {
        let mut sent = SentSecrets::default();
        if let Some(value) = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            sent.authorization(value);
        }
        let body = request.body();
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| {
                v.as_bytes()
                    .starts_with(b"application/x-www-form-urlencoded")
            });
        if is_form {
            for (name, value) in url::form_urlencoded::parse(body) {
                if SECRET_PARAMS.contains(&name.as_ref()) {
                    sent.secret(&value);
                    if name == "client_assertion" || name == "assertion" {
                        for part in value.split('.') {
                            sent.add(part.to_owned());
                        }
                    }
                }
            }
        }
        // Longest first, so a secret is replaced whole before any part of it.
        sent.forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
        sent.forms.dedup();
        sent
    }

    /// The header whole, the credential after the scheme, and for Basic the decoded id and
    /// secret (raw and form-decoded).
    fn authorization(&mut self, value: &str) {
        self.add(value.to_owned());
        let Some((scheme, credential)) = value.split_once(' ') else {
            return;
        };
        self.add(credential.trim().to_owned());
        if !scheme.eq_ignore_ascii_case("basic") {
            return;
        }
        let Ok(decoded) = Base64::decode_vec(credential.trim()) else {
            return;
        };
        let Ok(decoded) = String::from_utf8(decoded) else {
            return;
        };
        if let Some((_, secret)) = decoded.split_once(':') {
            self.secret(secret);
            let form_decoded: String =
                url::form_urlencoded::parse(format!("s={secret}").as_bytes())
                    .map(|(_, v)| v.into_owned())
                    .next()
                    .unwrap_or_default();
            self.secret(&form_decoded);
        }
        self.add(decoded);
    }

    /// One secret value: raw, form-encoded and JSON-escaped.
    fn secret(&mut self, raw: &str) {
        self.add(raw.to_owned());
        self.add(crate::endpoint::form_urlencode(raw));
        self.add(url::form_urlencoded::byte_serialize(raw.as_bytes()).collect());
        if let Ok(json) = serde_json::to_string(raw) {
            let inner = json
                .get(1..json.len().saturating_sub(1))
                .unwrap_or_default();
            self.add(inner.to_owned());
        }
    }

    fn add(&mut self, form: String) {
        if form.len() >= MIN_SECRET_LEN && !self.forms.contains(&form) {
            self.forms.push(form);
        }
    }

    /// True when nothing secret was sent.
    pub(crate) fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// `text` with every sent secret replaced.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = out.replace(form.as_str(), REDACTED);
            }
        }
        out
    }

    /// `body` with every sent secret replaced (before anything parses it).
    pub(crate) fn scrub_bytes(&self, body: Vec<u8>) -> Vec<u8> {
        match String::from_utf8(body) {
            Ok(text) => self.scrub(&text).into_bytes(),
            // Not UTF-8: not JSON either; the parsers refuse it and quote nothing from it.
            Err(not_utf8) => not_utf8.into_bytes(),
        }
    }

    /// `error` with every sent secret scrubbed from the text it carries.
    pub(crate) fn scrub_error(&self, error: Error) -> Error {
        if self.is_empty() {
            return error;
        }
        error.map_text(&|text: &str| self.scrub(text))
    }
}

#[cfg(test)]
mod tests;
