//! Building the `http::Request` values flows emit: one place for headers and error mapping.

use http::{HeaderValue, Method, header};

use crate::error::{ConfigurationError, Error};

/// The request type every flow emits.
pub type HttpRequest = http::Request<Vec<u8>>;
/// The response type every flow consumes.
pub type HttpResponse = http::Response<Vec<u8>>;

/// What a request is for; carried in the request's extensions so the redirect policy and
/// transports can name it in errors and logs without knowing SMART.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `GET /.well-known/smart-configuration`.
    Discovery,
    /// A token request (code exchange, refresh, client credentials).
    Token,
    /// Dynamic client registration.
    Registration,
    /// Token introspection (RFC 7662).
    Introspection,
    /// Token revocation (RFC 7009).
    Revocation,
    /// Reading, updating or deleting a registration at its `registration_client_uri`
    /// (RFC 7592). Carries a bearer token, so redirects are never followed.
    RegistrationManagement,
    /// `GET` of the server's JWK Set (`jwks_uri`), to verify id_tokens.
    Jwks,
    /// A request to the FHIR server carrying a session's bearer token.
    Fhir,
}

impl Operation {
    /// A human name for messages and logs.
    pub fn label(self) -> &'static str {
        match self {
            Operation::Discovery => "discovery",
            Operation::Token => "token endpoint",
            Operation::Registration => "registration endpoint",
            Operation::Introspection => "introspection endpoint",
            Operation::Revocation => "revocation endpoint",
            Operation::RegistrationManagement => "client configuration endpoint",
            Operation::Jwks => "JWK Set (jwks_uri)",
            Operation::Fhir => "FHIR request",
        }
    }
}

/// A request with `Accept: application/json`, tagged with its [`Operation`].
pub(crate) fn build(
    method: Method,
    url: &str,
    operation: Operation,
    content_type: Option<&'static str>,
    authorization: Option<HeaderValue>,
    body: Vec<u8>,
) -> Result<HttpRequest, Error> {
    let uri: http::Uri = url.parse().map_err(|_| {
        ConfigurationError::invalid(
            operation.label(),
            format!(
                "'{}' is not a usable URI",
                crate::error::url_for_message(url)
            ),
        )
    })?;
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(content_type) = content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    if let Some(mut value) = authorization {
        value.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, value);
    }
    request.extensions_mut().insert(operation);
    Ok(request)
}

/// A form-encoded POST body from name/value pairs: byte for byte what
/// `url::form_urlencoded::Serializer` writes (`application/x-www-form-urlencoded`: `*-._`
/// and alphanumerics as they are, space as `+`, everything else `%XX`), sized once instead
/// of grown pair by pair.
pub(crate) fn form_body(pairs: &[(&str, &str)]) -> Vec<u8> {
    let len: usize = pairs
        .iter()
        .map(|(name, value)| name.len() + value.len() + 2)
        .sum();
    let mut out = Vec::with_capacity(len);
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push(b'&');
        }
        form_encode_into(&mut out, name);
        out.push(b'=');
        form_encode_into(&mut out, value);
    }
    out
}

/// The bytes form encoding leaves as they are, as a table (one load per byte).
const FORM_UNCHANGED: [bool; 256] = {
    let mut table = [false; 256];
    let mut rest: &mut [bool] = &mut table;
    let mut byte = 0u8;
    while let [slot, tail @ ..] = rest {
        *slot = matches!(
            byte,
            b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z'
        );
        rest = tail;
        byte = byte.wrapping_add(1);
    }
    table
};

/// Appends `text` form-encoded (see [`form_body`]): unchanged runs are copied whole.
fn form_encode_into(out: &mut Vec<u8>, text: &str) {
    let unchanged = |byte: u8| FORM_UNCHANGED.get(usize::from(byte)) == Some(&true);
    let hex = |nibble: u8| {
        if nibble < 10 {
            b'0' + nibble
        } else {
            b'A' + nibble - 10
        }
    };
    let mut rest = text.as_bytes();
    while let Some(at) = rest.iter().position(|&byte| !unchanged(byte)) {
        let Some((run, tail)) = rest.split_at_checked(at) else {
            break;
        };
        out.extend_from_slice(run);
        let Some((&byte, tail)) = tail.split_first() else {
            break;
        };
        if byte == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', hex(byte >> 4), hex(byte & 0xF)]);
        }
        rest = tail;
    }
    out.extend_from_slice(rest);
}

/// True for 2xx statuses.
pub(crate) fn is_success(status: http::StatusCode) -> bool {
    status.is_success()
}

#[cfg(test)]
mod tests {
    use super::form_body;

    /// The body is what `url`'s serializer writes, for every byte value and for the
    /// separators (the secret scrubbing matches sent values in that encoding).
    #[test]
    fn form_body_matches_url_serializer() {
        let every_byte: String = (0u8..=0x7F).map(char::from).collect();
        let cases: &[&[(&str, &str)]] = &[
            &[],
            &[("", "")],
            &[("", ""), ("a", "")],
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", "tGzv.3J~Ok*F0-X_G5"),
            ],
            &[
                ("scope", "launch/patient patient/*.rs openid fhirUser"),
                ("x", "a&b=c+d%e"),
            ],
            &[("ünï", "çødé ✓ 🔑"), ("tab\t", "nl\r\n")],
            &[(every_byte.as_str(), every_byte.as_str())],
        ];
        for pairs in cases {
            let expected = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter().copied())
                .finish();
            assert_eq!(
                String::from_utf8(form_body(pairs)).unwrap(),
                expected,
                "{pairs:?}"
            );
        }
    }
}
