//! RFC 7591 dynamic client registration.

use super::*;

/// Validated client metadata: what a registration (or an RFC 7592 update)
/// turns into.
pub(crate) struct ValidMetadata {
    pub(crate) record: ClientRecord,
    /// The response body (without the RFC 7592 members).
    pub(crate) out: Map<String, Value>,
}

fn bearer(req: &Req) -> Option<&str> {
    req.header("authorization").and_then(|h| {
        let (scheme, rest) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    })
}

fn json_body(req: &Req) -> Result<Map<String, Value>, OAuthError> {
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
    Ok(meta)
}

impl Shared {
    pub(crate) fn register(&self, req: &Req) -> Result<Resp, OAuthError> {
        self.check_initial_access_token(req)?;
        let meta = json_body(req)?;
        let client_id = random_token(16)?;
        let mut valid = self.validate_metadata(&meta, &client_id, None)?;
        let token = random_token(32)?;
        valid
            .out
            .insert("client_id_issued_at".into(), self.now().into());
        valid.record.registration = Some(RegistrationRecord {
            access_token: token,
            metadata: valid.out.clone(),
        });
        let body = self.with_management_members(&valid.record, valid.out);
        self.state().clients.insert(client_id, valid.record);
        Ok(Resp::json(201, &Value::Object(body)))
    }

    fn check_initial_access_token(&self, req: &Req) -> Result<(), OAuthError> {
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
        Ok(())
    }

    /// Validate metadata for `client_id`; `existing_secret` is kept for a
    /// `client_secret_basic` client being updated (RFC 7592).
    pub(crate) fn validate_metadata(
        &self,
        meta: &Map<String, Value>,
        client_id: &str,
        existing_secret: Option<&str>,
    ) -> Result<ValidMetadata, OAuthError> {
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
            "client_secret_basic" => StoredAuth::Secret(match existing_secret {
                Some(s) => s.to_string(),
                None => crate::keys::random_secret()
                    .map_err(|e| err("server_error", format!("OS RNG failed: {e}")))?,
            }),
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
        let record = ClientRecord {
            client_id: client_id.to_string(),
            auth: auth.clone(),
            redirect_uris,
            grant_types: grant_types.clone(),
            scope: scope.clone(),
            registration: None,
        };
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
        out.insert("client_id".into(), client_id.into());
        out.insert("token_endpoint_auth_method".into(), method.into());
        out.insert("grant_types".into(), json!(grant_types));
        if let StoredAuth::Secret(s) = &auth {
            out.insert("client_secret".into(), s.clone().into());
            out.insert("client_secret_expires_at".into(), 0.into());
        }
        Ok(ValidMetadata { record, out })
    }

    /// Add `registration_client_uri` and `registration_access_token`.
    fn with_management_members(
        &self,
        record: &ClientRecord,
        mut out: Map<String, Value>,
    ) -> Map<String, Value> {
        if let Some(reg) = &record.registration {
            out.insert(
                "registration_client_uri".into(),
                format!("{}/{}", self.cfg.url(Endpoint::Register), record.client_id).into(),
            );
            out.insert(
                "registration_access_token".into(),
                reg.access_token.clone().into(),
            );
        }
        out
    }

    /// RFC 7592: `GET|PUT|DELETE {base}/register/<client_id>` with the
    /// registration access token.
    pub(crate) fn client_configuration(&self, req: &Req) -> Result<Resp, OAuthError> {
        let client_id = req.path.strip_prefix("/register/").unwrap_or_default();
        let denied = |d: &str| {
            err("invalid_token", d.to_string())
                .with_challenge("Bearer realm=\"safire-sandbox\", error=\"invalid_token\"")
        };
        let Some(token) = bearer(req) else {
            return Err(
                err("invalid_token", "the registration access token is required")
                    .with_challenge("Bearer realm=\"safire-sandbox\""),
            );
        };
        let record = self.state().clients.get(client_id).cloned();
        // RFC 7592 §2.1: an unknown client is a 401 as well.
        let Some(record) = record else {
            return Err(denied("unknown client or wrong registration access token"));
        };
        let Some(reg) = record.registration.clone() else {
            return Err(denied("unknown client or wrong registration access token"));
        };
        if !ct_eq(token.as_bytes(), reg.access_token.as_bytes()) {
            return Err(denied("unknown client or wrong registration access token"));
        }
        match req.method.as_str() {
            "GET" => Ok(Resp::json(
                200,
                &Value::Object(self.with_management_members(&record, reg.metadata)),
            )),
            "DELETE" => {
                let mut st = self.state();
                st.clients.remove(client_id);
                let grants: Vec<u64> = st
                    .grants
                    .iter()
                    .filter(|(_, g)| g.client_id == client_id)
                    .map(|(id, _)| *id)
                    .collect();
                for g in grants {
                    st.revoke_grant(g);
                }
                Ok(Resp {
                    status: 204,
                    headers: vec![("cache-control", "no-store".into())],
                    body: Vec::new(),
                })
            }
            _ => {
                let meta = json_body(req)?;
                // RFC 7592 §2.2: the body carries the client_id (and the
                // secret, when present, must be the current one).
                if meta.get("client_id").and_then(Value::as_str) != Some(client_id) {
                    return Err(err(
                        "invalid_request",
                        "client_id in the body must match the client being updated",
                    ));
                }
                let current_secret = match &record.auth {
                    StoredAuth::Secret(s) => Some(s.as_str()),
                    _ => None,
                };
                if let Some(sent) = meta.get("client_secret")
                    && sent.as_str().is_none_or(|s| {
                        current_secret.is_none_or(|c| !ct_eq(s.as_bytes(), c.as_bytes()))
                    })
                {
                    return Err(err(
                        "invalid_request",
                        "client_secret does not match the current secret",
                    ));
                }
                let mut valid = self.validate_metadata(&meta, client_id, current_secret)?;
                if let Some(issued) = reg.metadata.get("client_id_issued_at") {
                    valid
                        .out
                        .insert("client_id_issued_at".into(), issued.clone());
                }
                valid.record.registration = Some(RegistrationRecord {
                    access_token: reg.access_token,
                    metadata: valid.out.clone(),
                });
                let body = self.with_management_members(&valid.record, valid.out);
                self.state()
                    .clients
                    .insert(client_id.to_string(), valid.record);
                Ok(Resp::json(200, &Value::Object(body)))
            }
        }
    }
}
