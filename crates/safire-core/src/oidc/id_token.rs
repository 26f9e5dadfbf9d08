//! ID token validation (OpenID Connect Core 1.0 §3.1.3.7) on top of [`verify_jws`].

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use url::Url;

use super::fhir_user::FhirUser;
use super::jwks::ServerJwks;
use super::jws::{VerifyAlgorithm, VerifyError, verify_jws};
use super::short_text;
use super::strict_json::{self, StrictJsonError};
use crate::finding::{Finding, Findings};
use crate::json::type_name;

/// Default tolerance for clock differences between client and server: 60 seconds.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// What an ID token must satisfy, and the clock reading to judge it by.
///
/// Build it with [`new`](Self::new) and adjust the public fields or use the `with_*` helpers.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use safire_core::IdTokenValidation;
/// let v = IdTokenValidation::new("https://ehr.example", "my-app", SystemTime::now())
///     .with_nonce("n-0S6_WzA2Mj")
///     .with_fhir_base("https://ehr.example/fhir".parse().unwrap());
/// assert_eq!(v.skew, Duration::from_secs(60));
/// assert!(!format!("{v:?}").contains("n-0S6_WzA2Mj"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct IdTokenValidation {
    /// The expected `iss`, compared exactly (no trailing-slash or case folding).
    pub issuer: String,
    /// The client id: must be in `aud`, and equal `azp` when that is present.
    pub client_id: String,
    /// The `nonce` sent in the authorization request, if any; then the token must carry the
    /// same value. A token with a `nonce` when none was sent is accepted (OIDC Core
    /// §3.1.3.7 only checks a nonce that was sent; refreshed ID tokens may repeat it).
    pub nonce: Option<String>,
    /// Now.
    pub now: SystemTime,
    /// Clock tolerance for `exp`, `iat`, `nbf` and `auth_time` (default
    /// [`DEFAULT_CLOCK_SKEW`]).
    pub skew: Duration,
    /// The `max_age` sent in the authorization request, if any; then `auth_time` is required
    /// and must be no older than that.
    pub max_age: Option<Duration>,
    /// The FHIR base URL, to resolve a relative `fhirUser` (`Patient/123`).
    pub fhir_base: Option<Url>,
}

impl IdTokenValidation {
    /// Expect `issuer` and `client_id`, judged at `now`, with the default skew and no nonce,
    /// `max_age` or FHIR base.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>, now: SystemTime) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            nonce: None,
            now,
            skew: DEFAULT_CLOCK_SKEW,
            max_age: None,
            fhir_base: None,
        }
    }

    /// Expect this `nonce`.
    #[must_use]
    pub fn with_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Use this clock tolerance.
    #[must_use]
    pub fn with_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// Require `auth_time` no older than `max_age`.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Resolve a relative `fhirUser` against this FHIR base URL.
    #[must_use]
    pub fn with_fhir_base(mut self, fhir_base: Url) -> Self {
        self.fhir_base = Some(fhir_base);
        self
    }
}

impl fmt::Debug for IdTokenValidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenValidation")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("nonce", &self.nonce.as_ref().map(|_| "[REDACTED]"))
            .field("now", &self.now)
            .field("skew", &self.skew)
            .field("max_age", &self.max_age)
            .field("fhir_base", &self.fhir_base.as_ref().map(Url::as_str))
            .finish()
    }
}

/// Why an ID token was refused. Messages say which check failed; they never quote the token,
/// the nonce or a claim that identifies the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// The JWS itself: shape, algorithm, key or signature.
    #[error("ID token: {0}")]
    Jws(#[from] VerifyError),
    /// The signed payload is not a JSON object.
    #[error("ID token: the payload is not a JSON object")]
    MalformedPayload,
    /// The signed payload repeats a JSON member name.
    #[error("ID token: the payload repeats a JSON member name")]
    DuplicateClaim,
    /// A required claim is absent.
    #[error("ID token: required claim `{claim}` is missing")]
    MissingClaim {
        /// The claim name.
        claim: &'static str,
    },
    /// A claim has the wrong JSON type or an impossible value.
    #[error("ID token: claim `{claim}` is invalid: {reason}")]
    InvalidClaim {
        /// The claim name.
        claim: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `iss` differs from the expected issuer.
    #[error("ID token: `iss` is `{received}`, expected `{expected}`")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The token's `iss`, cleaned and cut short.
        received: String,
    },
    /// `aud` does not contain the client id.
    #[error("ID token: `aud` does not contain the client id `{client_id}`")]
    AudienceMismatch {
        /// The configured client id.
        client_id: String,
    },
    /// `azp` differs from the client id, or is missing while `aud` names several audiences.
    #[error("ID token: `azp` is missing or is not the client id (required with several audiences)")]
    AuthorizedPartyMismatch,
    /// `exp` is past (beyond the skew).
    #[error("ID token: expired (`exp` is past, beyond the allowed clock skew)")]
    Expired,
    /// `iat` is in the future (beyond the skew).
    #[error("ID token: `iat` is in the future (beyond the allowed clock skew)")]
    IssuedInFuture,
    /// `nbf` is in the future (beyond the skew).
    #[error("ID token: not valid yet (`nbf` is in the future, beyond the allowed clock skew)")]
    NotYetValid,
    /// A nonce was sent but the token has none.
    #[error("ID token: `nonce` is missing (one was sent in the authorization request)")]
    NonceMissing,
    /// The token's `nonce` is not the one sent.
    #[error("ID token: `nonce` differs from the one sent in the authorization request")]
    NonceMismatch,
    /// `auth_time` is older than the requested `max_age` (beyond the skew).
    #[error("ID token: the authentication (`auth_time`) is older than the requested max_age")]
    AuthenticationTooOld,
}

/// An ID token whose signature and claims verified.
///
/// `Debug` redacts everything that identifies the user (`sub`, `fhirUser`, `name`, `email`
/// and the other claims' values).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifiedIdToken {
    /// `sub`: the user at the issuer (patient-identifying).
    pub sub: String,
    /// The typed `fhirUser` claim, when present and valid (a broken one is a finding).
    pub fhir_user: Option<FhirUser>,
    /// `name`, when present as a string.
    pub name: Option<String>,
    /// `email`, when present as a string.
    pub email: Option<String>,
    /// `iss`.
    pub iss: String,
    /// `aud` as a list (a single string becomes one entry).
    pub aud: Vec<String>,
    /// `exp`.
    pub exp: SystemTime,
    /// `iat`.
    pub iat: SystemTime,
    /// `auth_time`, when present.
    pub auth_time: Option<SystemTime>,
    /// The verified algorithm.
    pub alg: VerifyAlgorithm,
    /// The `kid` of the key that verified it.
    pub kid: Option<String>,
    /// Every claim of the payload, as sent.
    pub claims: Map<String, Value>,
    /// Problems that did not make the token invalid (a broken `fhirUser`, `name` not a string).
    pub findings: Vec<Finding>,
}

impl fmt::Debug for VerifiedIdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const R: &str = "[REDACTED]";
        let claim_names: Vec<&str> = self.claims.keys().map(String::as_str).collect();
        f.debug_struct("VerifiedIdToken")
            .field("sub", &R)
            .field(
                "fhir_user",
                &self.fhir_user.as_ref().map(|u| u.resource_type().as_str()),
            )
            .field("name", &self.name.as_ref().map(|_| R))
            .field("email", &self.email.as_ref().map(|_| R))
            .field("iss", &self.iss)
            .field("aud", &self.aud)
            .field("exp", &self.exp)
            .field("iat", &self.iat)
            .field("auth_time", &self.auth_time)
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("claims", &claim_names)
            .field("findings", &self.findings)
            .finish()
    }
}

/// Verifies an ID token: the JWS with [`verify_jws`], then the claims as OIDC Core §3.1.3.7
/// requires.
///
/// Checks, in order, each failing with its own [`IdTokenError`]: the signature; the payload (a
/// JSON object, no duplicate members); `iss` equal to `validation.issuer`; `aud` (a string or
/// an array of strings) containing the client id; `azp` equal to the client id when present,
/// and present when `aud` has several entries; `exp` after `now - skew`; `iat` not after
/// `now + skew`; `nbf`, when present, not after `now + skew`; `nonce` equal (constant-time)
/// when one was sent; `auth_time` within `max_age + skew` when `max_age` was sent; `sub` a
/// non-empty string. `exp`, `iat`, `nbf` and `auth_time` are JSON numbers of seconds since
/// the epoch (fractions allowed).
///
/// A whole round: the server's key, its JWK Set, a token it signed, the verified identity.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use base64ct::{Base64UrlUnpadded as B64, Encoding};
/// use safire_core::{
///     IdTokenValidation, PrivateKey, ResourceType, SeededRandom, ServerJwks, Signer,
///     verify_id_token,
/// };
///
/// // The server side, for the example: an ES384 key published in a JWK Set.
/// let server_key = PrivateKey::generate_es384(&mut SeededRandom::new(1))?;
/// let set = serde_json::json!({"keys": [server_key.public_jwk().unwrap().with_kid("k1")]});
/// let now = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
/// let claims = serde_json::json!({
///     "iss": "https://ehr.example", "aud": "my-app", "sub": "u-1", "nonce": "n-1",
///     "iat": 1_767_225_590, "exp": 1_767_225_900, "fhirUser": "Practitioner/dr-1",
/// });
/// let input = format!(
///     "{}.{}",
///     B64::encode_string(br#"{"alg":"ES384","kid":"k1"}"#),
///     B64::encode_string(claims.to_string().as_bytes()),
/// );
/// let token = format!("{input}.{}", B64::encode_string(&server_key.sign(input.as_bytes())?));
///
/// // The client side: parse the JWK Set once, verify each id_token against it.
/// let jwks = ServerJwks::parse(set.to_string().as_bytes()).unwrap();
/// let validation = IdTokenValidation::new("https://ehr.example", "my-app", now)
///     .with_nonce("n-1")
///     .with_fhir_base("https://ehr.example/fhir".parse().unwrap());
/// let identity = verify_id_token(&token, &jwks, &validation).unwrap();
/// let user = identity.fhir_user.as_ref().unwrap();
/// assert_eq!(user.resource_type(), &ResourceType::Practitioner);
/// assert_eq!(user.url().as_str(), "https://ehr.example/fhir/Practitioner/dr-1");
/// assert_eq!(identity.sub, "u-1");
/// assert!(!format!("{identity:?}").contains("dr-1"));
/// # Ok::<(), safire_core::Error>(())
/// ```
///
/// Refusals are typed:
///
/// ```
/// use std::time::SystemTime;
/// use safire_core::{IdTokenError, IdTokenValidation, ServerJwks, VerifyError, verify_id_token};
/// let jwks = ServerJwks::parse(br#"{"keys":[]}"#).unwrap();
/// let v = IdTokenValidation::new("https://ehr.example", "my-app", SystemTime::now());
/// // {"alg":"HS256","typ":"JWT"}.{}.sig : HMAC is never accepted.
/// let err = verify_id_token("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2ln", &jwks, &v);
/// assert!(matches!(err, Err(IdTokenError::Jws(VerifyError::HmacAlgorithm { .. }))));
/// ```
pub fn verify_id_token(
    token: &str,
    jwks: &ServerJwks,
    validation: &IdTokenValidation,
) -> Result<VerifiedIdToken, IdTokenError> {
    let jws = verify_jws(token, jwks)?;
    let claims = strict_json::parse_object(&jws.payload).map_err(|e| match e {
        StrictJsonError::Duplicate => IdTokenError::DuplicateClaim,
        StrictJsonError::Malformed => IdTokenError::MalformedPayload,
    })?;
    let now = since_epoch(validation.now);
    let skew = validation.skew;

    let iss = required_string(&claims, "iss")?;
    if iss != validation.issuer {
        return Err(IdTokenError::IssuerMismatch {
            expected: validation.issuer.clone(),
            received: short_text(iss),
        });
    }

    let aud = match claims.get("aud") {
        None => return Err(IdTokenError::MissingClaim { claim: "aud" }),
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(IdTokenError::InvalidClaim {
                claim: "aud",
                reason: "not a string or a non-empty array of strings",
            })?,
        Some(_) => {
            return Err(IdTokenError::InvalidClaim {
                claim: "aud",
                reason: "not a string or a non-empty array of strings",
            });
        }
    };
    if !aud.contains(&validation.client_id) {
        return Err(IdTokenError::AudienceMismatch {
            client_id: validation.client_id.clone(),
        });
    }
    match claims.get("azp") {
        None if aud.len() > 1 => return Err(IdTokenError::AuthorizedPartyMismatch),
        None => {}
        Some(Value::String(azp)) if *azp == validation.client_id => {}
        Some(Value::String(_)) => return Err(IdTokenError::AuthorizedPartyMismatch),
        Some(_) => {
            return Err(IdTokenError::InvalidClaim {
                claim: "azp",
                reason: "not a string",
            });
        }
    }

    let exp = required_time(&claims, "exp")?;
    if exp.saturating_add(skew) <= now {
        return Err(IdTokenError::Expired);
    }
    let iat = required_time(&claims, "iat")?;
    if iat > now.saturating_add(skew) {
        return Err(IdTokenError::IssuedInFuture);
    }
    if let Some(nbf) = optional_time(&claims, "nbf")?
        && nbf > now.saturating_add(skew)
    {
        return Err(IdTokenError::NotYetValid);
    }

    if let Some(expected) = &validation.nonce {
        match claims.get("nonce") {
            None => return Err(IdTokenError::NonceMissing),
            Some(Value::String(nonce)) => {
                if !bool::from(nonce.as_bytes().ct_eq(expected.as_bytes())) {
                    return Err(IdTokenError::NonceMismatch);
                }
            }
            Some(_) => {
                return Err(IdTokenError::InvalidClaim {
                    claim: "nonce",
                    reason: "not a string",
                });
            }
        }
    }

    let auth_time = optional_time(&claims, "auth_time")?;
    if let Some(max_age) = validation.max_age {
        let Some(auth_time) = auth_time else {
            return Err(IdTokenError::MissingClaim { claim: "auth_time" });
        };
        if auth_time.saturating_add(max_age).saturating_add(skew) < now {
            return Err(IdTokenError::AuthenticationTooOld);
        }
    }

    let sub = required_string(&claims, "sub")?;
    if sub.is_empty() {
        return Err(IdTokenError::InvalidClaim {
            claim: "sub",
            reason: "empty",
        });
    }

    let mut findings = Findings::default();
    let fhir_user = match claims.get("fhirUser") {
        None => None,
        Some(Value::String(value)) => match FhirUser::parse(value, validation.fhir_base.as_ref()) {
            Ok(user) => {
                for finding in user.compliance_findings() {
                    findings.push(finding);
                }
                Some(user)
            }
            Err(e) => {
                findings.error("fhirUser", format!("`fhirUser` ignored: {e}"));
                None
            }
        },
        Some(other) => {
            findings.error(
                "fhirUser",
                format!(
                    "`fhirUser` is a JSON {}, not a string; ignored",
                    type_name(other)
                ),
            );
            None
        }
    };
    let name = optional_profile_string(&claims, "name", &mut findings);
    let email = optional_profile_string(&claims, "email", &mut findings);

    Ok(VerifiedIdToken {
        sub: sub.to_owned(),
        fhir_user,
        name,
        email,
        iss: iss.to_owned(),
        aud,
        exp: to_system_time(exp),
        iat: to_system_time(iat),
        auth_time: auth_time.map(to_system_time),
        alg: jws.alg,
        kid: jws.kid,
        claims,
        findings: findings.into_vec(),
    })
}

/// The `iss` and `sub` of an id_token read WITHOUT verifying it: only for a token that was
/// verified when it was received and kept since (a session stored before its verified
/// subject was recorded). `None` when it is not a readable JWS payload with both claims.
pub(crate) fn unverified_iss_sub(token: &str) -> Option<(String, String)> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let payload = token.split('.').nth(1)?;
    let claims = strict_json::parse_object(&Base64UrlUnpadded::decode_vec(payload).ok()?).ok()?;
    let claim = |name: &str| claims.get(name)?.as_str().map(str::to_owned);
    Some((claim("iss")?, claim("sub")?))
}

fn since_epoch(time: SystemTime) -> Duration {
    time.duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn to_system_time(since_epoch: Duration) -> SystemTime {
    UNIX_EPOCH.checked_add(since_epoch).unwrap_or(UNIX_EPOCH)
}

fn required_string<'a>(
    claims: &'a Map<String, Value>,
    claim: &'static str,
) -> Result<&'a str, IdTokenError> {
    match claims.get(claim) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(IdTokenError::InvalidClaim {
            claim,
            reason: "not a string",
        }),
        None => Err(IdTokenError::MissingClaim { claim }),
    }
}

fn required_time(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Duration, IdTokenError> {
    optional_time(claims, claim)?.ok_or(IdTokenError::MissingClaim { claim })
}

/// A NumericDate (RFC 7519 §2): a JSON number of seconds since the epoch, fractions allowed,
/// representable as a `SystemTime`.
fn optional_time(
    claims: &Map<String, Value>,
    claim: &'static str,
) -> Result<Option<Duration>, IdTokenError> {
    let invalid = |reason| IdTokenError::InvalidClaim { claim, reason };
    let Some(value) = claims.get(claim) else {
        return Ok(None);
    };
    let Value::Number(n) = value else {
        return Err(invalid("not a number (NumericDate)"));
    };
    let since = if let Some(secs) = n.as_u64() {
        Duration::from_secs(secs)
    } else if n.is_i64() {
        return Err(invalid("before 1970"));
    } else {
        let secs = n.as_f64().unwrap_or(f64::NAN);
        if secs < 0.0 {
            return Err(invalid("before 1970"));
        }
        Duration::try_from_secs_f64(secs).map_err(|_| invalid("out of range"))?
    };
    if UNIX_EPOCH.checked_add(since).is_none() {
        return Err(invalid("out of range"));
    }
    Ok(Some(since))
}

fn optional_profile_string(
    claims: &Map<String, Value>,
    claim: &str,
    findings: &mut Findings,
) -> Option<String> {
    match claims.get(claim) {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            findings.warning(
                claim,
                format!(
                    "`{claim}` is a JSON {}, not a string; ignored",
                    type_name(other)
                ),
            );
            None
        }
    }
}
