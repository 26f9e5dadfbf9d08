//! Minimal, strict JOSE: JWK parsing (RSA >= 2048 bits, EC P-384) and JWS
//! verification for RS384 / ES384 only. Independent of any safire client code.

use base64ct::{Base64UrlUnpadded, Encoding};
use rsa::{BoxedUint, RsaPublicKey, traits::PublicKeyParts};
use serde_json::{Map, Value};
use signature::Verifier;

/// A verified-usable public key from a registered JWKS.
#[derive(Clone, Debug)]
pub(crate) struct Jwk {
    pub(crate) kid: String,
    pub(crate) key: PublicKey,
}

#[derive(Clone, Debug)]
pub(crate) enum PublicKey {
    Rsa(RsaPublicKey),
    P384(p384::ecdsa::VerifyingKey),
}

pub(crate) fn b64url_decode(s: &str) -> Result<Vec<u8>, String> {
    Base64UrlUnpadded::decode_vec(s).map_err(|_| "invalid base64url".to_string())
}

pub(crate) fn b64url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn str_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    obj.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("JWK member `{name}` missing or not a string"))
}

/// Parse and validate one public JWK. Private members are refused: a client
/// must never hand its private key to the server.
pub(crate) fn parse_jwk(v: &Value) -> Result<Jwk, String> {
    let obj = v.as_object().ok_or("JWK is not a JSON object")?;
    for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
        if obj.contains_key(private) {
            return Err(format!("JWK contains private member `{private}`"));
        }
    }
    let kid = str_member(obj, "kid")?.to_string();
    if kid.is_empty() {
        return Err("JWK `kid` is empty".into());
    }
    if let Some(usage) = obj.get("use")
        && usage.as_str() != Some("sig")
    {
        return Err("JWK `use` must be `sig`".into());
    }
    let kty = str_member(obj, "kty")?;
    let alg = obj.get("alg").map(|a| a.as_str().unwrap_or("<non-string>"));
    match kty {
        "RSA" => {
            if alg.is_some_and(|a| a != "RS384") {
                return Err("RSA JWK `alg` must be RS384 when present".into());
            }
            let n = b64url_decode(str_member(obj, "n")?)?;
            let e = b64url_decode(str_member(obj, "e")?)?;
            let n_trim: &[u8] = match n.iter().position(|b| *b != 0) {
                Some(i) => n.get(i..).unwrap_or(&[]),
                None => &[],
            };
            let bits = n_trim.len() * 8
                - n_trim
                    .first()
                    .map(|b| b.leading_zeros() as usize)
                    .unwrap_or(0);
            if bits < 2048 {
                return Err(format!("RSA key is {bits} bits; at least 2048 required"));
            }
            if bits > 8192 || e.len() > 8 {
                return Err("RSA key parameters too large".into());
            }
            let n_uint = BoxedUint::from_be_slice_vartime(n_trim);
            let e_uint = BoxedUint::from_be_slice_vartime(&e);
            let key = RsaPublicKey::new_with_size_limits(n_uint, e_uint, 2048..=8192)
                .map_err(|err| format!("invalid RSA key: {err}"))?;
            Ok(Jwk {
                kid,
                key: PublicKey::Rsa(key),
            })
        }
        "EC" => {
            if str_member(obj, "crv")? != "P-384" {
                return Err("EC JWK must use crv P-384".into());
            }
            if alg.is_some_and(|a| a != "ES384") {
                return Err("EC JWK `alg` must be ES384 when present".into());
            }
            let x = b64url_decode(str_member(obj, "x")?)?;
            let y = b64url_decode(str_member(obj, "y")?)?;
            if x.len() != 48 || y.len() != 48 {
                return Err("P-384 coordinates must be 48 bytes".into());
            }
            let mut sec1 = Vec::with_capacity(97);
            sec1.push(4u8);
            sec1.extend_from_slice(&x);
            sec1.extend_from_slice(&y);
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                .map_err(|_| "EC point is not on P-384".to_string())?;
            Ok(Jwk {
                kid,
                key: PublicKey::P384(key),
            })
        }
        other => Err(format!("unsupported JWK kty `{other}`")),
    }
}

/// Parse a JWKS document (`{"keys": [...]}`); at least one key, kids unique.
pub(crate) fn parse_jwks(v: &Value) -> Result<Vec<Jwk>, String> {
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("jwks must be an object with a `keys` array")?;
    if keys.is_empty() {
        return Err("jwks has no keys".into());
    }
    let mut out: Vec<Jwk> = Vec::with_capacity(keys.len());
    for k in keys {
        let jwk = parse_jwk(k)?;
        if out.iter().any(|o| o.kid == jwk.kid) {
            return Err(format!("duplicate kid `{}`", jwk.kid));
        }
        out.push(jwk);
    }
    Ok(out)
}

/// Public JWK for an ES384 verifying key.
pub(crate) fn p384_public_jwk(key: &p384::ecdsa::VerifyingKey, kid: &str) -> Value {
    let point = key.to_sec1_point(false);
    let x = point.x().map(|x| b64url(x)).unwrap_or_default();
    let y = point.y().map(|y| b64url(y)).unwrap_or_default();
    serde_json::json!({"kty": "EC", "crv": "P-384", "x": x, "y": y, "kid": kid, "alg": "ES384", "use": "sig"})
}

/// Public JWK for an RS384 key.
pub(crate) fn rsa_public_jwk(key: &RsaPublicKey, kid: &str) -> Value {
    serde_json::json!({
        "kty": "RSA",
        "n": b64url(&key.n_bytes()),
        "e": b64url(&key.e_bytes()),
        "kid": kid, "alg": "RS384", "use": "sig"
    })
}

/// A compact JWS split and decoded, signature not yet verified.
pub(crate) struct UnverifiedJws {
    pub(crate) alg: String,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
    pub(crate) claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

pub(crate) fn decode_jws(token: &str) -> Result<UnverifiedJws, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("client_assertion is not a compact JWS (three parts)".into());
    };
    let header: Value = serde_json::from_slice(&b64url_decode(h)?)
        .map_err(|_| "JWS header is not JSON".to_string())?;
    let header = header.as_object().ok_or("JWS header is not an object")?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or("JWS header lacks `alg`")?
        .to_string();
    if header.contains_key("crit") {
        return Err("JWS `crit` header is not supported".into());
    }
    for embedded in ["jwk", "jku", "x5u", "x5c"] {
        if header.contains_key(embedded) {
            return Err(format!("JWS header `{embedded}` is not accepted"));
        }
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let typ = header
        .get("typ")
        .and_then(Value::as_str)
        .map(str::to_string);
    let claims: Value = serde_json::from_slice(&b64url_decode(p)?)
        .map_err(|_| "JWS payload is not JSON".to_string())?;
    let Value::Object(claims) = claims else {
        return Err("JWS payload is not a JSON object".into());
    };
    let signature = b64url_decode(s)?;
    Ok(UnverifiedJws {
        alg,
        kid,
        typ,
        claims,
        signing_input: format!("{h}.{p}"),
        signature,
    })
}

impl UnverifiedJws {
    /// Verify against a client's registered keys: alg must be RS384 or ES384
    /// and match the key type selected by `kid`.
    pub(crate) fn verify(&self, keys: &[Jwk]) -> Result<(), String> {
        if self.alg != "RS384" && self.alg != "ES384" {
            return Err(format!(
                "JWS alg `{}` not accepted (RS384 or ES384 only)",
                self.alg
            ));
        }
        let kid = self.kid.as_deref().ok_or("JWS header lacks `kid`")?;
        let jwk = keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| format!("no registered key with kid `{kid}`"))?;
        let msg = self.signing_input.as_bytes();
        match (&jwk.key, self.alg.as_str()) {
            (PublicKey::Rsa(key), "RS384") => {
                let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(key.clone());
                let sig = rsa::pkcs1v15::Signature::try_from(self.signature.as_slice())
                    .map_err(|_| "malformed RS384 signature".to_string())?;
                vk.verify(msg, &sig)
                    .map_err(|_| "RS384 signature does not verify".to_string())
            }
            (PublicKey::P384(vk), "ES384") => {
                // JOSE ES384 signatures are the raw 96-byte r||s, never DER.
                if self.signature.len() != 96 {
                    return Err("ES384 signature must be 96 bytes (r||s)".into());
                }
                let sig = p384::ecdsa::Signature::from_slice(&self.signature)
                    .map_err(|_| "malformed ES384 signature".to_string())?;
                vk.verify(msg, &sig)
                    .map_err(|_| "ES384 signature does not verify".to_string())
            }
            _ => Err(format!(
                "JWS alg `{}` does not match the type of key `{kid}`",
                self.alg
            )),
        }
    }
}
