//! The authorization server's JWK Set, parsed once into ready verifying keys.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64ct::{Base64UrlUnpadded, Encoding};
use rsa::{BoxedUint, RsaPublicKey};
use serde_json::{Map, Value};

use super::jws::VerifyAlgorithm;
use super::strict_json::{self, StrictJsonError};
use crate::finding::{Finding, Findings};
use crate::json::type_name;

/// Largest JWK Set accepted, in bytes (256 KiB: room for sets carrying `x5c` certificates).
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

/// Most entries accepted in a JWK Set's `keys` array.
pub const MAX_JWKS_KEYS: usize = 64;

/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3: "2048 bits or larger MUST be used").
pub const MIN_RSA_BITS: usize = 2048;

/// Largest RSA modulus accepted, in bits (the `rsa` crate's default limit).
const MAX_RSA_BITS: usize = 8192;

/// JWK members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The kind of a verifying key: its JWK `kty` and, for EC keys, `crv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// `kty: "RSA"`: RS256, RS384, RS512 and PS256.
    Rsa,
    /// `kty: "EC"`, `crv: "P-256"`: ES256.
    EcP256,
    /// `kty: "EC"`, `crv: "P-384"`: ES384.
    EcP384,
}

impl KeyType {
    /// The JWK `kty`: `RSA` or `EC`.
    pub fn kty(self) -> &'static str {
        match self {
            KeyType::Rsa => "RSA",
            KeyType::EcP256 | KeyType::EcP384 => "EC",
        }
    }

    /// The JWK `crv` of an EC key; `None` for RSA.
    pub fn crv(self) -> Option<&'static str> {
        match self {
            KeyType::Rsa => None,
            KeyType::EcP256 => Some("P-256"),
            KeyType::EcP384 => Some("P-384"),
        }
    }
}

/// The public key itself, decoded and checked once.
#[derive(Clone)]
pub(crate) enum Material {
    Rsa(Box<RsaPublicKey>),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

/// One usable key of a [`ServerJwks`]: the decoded public key plus the JWK members that decide
/// which tokens it may verify (`kid`, `kty`, `crv`, `use`, `key_ops`, `alg`).
///
/// ```
/// use safire_core::{KeyType, ServerJwks, VerifyAlgorithm};
/// let jwks = ServerJwks::parse(br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","use":"sig",
///   "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
///   "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#).unwrap();
/// let key = &jwks.keys()[0];
/// assert_eq!(key.kid(), Some("k1"));
/// assert_eq!(key.key_type(), KeyType::EcP256);
/// assert!(key.fits(VerifyAlgorithm::ES256));
/// assert!(!key.fits(VerifyAlgorithm::RS256));
/// ```
#[derive(Clone)]
pub struct ServerKey {
    kid: Option<String>,
    key_type: KeyType,
    key_use: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    rsa_bits: Option<usize>,
    pub(crate) material: Material,
}

impl ServerKey {
    /// The JWK `kid`, if the key has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key type (JWK `kty` and `crv`).
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The JWK `use` as published (`sig` for signing keys).
    pub fn key_use(&self) -> Option<&str> {
        self.key_use.as_deref()
    }

    /// The JWK `key_ops` as published.
    pub fn key_ops(&self) -> Option<&[String]> {
        self.key_ops.as_deref()
    }

    /// The JWK `alg` as published.
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    /// The RSA modulus size in bits; `None` for EC keys.
    pub fn rsa_bits(&self) -> Option<usize> {
        self.rsa_bits
    }

    /// True when this key may verify a token signed with `alg`: the key type matches the
    /// algorithm (RSA for RS*/PS256, P-256 for ES256, P-384 for ES384), `use` is absent or
    /// `sig`, `key_ops` is absent or contains `verify`, and `alg` is absent or equal.
    pub fn fits(&self, alg: VerifyAlgorithm) -> bool {
        alg.key_type() == self.key_type
            && self.key_use.as_deref().is_none_or(|u| u == "sig")
            && self
                .key_ops
                .as_ref()
                .is_none_or(|ops| ops.iter().any(|op| op == "verify"))
            && self.alg.as_deref().is_none_or(|a| a == alg.as_str())
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKey")
            .field("kid", &self.kid)
            .field("key_type", &self.key_type)
            .field("use", &self.key_use)
            .field("key_ops", &self.key_ops)
            .field("alg", &self.alg)
            .field("rsa_bits", &self.rsa_bits)
            .finish_non_exhaustive()
    }
}

/// The authorization server's JWK Set (RFC 7517), parsed once into verifying keys.
///
/// Parse the set when it is fetched and keep the value: verification never decodes key
/// material again. Keys Safire cannot use (other key types or curves, RSA under
/// [`MIN_RSA_BITS`] bits, broken or private material, members of the wrong type) are skipped
/// and reported in [`findings`](Self::findings); the set itself is refused only when it is not
/// a JSON object with a `keys` array, is larger than [`MAX_JWKS_BYTES`], has more than
/// [`MAX_JWKS_KEYS`] entries or repeats a JSON member name.
///
/// ```
/// use safire_core::{JwksError, ServerJwks};
/// let jwks = ServerJwks::parse(br#"{"keys":[
///   {"kty":"EC","crv":"P-256","kid":"ec-1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
///    "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
///   {"kty":"oct","kid":"hmac","k":"c2VjcmV0"}
/// ]}"#).unwrap();
/// assert_eq!(jwks.keys().len(), 1);
/// assert_eq!(jwks.findings().len(), 1); // the symmetric key, skipped
/// assert!(jwks.find("ec-1").next().is_some());
/// assert_eq!(
///     ServerJwks::parse(br#"{"keys":[],"keys":[]}"#).unwrap_err(),
///     JwksError::DuplicateMember
/// );
/// ```
#[derive(Debug, Clone)]
pub struct ServerJwks {
    keys: Vec<ServerKey>,
    findings: Vec<Finding>,
}

/// Why a JWK Set was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The body is larger than [`MAX_JWKS_BYTES`].
    #[error("the JWK Set is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// Size of the body.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a JSON object (or invalid UTF-8, or nested too deep).
    #[error("the JWK Set is not a JSON object")]
    Malformed,
    /// An object in the set names the same member twice.
    #[error("the JWK Set repeats a JSON member name")]
    DuplicateMember,
    /// No `keys` array.
    #[error("the JWK Set has no `keys` array")]
    MissingKeys,
    /// More than [`MAX_JWKS_KEYS`] entries.
    #[error("the JWK Set has {count} keys, more than the {max} accepted")]
    TooManyKeys {
        /// Entries in `keys`.
        count: usize,
        /// The limit.
        max: usize,
    },
}

impl ServerJwks {
    /// Parses a JWK Set document (the body of the server's `jwks_uri`). One leading UTF-8 byte
    /// order mark is skipped.
    pub fn parse(bytes: &[u8]) -> Result<Self, JwksError> {
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge {
                len: bytes.len(),
                max: MAX_JWKS_BYTES,
            });
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut doc = strict_json::parse_object(bytes).map_err(|e| match e {
            StrictJsonError::Duplicate => JwksError::DuplicateMember,
            StrictJsonError::Malformed => JwksError::Malformed,
        })?;
        let Some(Value::Array(entries)) = doc.remove("keys") else {
            return Err(JwksError::MissingKeys);
        };
        if entries.len() > MAX_JWKS_KEYS {
            return Err(JwksError::TooManyKeys {
                count: entries.len(),
                max: MAX_JWKS_KEYS,
            });
        }
        let mut findings = Findings::default();
        let mut keys: Vec<ServerKey> = Vec::with_capacity(entries.len());
        for (i, entry) in entries.into_iter().enumerate() {
            let field = format!("keys[{i}]");
            let Value::Object(jwk) = entry else {
                findings.error(
                    &field,
                    format!(
                        "JWK Set entry {i} is a JSON {}, not an object; skipped",
                        type_name(&entry)
                    ),
                );
                continue;
            };
            match parse_key(&jwk) {
                Ok(key) => {
                    if keys
                        .iter()
                        .any(|k| k.key_type == key.key_type && k.kid == key.kid)
                    {
                        findings.warning(
                            &field,
                            format!(
                                "JWK Set entry {i} repeats the `kid` of another {} key: \
                                 tokens naming it are refused as ambiguous",
                                key.key_type.kty()
                            ),
                        );
                    }
                    keys.push(key);
                }
                Err(skip) => findings.push(skip.finding(&field, i)),
            }
        }
        Ok(ServerJwks {
            keys,
            findings: findings.into_vec(),
        })
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> &[ServerKey] {
        &self.keys
    }

    /// The keys whose `kid` is `kid` (of any type: RFC 7517 allows one `kid` for keys of
    /// different types).
    pub fn find<'a>(&'a self, kid: &'a str) -> impl Iterator<Item = &'a ServerKey> + 'a {
        self.keys.iter().filter(move |k| k.kid() == Some(kid))
    }

    /// What was wrong with the set: skipped keys and repeated `kid`s.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }
}

/// Why one JWK was skipped.
enum Skip {
    /// A spec violation (broken material, wrong member types, private material, weak RSA).
    Error(String),
    /// Valid but not something Safire verifies with (other key types or curves).
    Unsupported(String),
}

impl Skip {
    fn finding(self, field: &str, i: usize) -> Finding {
        match self {
            Skip::Error(why) => {
                Finding::error(Some(field), format!("JWK Set entry {i} skipped: {why}"))
            }
            Skip::Unsupported(why) => {
                Finding::warning(Some(field), format!("JWK Set entry {i} skipped: {why}"))
            }
        }
    }
}

fn optional_string(jwk: &Map<String, Value>, name: &str) -> Result<Option<String>, Skip> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Skip::Error(format!(
            "`{name}` is a JSON {}, not a string",
            type_name(other)
        ))),
    }
}

fn bytes_member(jwk: &Map<String, Value>, name: &str) -> Result<Vec<u8>, Skip> {
    match jwk.get(name) {
        Some(Value::String(s)) => Base64UrlUnpadded::decode_vec(s)
            .map_err(|_| Skip::Error(format!("`{name}` is not unpadded base64url"))),
        Some(other) => Err(Skip::Error(format!(
            "`{name}` is a JSON {}, not a string",
            type_name(other)
        ))),
        None => Err(Skip::Error(format!("`{name}` is missing"))),
    }
}

fn parse_key(jwk: &Map<String, Value>) -> Result<ServerKey, Skip> {
    let kty = match jwk.get("kty") {
        Some(Value::String(kty)) => kty.as_str(),
        Some(_) => return Err(Skip::Error("`kty` is not a string".to_owned())),
        None => return Err(Skip::Error("`kty` is missing".to_owned())),
    };
    if kty == "oct" {
        return Err(Skip::Error(
            "a symmetric (`oct`) key has no place in a public JWK Set".to_owned(),
        ));
    }
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(Skip::Error(format!(
            "the key carries the private member `{member}` (the server published a private key)"
        )));
    }
    let kid = optional_string(jwk, "kid")?;
    let key_use = optional_string(jwk, "use")?;
    let alg = optional_string(jwk, "alg")?;
    let key_ops = match jwk.get("key_ops") {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Skip::Error("`key_ops` is not an array of strings".to_owned()))?,
        ),
        Some(_) => {
            return Err(Skip::Error(
                "`key_ops` is not an array of strings".to_owned(),
            ));
        }
    };
    let (key_type, material, rsa_bits) = match kty {
        "RSA" => {
            let (key, bits) = rsa_key(jwk)?;
            (KeyType::Rsa, Material::Rsa(Box::new(key)), Some(bits))
        }
        "EC" => match jwk.get("crv").and_then(Value::as_str) {
            Some("P-256") => {
                let point = ec_point(jwk, 32)?;
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map_err(|_| Skip::Error("the point is not on curve P-256".to_owned()))?;
                (KeyType::EcP256, Material::P256(key), None)
            }
            Some("P-384") => {
                let point = ec_point(jwk, 48)?;
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map_err(|_| Skip::Error("the point is not on curve P-384".to_owned()))?;
                (KeyType::EcP384, Material::P384(key), None)
            }
            Some(crv) => {
                return Err(Skip::Unsupported(format!(
                    "curve `{}` is not supported (P-256 and P-384 are)",
                    super::short_text(crv)
                )));
            }
            None => return Err(Skip::Error("`crv` is missing or not a string".to_owned())),
        },
        other => {
            return Err(Skip::Unsupported(format!(
                "key type `{}` is not supported (RSA and EC are)",
                super::short_text(other)
            )));
        }
    };
    Ok(ServerKey {
        kid,
        key_type,
        key_use,
        key_ops,
        alg,
        rsa_bits,
        material,
    })
}

fn rsa_key(jwk: &Map<String, Value>) -> Result<(RsaPublicKey, usize), Skip> {
    let n = bytes_member(jwk, "n")?;
    let e = bytes_member(jwk, "e")?;
    let n = strip_leading_zeros(&n);
    let e = strip_leading_zeros(&e);
    if n.len() > MAX_RSA_BITS / 8 {
        return Err(Skip::Error(format!(
            "the RSA modulus is larger than {MAX_RSA_BITS} bits"
        )));
    }
    // 2^33 - 1 is the largest exponent the `rsa` crate accepts; more bytes are never valid.
    if e.is_empty() || e.len() > 8 {
        return Err(Skip::Error("the RSA exponent is out of range".to_owned()));
    }
    let bits = n.len().saturating_mul(8);
    let (Ok(n_int), Ok(e_int)) = (
        BoxedUint::from_be_slice(n, u32::try_from(bits).unwrap_or(u32::MAX)),
        BoxedUint::from_be_slice(e, 64),
    ) else {
        return Err(Skip::Error("the RSA numbers do not decode".to_owned()));
    };
    let bits = usize::try_from(n_int.bits_vartime()).unwrap_or(0);
    if bits < MIN_RSA_BITS {
        return Err(Skip::Error(format!(
            "the RSA modulus has {bits} bits; at least {MIN_RSA_BITS} are required"
        )));
    }
    let key = RsaPublicKey::new_with_size_limits(n_int, e_int, MIN_RSA_BITS..=MAX_RSA_BITS)
        .map_err(|_| Skip::Error("not a valid RSA public key".to_owned()))?;
    Ok((key, bits))
}

/// The SEC1 uncompressed point `04 || x || y`; RFC 7518 §6.2.1.2 requires full-length
/// coordinates.
fn ec_point(jwk: &Map<String, Value>, len: usize) -> Result<Vec<u8>, Skip> {
    let x = bytes_member(jwk, "x")?;
    let y = bytes_member(jwk, "y")?;
    if x.len() != len || y.len() != len {
        return Err(Skip::Error(format!(
            "EC coordinates must be {len} bytes each"
        )));
    }
    let mut point = Vec::with_capacity(1 + 2 * len);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    Ok(point)
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

/// When a flow may fetch the JWK Set again because a token named an unknown `kid`
/// ([`VerifyError::UnknownKid`](super::VerifyError::UnknownKid)).
///
/// Without a limit, a stream of tokens with made-up `kid`s would make the client fetch the
/// set once per token (a request amplifier). The rule: re-fetch only when at least
/// `min_interval` separates the last fetch and now, in either direction (a clock that jumped
/// back by more than the interval does not block re-fetching for that long).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use safire_core::JwksRefreshPolicy;
/// let policy = JwksRefreshPolicy { min_interval: Duration::from_secs(30) };
/// let fetched = UNIX_EPOCH + Duration::from_secs(1_000);
/// assert!(!policy.should_refetch(fetched, fetched + Duration::from_secs(29)));
/// assert!(policy.should_refetch(fetched, fetched + Duration::from_secs(30)));
/// assert_eq!(JwksRefreshPolicy::default().min_interval, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksRefreshPolicy {
    /// Shortest time between two fetches of the set (default 30 s).
    pub min_interval: Duration,
}

impl Default for JwksRefreshPolicy {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_secs(30),
        }
    }
}

impl JwksRefreshPolicy {
    /// True when the set, last fetched at `last_fetch`, may be fetched again at `now`.
    pub fn should_refetch(&self, last_fetch: SystemTime, now: SystemTime) -> bool {
        let elapsed = match now.duration_since(last_fetch) {
            Ok(elapsed) => elapsed,
            Err(backwards) => backwards.duration(),
        };
        elapsed >= self.min_interval
    }
}
