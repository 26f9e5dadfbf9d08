//! RFC 7591 dynamic client registration.

use super::*;

impl Shared {
    pub(crate) fn register(&self, req: &Req) -> Result<Resp, OAuthError> {
        if let Some(expected) = &self.cfg.initial_access_token {
            let presented = req.header("authorization").and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            });
            let ok = presented.is_some_and(|p| ct_eq(p.as_bytes(), expected.as_bytes()));
            if !ok {
                let challenge = if presented.is_some() {
                    "Bearer error=\"invalid_token\""
                } else {
                    "Bearer"
                };
                return Err(
                    err("invalid_token", "a valid initial access token is required")
                        .with_challenge(challenge),
                );
            }
        }
        if !req.has_content_type("application/json") {
            return Err(err(
                "invalid_client_metadata",
                "registration requests must be application/json",
            ));
        }
        let meta: Value = serde_json::from_slice(&req.body)
            .map_err(|_| err("invalid_client_metadata", "body is not valid JSON"))?;
        let Value::Object(meta) = meta else {
            return Err(err("invalid_client_metadata", "body is not a JSON object"));
        };
        let bad = |d: String| err("invalid_client_metadata", d);
        let string_list = |name: &str| -> Result<Option<Vec<String>>, OAuthError> {
            match meta.get(name) {
                None => Ok(None),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| bad(format!("`{name}` must be an array of strings")))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(bad(format!("`{name}` must be an array of strings"))),
            }
        };
        let grant_types =
            string_list("grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
        validate_grant_types(&grant_types).map_err(bad)?;
        let needs_redirect = grant_types.iter().any(|g| g == "authorization_code");
        if let Some(rt) = string_list("response_types")? {
            let ok = if needs_redirect {
                rt == ["code"]
            } else {
                rt.is_empty()
            };
            if !ok {
                return Err(bad("response_types must be [\"code\"]".into()));
            }
        }
        let redirect_uris = string_list("redirect_uris")?.unwrap_or_default();
        if needs_redirect && redirect_uris.is_empty() {
            return Err(err(
                "invalid_redirect_uri",
                "redirect_uris is required for authorization_code",
            ));
        }
        for uri in &redirect_uris {
            validate_redirect_uri(uri).map_err(|d| err("invalid_redirect_uri", d))?;
        }
        let method = match meta.get("token_endpoint_auth_method") {
            None => "client_secret_basic",
            Some(Value::String(m)) => m.as_str(),
            Some(_) => {
                return Err(bad("token_endpoint_auth_method must be a string".into()));
            }
        };
        if meta.contains_key("jwks_uri") {
            return Err(bad(
                "jwks_uri is not supported by the sandbox; register `jwks` inline".into(),
            ));
        }
        let auth = match method {
            "none" => StoredAuth::None,
            "client_secret_basic" => StoredAuth::Secret(
                crate::keys::random_secret()
                    .map_err(|e| err("server_error", format!("OS RNG failed: {e}")))?,
            ),
            "private_key_jwt" => {
                let jwks = meta
                    .get("jwks")
                    .ok_or_else(|| bad("private_key_jwt requires `jwks`".into()))?;
                StoredAuth::Keys(jose::parse_jwks(jwks).map_err(bad)?)
            }
            other => {
                return Err(bad(format!(
                    "token_endpoint_auth_method `{other}` is not supported"
                )));
            }
        };
        if method != "private_key_jwt" && meta.contains_key("jwks") {
            return Err(bad("`jwks` is only used with private_key_jwt".into()));
        }
        if grant_types.iter().any(|g| g == "client_credentials")
            && !matches!(auth, StoredAuth::Keys(_))
        {
            return Err(bad("client_credentials requires private_key_jwt".into()));
        }
        let scope = match meta.get("scope") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(bad("`scope` must be a string".into())),
        };
        let scope = registered_scope(&scope, &grant_types);
        validate_registered_scope(&scope, &grant_types).map_err(bad)?;
        let client_id = random_token(16)?;
        let record = ClientRecord {
            client_id: client_id.clone(),
            auth: auth.clone(),
            redirect_uris,
            grant_types: grant_types.clone(),
            scope: scope.clone(),
        };
        let now = self.now();
        let mut out = meta.clone();
        // Server-assigned members are never taken from the request (a client
        // cannot choose its own secret, id or expiry).
        for member in [
            "client_secret",
            "client_secret_expires_at",
            "client_id_issued_at",
            "registration_access_token",
            "registration_client_uri",
        ] {
            out.remove(member);
        }
        out.insert("scope".into(), scope.join(" ").into());
        out.insert("client_id".into(), client_id.clone().into());
        out.insert("client_id_issued_at".into(), now.into());
        out.insert("token_endpoint_auth_method".into(), method.into());
        out.insert("grant_types".into(), json!(grant_types));
        if let StoredAuth::Secret(s) = &auth {
            out.insert("client_secret".into(), s.clone().into());
            out.insert("client_secret_expires_at".into(), 0.into());
        }
        self.state().clients.insert(client_id, record);
        Ok(Resp::json(201, &Value::Object(out)))
    }
}
