//! The `aws-lc` feature: RS384 and ES384 signatures through aws-lc-rs.
//!
//! The key is parsed by the RustCrypto code in [`super::keys`] (which gives the precise error
//! messages and the public JWK), re-encoded once as PKCS#8 DER and handed to AWS-LC, which keeps
//! its own parsed copy. Nothing is parsed per signature.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA384, RsaKeyPair,
};

use crate::error::{ConfigurationError, Error};

/// A private key as AWS-LC holds it, ready to sign.
pub(super) enum AwsLcKey {
    /// RSASSA-PKCS1-v1_5 with SHA-384 (AWS-LC blinds the private-key operation).
    Rsa(RsaKeyPair),
    /// ECDSA P-384 with SHA-384, fixed-width `r || s` as JWS wants.
    Ec(EcdsaKeyPair),
}

impl AwsLcKey {
    /// Loads an RSA key from PKCS#8 DER (as produced by the RustCrypto encoder).
    pub(super) fn rsa(pkcs8: &[u8]) -> Result<Self, ConfigurationError> {
        RsaKeyPair::from_pkcs8(pkcs8)
            .map(Self::Rsa)
            .map_err(|_| rejected("RSA"))
    }

    /// Loads a P-384 key from PKCS#8 DER (as produced by the RustCrypto encoder).
    pub(super) fn ec(pkcs8: &[u8]) -> Result<Self, ConfigurationError> {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8)
            .map(Self::Ec)
            .map_err(|_| rejected("P-384"))
    }

    /// The JWS signature over `signing_input`.
    pub(super) fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, Error> {
        // AWS-LC draws its own randomness; ring's API still asks for a source.
        let random = SystemRandom::new();
        match self {
            Self::Rsa(key) => {
                let mut signature = vec![0u8; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA384, &random, signing_input, &mut signature)
                    .map_err(|_| Error::Signing("RS384 signing (aws-lc) failed".to_owned()))?;
                Ok(signature)
            }
            Self::Ec(key) => key
                .sign(&random, signing_input)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| Error::Signing("ES384 signing (aws-lc) failed".to_owned())),
        }
    }

    /// The uncompressed SEC1 public point (EC) or the DER `RSAPublicKey` (RSA), to check that
    /// AWS-LC holds the same key as the RustCrypto side.
    #[cfg(test)]
    pub(super) fn public_key_bytes(&self) -> Vec<u8> {
        use aws_lc_rs::signature::KeyPair as _;
        match self {
            Self::Rsa(key) => key.public_key().as_ref().to_vec(),
            Self::Ec(key) => key.public_key().as_ref().to_vec(),
        }
    }
}

fn rejected(kind: &str) -> ConfigurationError {
    ConfigurationError::invalid(
        "private_key",
        format!("the {kind} key was decoded but aws-lc refused it (the `aws-lc` feature is on)"),
    )
}
