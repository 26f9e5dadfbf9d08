//! RFC 7638 JWK thumbprints: the default `kid`, so that one key file gives the same `kid` in
//! `safire jwks`, `safire register --key` and `safire token backend --key`.

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

use crate::flows::Jwk;

/// The base64url SHA-256 thumbprint of a public RSA or EC JWK; `None` if members are missing.
pub fn thumbprint(jwk: &Jwk) -> Option<String> {
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    // Required members only, in lexicographic order, no whitespace (RFC 7638 §3.2, §3.3).
    let canonical = match jwk.kty.as_str() {
        "EC" => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            quote(jwk.crv.as_deref()?),
            quote(jwk.x.as_deref()?),
            quote(jwk.y.as_deref()?)
        ),
        "RSA" => format!(
            r#"{{"e":{},"kty":"RSA","n":{}}}"#,
            quote(jwk.e.as_deref()?),
            quote(jwk.n.as_deref()?)
        ),
        _ => return None,
    };
    Some(Base64UrlUnpadded::encode_string(&Sha256::digest(
        canonical.as_bytes(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_example() {
        // RFC 7638 §3.1.
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        }))
        .unwrap();
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn incomplete_or_unknown_keys_have_none() {
        let jwk: Jwk =
            serde_json::from_value(serde_json::json!({"kty": "EC", "crv": "P-384"})).unwrap();
        assert_eq!(thumbprint(&jwk), None);
        let jwk: Jwk = serde_json::from_value(serde_json::json!({"kty": "OKP"})).unwrap();
        assert_eq!(thumbprint(&jwk), None);
    }
}
