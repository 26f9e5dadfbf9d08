//! Loading a [`PrivateKey`] from PEM: picking the private key block out of the text, then
//! decoding the DER inside it (PKCS#8, PKCS#1 or SEC1) with a precise message for every key
//! that will not do.
//!
//! The PEM text itself is split by the crate's one PEM reader, [`crate::assertion::pem`].

use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, ObjectIdentifier};
use zeroize::Zeroizing;

use super::{PrivateKey, invalid, wrong_curve};
use crate::assertion::pem::{self, PemError};
use crate::error::{ConfigurationError, server_text};

const OID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const OID_SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const OID_SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");

impl PrivateKey {
    /// Loads a private key from PEM text.
    ///
    /// Accepts PKCS#8 `PRIVATE KEY` (RSA or EC P-384), PKCS#1 `RSA PRIVATE KEY` and SEC1
    /// `EC PRIVATE KEY` (an `EC PARAMETERS` block before it is skipped). Encrypted keys, public
    /// keys, certificates, other curves and RSA keys under 2048 bits are refused with a message
    /// that says what would work; the message never contains key material.
    ///
    /// ```
    /// use safire_core::PrivateKey;
    /// let err = PrivateKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("public key"));
    /// ```
    pub fn from_pem(pem: &str) -> Result<Self, ConfigurationError> {
        let block = find_private_key_block(pem)?;
        match block.label {
            "PRIVATE KEY" => Self::from_pkcs8_der(&block.der),
            "RSA PRIVATE KEY" => {
                let key = RsaPrivateKey::from_pkcs1_der(&block.der).map_err(|_| {
                    invalid(
                        "the RSA PRIVATE KEY (PKCS#1) block could not be decoded; \
                         check that the PEM is complete and unmodified",
                    )
                })?;
                Self::from_rsa(key)
            }
            _ => Self::from_sec1_der(&block.der),
        }
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self, ConfigurationError> {
        let info = rsa::pkcs8::PrivateKeyInfoRef::try_from(der).map_err(|_| {
            invalid(
                "the PRIVATE KEY (PKCS#8) block could not be decoded; \
                 check that the PEM is complete and unmodified",
            )
        })?;
        let oid = info.algorithm.oid;
        if oid == OID_RSA_ENCRYPTION {
            let key = RsaPrivateKey::from_pkcs8_der(der).map_err(|_| {
                invalid("the PKCS#8 RSA key could not be decoded or is not a valid RSA key")
            })?;
            Self::from_rsa(key)
        } else if oid == OID_EC_PUBLIC_KEY {
            check_curve(info.algorithm.parameters_oid().ok())?;
            let key = p384::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|_| {
                invalid("the PKCS#8 P-384 key could not be decoded or is not a valid P-384 key")
            })?;
            Self::from_ec(key)
        } else if oid == OID_RSASSA_PSS {
            Err(invalid(
                "RSASSA-PSS keys are restricted to PS* signatures; RS384 needs a plain RSA key \
                 (rsaEncryption), e.g. `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`",
            ))
        } else if oid == OID_ED25519 || oid == OID_ED448 {
            Err(invalid(
                "EdDSA keys are not allowed for SMART client assertions; \
                 use an RSA key (RS384) or a P-384 EC key (ES384)",
            ))
        } else {
            Err(invalid(format!(
                "unsupported key algorithm (OID {oid}); \
                 use an RSA key (RS384) or a P-384 EC key (ES384)"
            )))
        }
    }

    fn from_sec1_der(der: &[u8]) -> Result<Self, ConfigurationError> {
        let sec1_key = sec1::EcPrivateKey::try_from(der).map_err(|_| {
            invalid(
                "the EC PRIVATE KEY (SEC1) block could not be decoded; \
                 check that the PEM is complete and unmodified",
            )
        })?;
        check_curve(
            sec1_key
                .parameters
                .and_then(sec1::EcParameters::named_curve),
        )?;
        let secret = p384::SecretKey::try_from(sec1_key)
            .map_err(|_| invalid("the EC PRIVATE KEY is not a valid P-384 key"))?;
        Self::from_ec(p384::ecdsa::SigningKey::from(&secret))
    }
}

/// Accepts the P-384 OID; a missing curve is left to the P-384 decoder to judge.
fn check_curve(curve: Option<ObjectIdentifier>) -> Result<(), ConfigurationError> {
    let Some(curve) = curve else {
        return Ok(());
    };
    if curve == OID_SECP384R1 {
        return Ok(());
    }
    let name = if curve == OID_PRIME256V1 {
        "P-256 (prime256v1)".to_owned()
    } else if curve == OID_SECP521R1 {
        "P-521 (secp521r1)".to_owned()
    } else if curve == OID_SECP256K1 {
        "secp256k1".to_owned()
    } else {
        format!("the curve with OID {curve}")
    };
    Err(wrong_curve(&name))
}

/// The private key block of a PEM file, base64 already decoded.
struct KeyBlock<'a> {
    label: &'a str,
    der: Zeroizing<Vec<u8>>,
}

/// Finds the private key in PEM text, tolerating what real key files contain: an
/// `EC PARAMETERS` block first, certificates after, CRLF line ends, indentation, and `\n`
/// escapes from environment variables.
fn find_private_key_block(text: &str) -> Result<KeyBlock<'_>, ConfigurationError> {
    let mut first_label = None;
    let mut saw_parameters = false;
    for block in pem::blocks(text) {
        let block = block.map_err(pem_error)?;
        let label = block.label;
        if matches!(label, "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY") {
            let der = block.decode().map_err(pem_error)?;
            return Ok(KeyBlock { label, der });
        }
        if label == "EC PARAMETERS" {
            saw_parameters = true;
        } else {
            first_label.get_or_insert(label);
        }
    }
    Err(match first_label {
        Some("ENCRYPTED PRIVATE KEY") => invalid(
            "the key is encrypted (ENCRYPTED PRIVATE KEY); decrypt it first, e.g. \
             `openssl pkey -in encrypted.pem -out key.pem`",
        ),
        Some("PUBLIC KEY" | "RSA PUBLIC KEY" | "EC PUBLIC KEY") => invalid(
            "this is a public key; signing client assertions needs the private key \
             (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
        ),
        Some("CERTIFICATE") => invalid(
            "this is a certificate; signing client assertions needs the private key \
             (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)",
        ),
        Some("OPENSSH PRIVATE KEY") => invalid(
            "OpenSSH private keys are not supported; convert to PKCS#8 with \
             `ssh-keygen -p -m PKCS8 -f <keyfile>`",
        ),
        Some(other) => invalid(format!(
            "unsupported PEM block \"{}\"; expected PRIVATE KEY, RSA PRIVATE KEY or \
             EC PRIVATE KEY",
            server_text(other)
        )),
        None if saw_parameters => invalid(
            "the PEM holds only EC PARAMETERS; the EC PRIVATE KEY block that should follow is \
             missing",
        ),
        None if text.trim_start().starts_with('{') => {
            invalid("this looks like a JWK, not PEM; load it with PrivateKey::from_jwk")
        }
        None => invalid(
            "no PEM block found; expected text starting with -----BEGIN PRIVATE KEY----- \
             (or RSA PRIVATE KEY / EC PRIVATE KEY)",
        ),
    })
}

/// The message for a PEM reading error, with the hint a key file needs.
fn pem_error(err: PemError<'_>) -> ConfigurationError {
    match err {
        PemError::MalformedBegin => invalid(
            "a PEM BEGIN line is malformed (expected -----BEGIN PRIVATE KEY----- on a line of its own)",
        ),
        PemError::MissingEnd { label } => invalid(format!(
            "the PEM block \"{}\" has no matching END line; the key looks truncated",
            server_text(label)
        )),
        PemError::Headers { label } => invalid(format!(
            "the {label} block has headers, so it is encrypted; decrypt it first, e.g. \
             `openssl pkey -in encrypted.pem -out key.pem`"
        )),
        PemError::Base64 { label } => invalid(format!(
            "the {label} block is not valid base64; check that the PEM is complete and unmodified"
        )),
    }
}
