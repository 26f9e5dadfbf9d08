//! Client authentication at the token and introspection endpoints.

use super::*;

impl Shared {
    /// Authenticate the client of a token/introspection request. Returns the client.
    pub(crate) fn authenticate(
        &self,
        req: &Req,
        params: &Params,
    ) -> Result<ClientRecord, OAuthError> {
        let basic = req.header("authorization").and_then(|h| {
            let (scheme, rest) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
        });
        let has_other_auth_header = basic.is_none() && req.header("authorization").is_some();
        let assertion = params.get("client_assertion");
        let assertion_type = params.get("client_assertion_type");
        let methods = usize::from(basic.is_some())
            + usize::from(assertion.is_some() || assertion_type.is_some())
            + usize::from(params.get("client_secret").is_some());
        if methods > 1 {
            return Err(err(
                "invalid_request",
                "more than one client authentication method used",
            ));
        }
        if has_other_auth_header {
            return Err(err(
                "invalid_client",
                "unsupported Authorization scheme for client authentication",
            )
            .with_challenge("Basic realm=\"safire-sandbox\""));
        }
        if let Some(b) = basic {
            return self.authenticate_basic(b, params);
        }
        if assertion.is_some() || assertion_type.is_some() {
            return self.authenticate_jwt(assertion_type, assertion, params);
        }
        let Some(client_id) = params.get("client_id") else {
            return Err(err("invalid_client", "no client authentication")
                .with_challenge("Basic realm=\"safire-sandbox\""));
        };
        let client = self.state().clients.get(client_id).cloned();
        match client {
            Some(c) if matches!(c.auth, StoredAuth::None) => {
                if params.get("client_secret").is_some() {
                    return Err(err(
                        "invalid_client",
                        "public clients must not send a client_secret",
                    ));
                }
                Ok(c)
            }
            Some(_) => Err(err(
                "invalid_client",
                "confidential client did not authenticate (client_secret_post is not supported)",
            )
            .with_challenge("Basic realm=\"safire-sandbox\"")),
            None => Err(err("invalid_client", "unknown client")),
        }
    }

    pub(crate) fn authenticate_basic(
        &self,
        b64: &str,
        params: &Params,
    ) -> Result<ClientRecord, OAuthError> {
        let fail = |d: &str| {
            err("invalid_client", d.to_string()).with_challenge("Basic realm=\"safire-sandbox\"")
        };
        let decoded = Base64::decode_vec(b64).map_err(|_| fail("malformed Basic credentials"))?;
        let decoded =
            String::from_utf8(decoded).map_err(|_| fail("malformed Basic credentials"))?;
        let (raw_id, raw_secret) = decoded
            .split_once(':')
            .ok_or_else(|| fail("malformed Basic credentials"))?;
        // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic.
        // Strict: decode them (a `%` not followed by hex is malformed). The
        // BasicNotUrlDecoded quirk compares the raw text instead.
        let candidates = if self.cfg.quirk(Quirk::BasicNotUrlDecoded) {
            vec![(raw_id.to_string(), raw_secret.to_string())]
        } else {
            match (form_decode(raw_id), form_decode(raw_secret)) {
                (Some(id), Some(secret)) => vec![(id, secret)],
                _ => {
                    return Err(fail(
                        "Basic credentials are not form-urlencoded (RFC 6749 §2.3.1)",
                    ));
                }
            }
        };
        let st = self.state();
        for (id, secret) in candidates {
            if let Some(c) = st.clients.get(&id)
                && let StoredAuth::Secret(s) = &c.auth
                && ct_eq(s.as_bytes(), secret.as_bytes())
            {
                if params.get("client_id").is_some_and(|p| p != id) {
                    return Err(fail("client_id does not match Basic credentials"));
                }
                return Ok(c.clone());
            }
        }
        Err(fail("client authentication failed"))
    }

    pub(crate) fn authenticate_jwt(
        &self,
        assertion_type: Option<&str>,
        assertion: Option<&str>,
        params: &Params,
    ) -> Result<ClientRecord, OAuthError> {
        if assertion_type != Some(JWT_BEARER) {
            return Err(err(
                "invalid_client",
                format!("client_assertion_type must be {JWT_BEARER}"),
            ));
        }
        let assertion =
            assertion.ok_or_else(|| err("invalid_client", "missing client_assertion"))?;
        let fail = |d: String| err("invalid_client", d);
        let jws = jose::decode_jws(assertion).map_err(fail)?;
        // SMART Backend Services: the JWS header `typ` is fixed to `JWT`.
        if jws.typ.as_deref() != Some("JWT") {
            return Err(fail("assertion header `typ` must be `JWT`".into()));
        }
        let claim_str = |name: &str| jws.claims.get(name).and_then(Value::as_str);
        let iss = claim_str("iss").ok_or_else(|| fail("assertion lacks `iss`".into()))?;
        if claim_str("sub") != Some(iss) {
            return Err(fail("assertion `sub` must equal `iss`".into()));
        }
        if params.get("client_id").is_some_and(|c| c != iss) {
            return Err(fail("client_id does not match assertion `iss`".into()));
        }
        let client = self
            .state()
            .clients
            .get(iss)
            .cloned()
            .ok_or_else(|| fail("unknown client".into()))?;
        let StoredAuth::Keys(keys) = &client.auth else {
            return Err(fail("client is not registered for private_key_jwt".into()));
        };
        jws.verify(keys).map_err(fail)?;
        let token_url = self.cfg.url(Endpoint::Token);
        let aud_ok = match jws.claims.get("aud") {
            Some(Value::String(a)) => *a == token_url,
            Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(&token_url)),
            _ => false,
        };
        if !aud_ok {
            return Err(fail(format!("assertion `aud` must be {token_url}")));
        }
        let now = self.now();
        let numeric = |name: &str| jws.claims.get(name).and_then(Value::as_f64);
        let exp = numeric("exp").ok_or_else(|| fail("assertion lacks numeric `exp`".into()))?;
        let exp = if exp.is_finite() && exp >= 0.0 {
            exp as u64
        } else {
            0
        };
        if exp <= now {
            return Err(fail("assertion expired".into()));
        }
        if exp > now + MAX_ASSERTION_LIFETIME {
            return Err(fail(format!(
                "assertion `exp` more than {MAX_ASSERTION_LIFETIME} s in the future"
            )));
        }
        for name in ["iat", "nbf"] {
            if let Some(v) = jws.claims.get(name) {
                let t = v
                    .as_f64()
                    .ok_or_else(|| fail(format!("assertion `{name}` is not numeric")))?;
                if t > (now + CLOCK_SKEW) as f64 {
                    return Err(fail(format!("assertion `{name}` is in the future")));
                }
            }
        }
        let jti = claim_str("jti").ok_or_else(|| fail("assertion lacks `jti`".into()))?;
        if jti.is_empty() {
            return Err(fail("assertion `jti` is empty".into()));
        }
        let key = format!("{iss}\0{jti}");
        let mut st = self.state();
        st.jtis.retain(|_, e| *e + CLOCK_SKEW >= now);
        if st.jtis.contains_key(&key) {
            return Err(fail("assertion `jti` already used (replay)".into()));
        }
        st.jtis.insert(key, exp);
        Ok(client)
    }
}
