//! The token endpoint: code, refresh and client_credentials grants.

use super::*;

impl Shared {
    pub(crate) fn token(&self, req: &Req) -> Result<Resp, OAuthError> {
        let params = req.form_params("token", true)?;
        let grant_type = params.require("grant_type")?;
        if !matches!(
            grant_type,
            "authorization_code" | "refresh_token" | "client_credentials"
        ) {
            return Err(err(
                "unsupported_grant_type",
                format!("grant_type `{grant_type}` is not supported"),
            ));
        }
        let client = self.authenticate(req, &params)?;
        let result = match grant_type {
            "authorization_code" => self.grant_code(&client, &params),
            "refresh_token" => self.grant_refresh(&client, &params),
            _ => self.grant_client_credentials(&client, &params),
        };
        let mut body = match result {
            Ok(b) => b,
            Err(mut e) => {
                // Quirk: 401 for a bad code, 403 for a bad refresh token.
                if self.cfg.quirk(Quirk::NonRfcTokenErrorStatus) && e.error == "invalid_grant" {
                    e.status = if grant_type == "refresh_token" {
                        403
                    } else {
                        401
                    };
                }
                return Err(e);
            }
        };
        if self.cfg.quirk(Quirk::ExpiresInString)
            && let Some(v) = body.get("expires_in").and_then(Value::as_u64)
        {
            body.insert("expires_in".into(), v.to_string().into());
        }
        if self.cfg.quirk(Quirk::ScopeOmitted) {
            body.remove("scope");
        }
        Ok(Resp::json(200, &Value::Object(body)))
    }

    pub(crate) fn grant_code(
        &self,
        client: &ClientRecord,
        params: &Params,
    ) -> Result<Map<String, Value>, OAuthError> {
        client.require_grant("authorization_code")?;
        let code = params.require("code")?;
        let redirect_uri = params.require("redirect_uri")?;
        let verifier = params.require("code_verifier")?;
        let now = self.now();
        let mut st = self.state();
        let Some(rec) = st.codes.get_mut(code) else {
            return Err(err("invalid_grant", "unknown authorization code"));
        };
        if rec.client_id != client.client_id {
            return Err(err(
                "invalid_grant",
                "authorization code was issued to another client",
            ));
        }
        if rec.used && !self.cfg.quirk(Quirk::ReusableCodes) {
            let grant = rec.grant_id;
            st.revoke_grant(grant);
            return Err(err(
                "invalid_grant",
                "authorization code already used; tokens issued from it are revoked",
            ));
        }
        rec.used = true;
        if rec.expires_at <= now {
            return Err(err("invalid_grant", "authorization code expired"));
        }
        if rec.redirect_uri != redirect_uri {
            return Err(err(
                "invalid_grant",
                "redirect_uri differs from the authorization request",
            ));
        }
        let verifier_ok = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !verifier_ok {
            return Err(err(
                "invalid_grant",
                "code_verifier must be 43-128 unreserved characters",
            ));
        }
        let computed = jose::b64url(&Sha256::digest(verifier.as_bytes()));
        if !ct_eq(computed.as_bytes(), rec.challenge.as_bytes()) {
            return Err(err("invalid_grant", "PKCE code_verifier does not match"));
        }
        let (grant_id, scope, bound) = (rec.grant_id, rec.scope.clone(), rec.bound.clone());
        self.issue(&mut st, grant_id, &client.client_id, &scope, &bound, true)
    }

    /// Mint an access token (and a refresh token when the scope asks for one).
    pub(crate) fn issue(
        &self,
        st: &mut State,
        grant_id: u64,
        client_id: &str,
        scope: &[String],
        bound: &Bound,
        new_refresh: bool,
    ) -> Result<Map<String, Value>, OAuthError> {
        let now = self.now();
        let lifetime = self.cfg.access_token_lifetime;
        let mut out = self.mint_access(st, grant_id, client_id, scope, lifetime)?;
        let grant_scope = st
            .grants
            .get(&grant_id)
            .map(|g| g.scope.clone())
            .unwrap_or_default();
        let wants_refresh = grant_scope
            .iter()
            .any(|s| s == "offline_access" || s == "online_access");
        let client_may_refresh = st
            .clients
            .get(client_id)
            .is_some_and(|c| c.allows("refresh_token"));
        if new_refresh && wants_refresh && client_may_refresh {
            let refresh = random_token(32)?;
            st.refresh.insert(
                refresh.clone(),
                RefreshRecord {
                    grant_id,
                    expires_at: now + REFRESH_LIFETIME,
                },
            );
            out.insert("refresh_token".into(), refresh.into());
        }
        if scope.iter().any(|s| s == "openid") {
            let grant = GrantRecord {
                client_id: client_id.to_string(),
                scope: scope.to_vec(),
                bound: bound.clone(),
                revoked: false,
            };
            let id_token = self.id_token(&grant, scope, bound.nonce.as_deref())?;
            out.insert("id_token".into(), id_token.into());
        }
        let ctx = &bound.ctx;
        insert_launch_context(&mut out, ctx);
        if let Some(b) = ctx.need_patient_banner {
            out.insert("need_patient_banner".into(), b.into());
        }
        let style = ctx
            .smart_style_url
            .clone()
            .unwrap_or_else(|| self.cfg.smart_style_url.clone());
        out.insert("smart_style_url".into(), style.into());
        if let Some(i) = &ctx.intent {
            out.insert("intent".into(), i.clone().into());
        }
        Ok(out)
    }

    pub(crate) fn grant_refresh(
        &self,
        client: &ClientRecord,
        params: &Params,
    ) -> Result<Map<String, Value>, OAuthError> {
        client.require_grant("refresh_token")?;
        let token = params.require("refresh_token")?;
        let now = self.now();
        let mut st = self.state();
        if let Some(grant) = st.rotated.get(token).copied() {
            st.revoke_grant(grant);
            return Err(err(
                "invalid_grant",
                "refresh token was already rotated; grant revoked",
            ));
        }
        let Some(rec) = st.refresh.get(token) else {
            return Err(err("invalid_grant", "unknown or revoked refresh token"));
        };
        let (grant_id, expires_at) = (rec.grant_id, rec.expires_at);
        let Some(grant) = st.grants.get(&grant_id) else {
            return Err(err("invalid_grant", "unknown grant"));
        };
        if grant.revoked {
            return Err(err("invalid_grant", "grant revoked"));
        }
        if grant.client_id != client.client_id {
            return Err(err(
                "invalid_grant",
                "refresh token was issued to another client",
            ));
        }
        if expires_at <= now {
            return Err(err("invalid_grant", "refresh token expired"));
        }
        let (grant_scope, bound) = (grant.scope.clone(), grant.bound.clone());
        let scope = match params.get("scope") {
            None => grant_scope,
            Some(s) => {
                let want = split_scope(s);
                if want.is_empty() {
                    return Err(err("invalid_scope", "empty scope"));
                }
                if let Some(bad) = want
                    .iter()
                    .find(|w| !grant_scope.iter().any(|h| scope_covers(h, w)))
                {
                    return Err(err(
                        "invalid_scope",
                        format!("`{bad}` was not granted originally"),
                    ));
                }
                want
            }
        };
        // OIDC Core §12.2: a refreshed id_token carries no nonce.
        let bound = Bound {
            nonce: None,
            ..bound
        };
        let mut out = self.issue(
            &mut st,
            grant_id,
            &client.client_id,
            &scope,
            &bound,
            self.cfg.refresh_rotation,
        )?;
        if self.cfg.refresh_rotation {
            st.refresh.remove(token);
            st.rotated.insert(token.to_string(), grant_id);
        } else {
            out.insert("refresh_token".into(), token.into());
        }
        Ok(out)
    }

    pub(crate) fn grant_client_credentials(
        &self,
        client: &ClientRecord,
        params: &Params,
    ) -> Result<Map<String, Value>, OAuthError> {
        client.require_grant("client_credentials")?;
        let want = split_scope(params.require("scope")?);
        if want.is_empty() {
            return Err(err("invalid_request", "missing parameter `scope`"));
        }
        for w in &want {
            let is_system = parse_resource_scope(w).is_some_and(|r| r.ctx == "system");
            if !is_system {
                return Err(err(
                    "invalid_scope",
                    format!("`{w}` is not a system/ scope"),
                ));
            }
            if !client.scope.iter().any(|h| scope_covers(h, w)) {
                return Err(err(
                    "invalid_scope",
                    format!("`{w}` is not registered for this client"),
                ));
            }
        }
        let mut st = self.state();
        let grant_id = st.new_grant(&client.client_id, want.clone(), Bound::default());
        let lifetime = self.cfg.access_token_lifetime.min(BACKEND_TOKEN_LIFETIME);
        self.mint_access(&mut st, grant_id, &client.client_id, &want, lifetime)
    }

    /// A new access token of `grant_id` for `scope`, valid for `lifetime` seconds: stored,
    /// and returned as the first members of a token response.
    fn mint_access(
        &self,
        st: &mut State,
        grant_id: u64,
        client_id: &str,
        scope: &[String],
        lifetime: u64,
    ) -> Result<Map<String, Value>, OAuthError> {
        let now = self.now();
        let access = random_token(32)?;
        st.access.insert(
            access.clone(),
            AccessRecord {
                grant_id,
                client_id: client_id.to_string(),
                scope: scope.to_vec(),
                issued_at: now,
                expires_at: now + lifetime,
            },
        );
        let mut out = Map::new();
        out.insert("access_token".into(), access.into());
        out.insert("token_type".into(), "Bearer".into());
        out.insert("expires_in".into(), lifetime.into());
        out.insert("scope".into(), scope.join(" ").into());
        Ok(out)
    }
}

/// The launch context members a token response and an introspection response share.
pub(crate) fn insert_launch_context(out: &mut Map<String, Value>, ctx: &LaunchContext) {
    if let Some(p) = &ctx.patient {
        out.insert("patient".into(), p.clone().into());
    }
    if let Some(e) = &ctx.encounter {
        out.insert("encounter".into(), e.clone().into());
    }
    if !ctx.fhir_context.is_empty() {
        out.insert("fhirContext".into(), ctx.fhir_context.clone().into());
    }
}
