//! OpenID Connect: RS256 id_tokens signed with the sandbox's own RSA key,
//! the JWKS that publishes it, and `openid-configuration`.

use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};

use super::*;

/// One signing key: the private key and its `kid`.
pub(crate) struct SigningKey {
    pub(crate) kid: String,
    pub(crate) key: rsa::RsaPrivateKey,
}

/// The current signing key and the previous one (kept in the JWKS after a
/// rotation so that id_tokens already issued still verify).
#[derive(Default)]
pub(crate) struct SigningKeys {
    pub(crate) current: Option<SigningKey>,
    pub(crate) previous: Option<SigningKey>,
    /// Counter for `kid`s.
    pub(crate) generation: u64,
}

impl SigningKeys {
    /// Make `key` current (the old current one becomes the previous one);
    /// returns the new `kid`.
    pub(crate) fn install(&mut self, key: rsa::RsaPrivateKey) -> String {
        self.generation += 1;
        let kid = format!("sandbox-rs256-{}", self.generation);
        let old = self.current.replace(SigningKey {
            kid: kid.clone(),
            key,
        });
        if old.is_some() {
            self.previous = old;
        }
        kid
    }
}

/// Parse an RSA private key (PKCS#8 PEM), at least 2048 bits.
pub(crate) fn parse_rsa_pem(pem: &str) -> Result<rsa::RsaPrivateKey, String> {
    use rsa::traits::PublicKeyParts;
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
        .map_err(|e| format!("not an RSA PKCS#8 PEM private key: {e}"))?;
    if key.size() < 256 {
        return Err("RSA signing key must be at least 2048 bits".into());
    }
    Ok(key)
}

impl Shared {
    /// The signing keys, generating the first one on first use (RSA-2048
    /// generation takes seconds in debug builds, so it is lazy).
    pub(crate) fn signing_keys(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, SigningKeys>, OAuthError> {
        let mut keys = lock(&self.signing);
        if keys.current.is_none() {
            let key = crate::keys::generate_rsa().map_err(|e| {
                err(
                    "server_error",
                    format!("cannot generate the signing key: {e}"),
                )
            })?;
            keys.install(key);
        }
        Ok(keys)
    }

    /// A signed RS256 id_token for the grant `g`.
    pub(crate) fn id_token(
        &self,
        g: &GrantRecord,
        scope: &[String],
        nonce: Option<&str>,
    ) -> Result<String, OAuthError> {
        let now = self.now();
        let mut claims = Map::new();
        claims.insert("iss".into(), self.cfg.base.clone().into());
        claims.insert("sub".into(), subject(g).into());
        claims.insert("aud".into(), g.client_id.clone().into());
        claims.insert("exp".into(), (now + self.cfg.access_token_lifetime).into());
        claims.insert("iat".into(), now.into());
        claims.insert("auth_time".into(), now.into());
        if let Some(n) = nonce {
            claims.insert("nonce".into(), n.into());
        }
        if scope.iter().any(|s| s == "fhirUser")
            && let Some(u) = &g.bound.ctx.fhir_user
        {
            claims.insert("fhirUser".into(), self.fhir_user_url(u).into());
        }
        if scope.iter().any(|s| s == "profile") {
            claims.insert("name".into(), "Sandbox User".into());
        }
        let keys = self.signing_keys()?;
        let Some(current) = &keys.current else {
            return Err(err("server_error", "no signing key"));
        };
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": current.kid});
        let input = format!(
            "{}.{}",
            jose::b64url(header.to_string().as_bytes()),
            jose::b64url(Value::Object(claims).to_string().as_bytes())
        );
        let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(current.key.clone());
        let sig = signer
            .try_sign(input.as_bytes())
            .map_err(|e| err("server_error", format!("signing failed: {e}")))?;
        Ok(format!("{input}.{}", jose::b64url(&sig.to_vec())))
    }

    /// `GET {base}/.well-known/jwks.json`.
    pub(crate) fn jwks(&self) -> Result<Value, OAuthError> {
        let keys = self.signing_keys()?;
        let jwk = |k: &SigningKey| {
            let mut v = jose::rsa_public_jwk(&k.key.to_public_key(), &k.kid);
            v["alg"] = "RS256".into();
            v
        };
        let list: Vec<Value> = keys
            .current
            .iter()
            .chain(keys.previous.iter())
            .map(jwk)
            .collect();
        Ok(json!({ "keys": list }))
    }

    /// `GET {base}/.well-known/openid-configuration`.
    pub(crate) fn openid_configuration(&self) -> Value {
        let c = &self.cfg;
        json!({
            "issuer": c.base,
            "authorization_endpoint": c.url(Endpoint::Authorize),
            "token_endpoint": c.url(Endpoint::Token),
            "jwks_uri": c.url(Endpoint::Jwks),
            "registration_endpoint": c.url(Endpoint::Register),
            "introspection_endpoint": c.url(Endpoint::Introspect),
            "revocation_endpoint": c.url(Endpoint::Revoke),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "fhirUser", "profile", "launch", "launch/patient",
                "launch/encounter", "offline_access", "online_access"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce",
                "fhirUser", "name"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt", "none"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        })
    }
}
