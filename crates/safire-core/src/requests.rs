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

/// A form-encoded POST body from name/value pairs.
pub(crate) fn form_body<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}

/// True for 2xx statuses.
pub(crate) fn is_success(status: http::StatusCode) -> bool {
    status.is_success()
}
