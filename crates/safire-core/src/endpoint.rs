//! The client-authenticated request shared by every endpoint that authenticates the client:
//! token, introspection and revocation.
//!
//! One place resolves the credentials (configuration plus per-call overrides) and applies
//! them: none (`client_id` in the body), `client_secret_basic` in both encodings,
//! `client_secret_post`, or a signed `private_key_jwt` assertion. oauth2-rs's
//! `endpoint_request` is the model.

use std::sync::Arc;

use base64ct::{Base64, Encoding};
use http::{HeaderValue, Method};

use crate::assertion::{ClientAssertion, DEFAULT_ASSERTION_LIFETIME, Signer};
use crate::config::{BasicAuthEncoding, CallOptions, ClientAuth, ClientConfig};
use crate::error::{ConfigurationError, Error};
use crate::flow::Env;
use crate::metadata::SmartMetadata;
use crate::requests::{self, HttpRequest, Operation};
use crate::secret::SecretString;

/// The `client_assertion_type` for JWT client authentication (RFC 7523).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Form parameters the client authentication sets; never accepted as extra parameters.
const AUTH_PARAMS: &[&str] = &[
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
];

/// How the client proves who it is, once credentials are resolved from config and overrides.
pub(crate) enum ResolvedAuth {
    /// `client_id` in the body, no secret.
    Public,
    /// `Authorization: Basic`.
    Basic(HeaderValue),
    /// `client_id` and `client_secret` in the body.
    Post(SecretString),
    /// A signed JWT assertion, with the first of these keys whose algorithm the server
    /// accepts (never empty).
    Assertion {
        keys: Vec<(Arc<dyn Signer>, String)>,
    },
    /// `Authorization: Bearer` (introspection at servers that require it); no client id.
    Bearer(HeaderValue),
}

/// Which credential the endpoint insists on, beyond what the configuration says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthRequirement {
    /// Whatever the client is configured with (public clients send their id).
    Configured,
    /// A confidential client (backend services): a public configuration means an assertion.
    Confidential,
    /// Whatever the client is configured with, or a per-call bearer token
    /// ([`CallOptions::bearer_token`]) instead (introspection).
    ClientOrBearer,
}

/// Resolves credentials, or lists every missing one. Called before any request is built, so
/// a credential problem surfaces before discovery too.
pub(crate) fn resolve_auth(
    config: &ClientConfig,
    options: &CallOptions,
    requirement: AuthRequirement,
) -> Result<ResolvedAuth, ConfigurationError> {
    if let Some(token) = &options.bearer_token {
        return bearer_auth(token, options, requirement);
    }
    let client_id = config.require_client_id()?;
    let configured = config.client_auth();
    let wants_assertion = matches!(
        configured,
        ClientAuth::PrivateKeyJwt { .. } | ClientAuth::PrivateKeyJwtKeys { .. }
    ) || (requirement == AuthRequirement::Confidential
        && matches!(configured, ClientAuth::Public));
    check_overrides_fit(options, wants_assertion, configured)?;
    if wants_assertion {
        if let (ClientAuth::PrivateKeyJwtKeys { keys }, None, None) =
            (configured, &options.signer, &options.kid)
        {
            let keys: Vec<_> = keys
                .iter()
                .filter(|(_, kid)| !kid.trim().is_empty())
                .cloned()
                .collect();
            return if keys.is_empty() {
                Err(ConfigurationError::missing(["private_key", "kid"]))
            } else {
                Ok(ResolvedAuth::Assertion { keys })
            };
        }
        let (config_signer, config_kid) = match configured {
            ClientAuth::PrivateKeyJwt { signer, kid } => (signer.clone(), kid.clone()),
            _ => (None, None),
        };
        let signer = options.signer.clone().or(config_signer);
        let kid = options
            .kid
            .clone()
            .or(config_kid)
            .filter(|k| !k.trim().is_empty());
        return match (signer, kid) {
            (Some(signer), Some(kid)) => Ok(ResolvedAuth::Assertion {
                keys: vec![(signer, kid)],
            }),
            (signer, kid) => {
                let mut missing = Vec::new();
                if signer.is_none() {
                    missing.push("private_key");
                }
                if kid.is_none() {
                    missing.push("kid");
                }
                Err(ConfigurationError::missing(missing))
            }
        };
    }
    let secret_for = |configured: &Option<SecretString>| {
        options
            .client_secret
            .clone()
            .or_else(|| configured.clone())
            .filter(|s| !s.is_blank())
            .ok_or_else(|| ConfigurationError::missing(["client_secret"]))
    };
    match configured {
        ClientAuth::ClientSecretBasic { secret, encoding } => Ok(ResolvedAuth::Basic(
            basic_authorization(client_id, &secret_for(secret)?, *encoding)?,
        )),
        ClientAuth::ClientSecretPost { secret } => Ok(ResolvedAuth::Post(secret_for(secret)?)),
        _ => Ok(ResolvedAuth::Public),
    }
}

/// `Authorization: Bearer <token>`, where the endpoint accepts it and no client credential
/// was given per call too.
fn bearer_auth(
    token: &SecretString,
    options: &CallOptions,
    requirement: AuthRequirement,
) -> Result<ResolvedAuth, ConfigurationError> {
    if requirement != AuthRequirement::ClientOrBearer {
        return Err(ConfigurationError::invalid(
            "bearer_token",
            "given per call, but only token introspection authenticates with a bearer \
             token; drop the override",
        ));
    }
    if options.client_secret.is_some() || options.signer.is_some() || options.kid.is_some() {
        return Err(ConfigurationError::invalid(
            "bearer_token",
            "given per call together with a client credential; give one or the other",
        ));
    }
    let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose().trim()))
        .map_err(|_| ConfigurationError::invalid("bearer_token", "cannot be sent in a header"))?;
    value.set_sensitive(true);
    Ok(ResolvedAuth::Bearer(value))
}

/// Per-call credentials must fit how the client authenticates: silently dropping a secret
/// or key the caller passed would send the request with other credentials than intended.
fn check_overrides_fit(
    options: &CallOptions,
    wants_assertion: bool,
    configured: &ClientAuth,
) -> Result<(), ConfigurationError> {
    let method = if wants_assertion {
        "private_key_jwt"
    } else {
        configured.method_name()
    };
    let mismatch = |given: &str| {
        ConfigurationError::invalid(
            given,
            format!(
                "given per call, but this request authenticates with '{method}'; configure \
                 the matching ClientAuth or drop the override"
            ),
        )
    };
    let key_given = options.signer.is_some() || options.kid.is_some();
    let symmetric = matches!(method, "client_secret_basic" | "client_secret_post");
    if options.client_secret.is_some() && !symmetric {
        return Err(mismatch("client_secret"));
    }
    if key_given && method != "private_key_jwt" {
        return Err(mismatch("private_key"));
    }
    Ok(())
}

/// The credentials a request built from `config` and `options` may carry (client secrets, a
/// bearer token): what an error must never repeat, even when the server echoes it.
pub(crate) fn credential_texts<'a>(
    config: &'a ClientConfig,
    options: &'a CallOptions,
) -> Vec<&'a str> {
    let configured = match config.client_auth() {
        ClientAuth::ClientSecretBasic { secret, .. } | ClientAuth::ClientSecretPost { secret } => {
            secret.as_ref()
        }
        _ => None,
    };
    [
        configured,
        options.client_secret.as_ref(),
        options.bearer_token.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(SecretString::expose)
    .filter(|s| !s.trim().is_empty())
    .collect()
}

/// Where an authenticated form POST goes and who sends it.
pub(crate) struct EndpointRequest<'a> {
    pub(crate) config: &'a ClientConfig,
    pub(crate) options: &'a CallOptions,
    pub(crate) auth: &'a ResolvedAuth,
    pub(crate) endpoint: &'a str,
    /// The `aud` of a client assertion when it is not `endpoint`: the token endpoint, for the
    /// companion endpoints (see [`assertion_audience`]).
    pub(crate) assertion_audience: Option<&'a str>,
    pub(crate) operation: Operation,
    /// The operation's own parameter names: never accepted as extra parameters.
    pub(crate) reserved: &'a [&'a str],
    /// The server's metadata when known: its signing algorithms choose the assertion key.
    pub(crate) metadata: Option<&'a SmartMetadata>,
}

impl EndpointRequest<'_> {
    /// The request: the operation's own parameters (`form`), the caller's extra parameters
    /// (never one in `reserved` or set by authentication), then the client authentication.
    pub(crate) fn build(
        &self,
        form: Vec<(&str, &str)>,
        env: &mut Env<'_>,
    ) -> Result<HttpRequest, Error> {
        endpoint_request(self, form, env)
    }
}

fn endpoint_request(
    request: &EndpointRequest<'_>,
    form: Vec<(&str, &str)>,
    env: &mut Env<'_>,
) -> Result<HttpRequest, Error> {
    let EndpointRequest {
        config,
        options,
        auth,
        endpoint,
        assertion_audience,
        operation,
        reserved,
        metadata,
    } = *request;
    let assertion;
    // The same pairs, borrowed for this call only, so local values can join them.
    let mut form: Vec<(&str, &str)> = form;
    let client_id = || config.require_client_id();
    for (name, value) in &options.extra_params {
        if reserved.contains(&name.as_str()) || AUTH_PARAMS.contains(&name.as_str()) {
            return Err(ConfigurationError::invalid(
                "extra_param",
                format!("'{name}' is set by Safire itself and cannot be overridden"),
            )
            .into());
        }
        form.push((name, value));
    }
    let mut authorization = None;
    match auth {
        ResolvedAuth::Public => form.push(("client_id", client_id()?)),
        ResolvedAuth::Basic(header) | ResolvedAuth::Bearer(header) => {
            authorization = Some(header.clone());
        }
        ResolvedAuth::Post(secret) => {
            form.push(("client_id", client_id()?));
            form.push(("client_secret", secret.expose()));
        }
        ResolvedAuth::Assertion { keys } => {
            let (signer, kid) = choose_key(keys, metadata)?;
            assertion = ClientAssertion {
                signer: signer.as_ref(),
                kid,
                jku: config.jwks_uri(),
                client_id: client_id()?,
                audience: assertion_audience.unwrap_or(endpoint),
                lifetime: DEFAULT_ASSERTION_LIFETIME,
            }
            .sign(env.now, env.random)?;
            form.push(("client_assertion_type", JWT_BEARER_ASSERTION_TYPE));
            form.push(("client_assertion", assertion.expose()));
        }
    }
    requests::build(
        Method::POST,
        endpoint,
        operation,
        Some("application/x-www-form-urlencoded"),
        authorization,
        requests::form_body(&form),
    )
}

/// The `aud` of a client assertion sent to a companion endpoint (introspection, revocation):
/// the token endpoint, configured or discovered; `None` when `auth` is not an assertion.
///
/// SMART's asymmetric client authentication names the token URL as the assertion's `aud`,
/// OpenID Connect Core §9 says it SHOULD be the token endpoint, and RFC 7523 §3 lets the token
/// endpoint identify the authorization server: servers that check `aud` strictly accept only
/// it, and the lenient ones accept it too.
pub(crate) fn assertion_audience(
    auth: &ResolvedAuth,
    config: &ClientConfig,
    metadata: Option<&crate::SmartMetadata>,
) -> Result<Option<String>, Error> {
    match auth {
        ResolvedAuth::Assertion { .. } => crate::ServerEndpoint::Token
            .resolve(config, metadata)
            .map(Some),
        _ => Ok(None),
    }
}

/// Whether a companion endpoint's flow needs discovery for the token endpoint alone: its
/// client authentication is an assertion and the token endpoint is not configured.
pub(crate) fn assertion_needs_token_endpoint(
    config: &ClientConfig,
    options: &CallOptions,
    requirement: AuthRequirement,
) -> bool {
    config.token_endpoint().is_none()
        && matches!(
            resolve_auth(config, options, requirement),
            Ok(ResolvedAuth::Assertion { .. })
        )
}

/// The first key whose algorithm the server lists in
/// `token_endpoint_auth_signing_alg_values_supported`; the first key when the server's list
/// is unknown or empty. No match fails before anything is sent, naming both lists.
pub(crate) fn choose_key<'k>(
    keys: &'k [(Arc<dyn Signer>, String)],
    metadata: Option<&SmartMetadata>,
) -> Result<(&'k Arc<dyn Signer>, &'k str), ConfigurationError> {
    let server = metadata
        .map(|m| {
            m.token_endpoint_auth_signing_alg_values_supported
                .as_slice()
        })
        .unwrap_or_default();
    let fits = |signer: &Arc<dyn Signer>| {
        server.is_empty() || server.iter().any(|alg| alg == signer.algorithm().as_str())
    };
    if let Some((signer, kid)) = keys.iter().find(|(signer, _)| fits(signer)) {
        return Ok((signer, kid));
    }
    let ours: Vec<&str> = keys.iter().map(|(s, _)| s.algorithm().as_str()).collect();
    let theirs: Vec<String> = server
        .iter()
        .map(|alg| crate::error::server_text(alg))
        .collect();
    Err(ConfigurationError::invalid(
        "private_key",
        format!(
            "none of the client's signing keys ({}) uses an algorithm the server lists in \
             token_endpoint_auth_signing_alg_values_supported ({}); configure a key for one \
             of the server's algorithms",
            ours.join(", "),
            theirs.join(", ")
        ),
    ))
}

/// `Basic base64(id:secret)` with the chosen encoding of id and secret.
pub fn basic_authorization(
    client_id: &str,
    secret: &SecretString,
    encoding: BasicAuthEncoding,
) -> Result<HeaderValue, ConfigurationError> {
    let credentials = match encoding {
        BasicAuthEncoding::Raw => format!("{client_id}:{}", secret.expose()),
        BasicAuthEncoding::FormUrlEncoded => format!(
            "{}:{}",
            form_urlencode(client_id),
            form_urlencode(secret.expose())
        ),
    };
    let mut value = HeaderValue::try_from(format!(
        "Basic {}",
        Base64::encode_string(credentials.as_bytes())
    ))
    .map_err(|_| ConfigurationError::invalid("client_secret", "cannot be sent in a header"))?;
    value.set_sensitive(true);
    Ok(value)
}

/// RFC 6749 Appendix B encoding: unreserved characters stay, space becomes `+`, every other
/// byte is percent-encoded.
pub(crate) fn form_urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => {
                out.push('%');
                out.push(hex_digit(other >> 4));
                out.push(hex_digit(other & 0xF));
            }
        }
    }
    out
}

/// The uppercase hex digit of a nibble.
fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16)
        .unwrap_or('0')
        .to_ascii_uppercase()
}
