//! OpenID Connect identity: verifying the `id_token` and reading `fhirUser` (pure, sans-IO).
//!
//! SMART App Launch 2.2 says an `id_token` "must be validated according to the OIDC
//! specification". This module does that without any I/O: the caller fetches the server's JWK
//! Set, parses it **once** into a [`ServerJwks`], and passes it with the clock reading to
//! [`verify_id_token`].
//!
//! * [`ServerJwks::parse`]: a JWK Set into ready verifying keys (RSA ≥ 2048 bits, EC P-256 and
//!   P-384); unusable keys are skipped and reported as [`Finding`](crate::Finding)s.
//! * [`verify_jws`]: JWS compact serialization with RS256, RS384, RS512, PS256, ES256, ES384;
//!   `none`, HMAC, unknown algorithms, `crit` headers and duplicate JSON members are refused.
//! * [`verify_id_token`]: signature, then the OIDC Core 3.1.3.7 claim checks
//!   (`iss`, `aud`, `azp`, `exp`, `iat`, `nbf`, `nonce`, `auth_time`).
//! * [`FhirUser`]: the typed SMART `fhirUser` claim.
//! * [`VerifyError::UnknownKid`] and [`JwksRefreshPolicy`]: what a flow needs to re-fetch the
//!   JWK Set once on key rotation without becoming a request amplifier.
//!
//! ```
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//! use safire_core::{IdTokenError, IdTokenValidation, ServerJwks, VerifyError, verify_id_token};
//!
//! let jwks = ServerJwks::parse(br#"{"keys": []}"#).unwrap();
//! let now = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
//! let validation = IdTokenValidation::new("https://ehr.example", "my-app", now);
//! // Not a JWS at all: refused with a typed error, never a panic.
//! let err = verify_id_token("not-a-token", &jwks, &validation).unwrap_err();
//! assert!(matches!(err, IdTokenError::Jws(VerifyError::Malformed { .. })));
//! ```

mod fhir_user;
mod id_token;
mod jwks;
mod jws;
mod strict_json;

#[cfg(test)]
mod tests;

pub use fhir_user::{FhirUser, FhirUserError, ResourceType};
pub(crate) use id_token::unverified_iss_sub;
pub use id_token::{
    DEFAULT_CLOCK_SKEW, IdTokenError, IdTokenValidation, VerifiedIdToken, verify_id_token,
};
pub use jwks::{
    JwksError, JwksRefreshPolicy, KeyType, MAX_JWKS_BYTES, MAX_JWKS_KEYS, MIN_RSA_BITS, ServerJwks,
    ServerKey,
};
pub use jws::{MAX_JWS_BYTES, VerifiedJws, VerifyAlgorithm, VerifyError, verify_jws};

/// Server text for an error message: cleaned (see [`crate::error::server_text`]) and cut at
/// 64 characters, so a hostile header cannot make an error large.
fn short_text(raw: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = crate::error::server_text(raw).chars().take(MAX).collect();
    if raw.chars().count() > MAX {
        out.push('…');
    }
    out
}
