//! The authorization endpoint.

use super::*;

/// What the authorization endpoint answers with, short of an error.
pub(crate) enum Outcome {
    /// Auto-approved: redirect with this code.
    Code(String),
    /// Interactive mode: an HTML page (login first).
    Page(Resp),
}

impl Shared {
    pub(crate) fn authorize(&self, req: &Req) -> Resp {
        let params = if req.method == "POST" {
            if !req.has_content_type("application/x-www-form-urlencoded") {
                return err(
                    "invalid_request",
                    "POST authorize requires application/x-www-form-urlencoded",
                )
                .into_resp();
            }
            Params::parse(&req.body)
        } else {
            Params::parse(req.query.as_deref().unwrap_or("").as_bytes())
        };
        // Without a known client and an exactly registered redirect_uri, never redirect.
        if params
            .duplicates
            .iter()
            .any(|d| d == "client_id" || d == "redirect_uri")
        {
            return err("invalid_request", "client_id or redirect_uri repeated").into_resp();
        }
        let Some(client_id) = params.get("client_id") else {
            return err("invalid_request", "missing client_id").into_resp();
        };
        let client = match self.state().clients.get(client_id) {
            Some(c) => c.clone(),
            None => return err("invalid_request", "unknown client_id").into_resp(),
        };
        let Some(redirect_uri) = params.get("redirect_uri") else {
            return err("invalid_request", "missing redirect_uri").into_resp();
        };
        if !client
            .redirect_uris
            .iter()
            .any(|r| redirect_uri_matches(r, redirect_uri))
        {
            return err(
                "invalid_request",
                "redirect_uri does not exactly match a registered redirect URI",
            )
            .into_resp();
        }
        // RFC 6749 Appendix A.5: state is VSCHAR (%x20-7E). Anything else is
        // refused, never echoed altered.
        let state_ok = !params.malformed.iter().any(|m| m == "state")
            && params
                .get("state")
                .is_none_or(|s| s.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        let state = params.get("state").filter(|_| state_ok).map(str::to_string);
        if url::Url::parse(redirect_uri).is_err() {
            return err("invalid_request", "redirect_uri is not a URL").into_resp();
        }
        let checked = if state_ok {
            self.authorize_checked(&client, redirect_uri, &params, state.as_deref())
        } else {
            Err(err(
                "invalid_request",
                "state must be printable ASCII (RFC 6749 Appendix A.5)",
            ))
        };
        match checked {
            Ok(Outcome::Page(page)) => page,
            Ok(Outcome::Code(code)) => {
                self.redirect_result(redirect_uri, Ok(code), state.as_deref())
            }
            Err(e) => self.redirect_result(redirect_uri, Err(e), state.as_deref()),
        }
    }

    /// The redirect back to the client: `code` or `error`, `state`, `iss`.
    pub(crate) fn redirect_result(
        &self,
        redirect_uri: &str,
        result: Result<String, OAuthError>,
        state: Option<&str>,
    ) -> Resp {
        let mut target = match url::Url::parse(redirect_uri) {
            Ok(u) => u,
            Err(_) => return err("invalid_request", "redirect_uri is not a URL").into_resp(),
        };
        match result {
            Ok(code) => {
                target
                    .query_pairs_mut()
                    .append_pair("code", &code)
                    .append_pair("state", state.unwrap_or(""))
                    .append_pair("iss", &self.cfg.base);
                Resp::redirect(target.to_string())
            }
            Err(e) if e.error == "server_error" && e.status == 500 => e.into_resp(),
            Err(e) => {
                {
                    let mut q = target.query_pairs_mut();
                    q.append_pair("error", e.error);
                    q.append_pair("error_description", &e.description);
                    if let Some(s) = state
                        && !self.cfg.quirk(Quirk::ErrorRedirectWithoutState)
                    {
                        q.append_pair("state", s);
                    }
                    q.append_pair("iss", &self.cfg.base);
                }
                Resp::redirect(target.to_string())
            }
        }
    }

    pub(crate) fn authorize_checked(
        &self,
        client: &ClientRecord,
        redirect_uri: &str,
        params: &Params,
        state: Option<&str>,
    ) -> Result<Outcome, OAuthError> {
        params.reject_duplicates()?;
        match params.get("response_type") {
            None => return Err(err("invalid_request", "missing response_type")),
            Some("code") => {}
            Some(_) => {
                return Err(err(
                    "unsupported_response_type",
                    "only response_type=code is supported",
                ));
            }
        }
        client.require_grant("authorization_code")?;
        params.require("state")?;
        let aud = params.require("aud")?;
        if aud != self.cfg.base {
            return Err(err(
                "invalid_request",
                format!("aud must be exactly the FHIR base URL {}", self.cfg.base),
            ));
        }
        let challenge = params.require("code_challenge")?;
        match params.get("code_challenge_method") {
            Some("S256") => {}
            None => {
                return Err(err(
                    "invalid_request",
                    "code_challenge_method=S256 is required",
                ));
            }
            Some(_) => {
                return Err(err(
                    "invalid_request",
                    "only code_challenge_method=S256 is supported",
                ));
            }
        }
        if challenge.len() != 43 || jose::b64url_decode(challenge).is_err() {
            return Err(err(
                "invalid_request",
                "code_challenge must be base64url(SHA-256), 43 characters",
            ));
        }
        let scope = split_scope(params.require("scope")?);
        if scope.is_empty() {
            return Err(err("invalid_request", "missing parameter `scope`"));
        }
        for s in &scope {
            if NON_RESOURCE_SCOPES.contains(&s.as_str()) {
                continue;
            }
            match parse_resource_scope(s) {
                Some(r) if r.ctx != "system" => {}
                Some(_) => {
                    return Err(err(
                        "invalid_scope",
                        format!("`{s}`: system scopes are only for client_credentials"),
                    ));
                }
                None => {
                    return Err(err("invalid_scope", format!("unknown scope `{s}`")));
                }
            }
        }
        let has = |s: &str| scope.iter().any(|x| x == s);
        let bound = match params.get("launch") {
            Some(launch) => {
                if !has("launch") {
                    return Err(err(
                        "invalid_scope",
                        "a `launch` parameter requires the `launch` scope",
                    ));
                }
                self.take_launch(launch, &client.client_id)?
            }
            None => {
                if has("launch") {
                    return Err(err(
                        "invalid_request",
                        "scope `launch` requires a `launch` parameter (EHR launch)",
                    ));
                }
                let mut ctx = self.cfg.launch_context.clone();
                if !has("launch/patient") {
                    ctx.patient = None;
                }
                if !has("launch/encounter") {
                    ctx.encounter = None;
                }
                Bound { ctx, nonce: None }
            }
        };
        let mut bound = bound;
        bound.nonce = params.get("nonce").map(str::to_string);
        if self.deny.load(Ordering::SeqCst) {
            return Err(err("access_denied", "the user denied the request"));
        }
        // Down-scoping (RFC 6749 §3.3): grant only what the client is
        // registered for; nothing left is `invalid_scope`.
        let granted: Vec<String> = scope
            .into_iter()
            .filter(|s| client.scope.iter().any(|h| scope_covers(h, s)))
            .collect();
        if granted.is_empty() {
            return Err(err(
                "invalid_scope",
                "none of the requested scopes is registered for this client",
            ));
        }
        if self.cfg.interactive {
            let ehr = params.get("launch").is_some();
            return self
                .begin_interaction(PendingAuth {
                    client_id: client.client_id.clone(),
                    redirect_uri: redirect_uri.to_string(),
                    challenge: challenge.to_string(),
                    scope: granted,
                    bound,
                    state: state.map(str::to_string),
                    stage: Stage::Login,
                    ehr,
                    expires_at: self.now() + PENDING_LIFETIME,
                })
                .map(Outcome::Page);
        }
        self.mint_code(&client.client_id, redirect_uri, challenge, granted, bound)
            .map(Outcome::Code)
    }

    /// Store an authorization code for an approved request.
    pub(crate) fn mint_code(
        &self,
        client_id: &str,
        redirect_uri: &str,
        challenge: &str,
        granted: Vec<String>,
        bound: Bound,
    ) -> Result<String, OAuthError> {
        let code = random_token(32)?;
        let now = self.now();
        let mut st = self.state();
        // Forget long-expired codes (a replay of one is then just unknown).
        st.codes.retain(|_, c| c.expires_at + 600 > now);
        let grant_id = st.new_grant(client_id, granted.clone(), bound.clone());
        st.codes.insert(
            code.clone(),
            CodeRecord {
                client_id: client_id.to_string(),
                redirect_uri: redirect_uri.to_string(),
                challenge: challenge.to_string(),
                scope: granted,
                bound,
                expires_at: now + CODE_LIFETIME,
                used: false,
                grant_id,
            },
        );
        Ok(code)
    }

    /// Consume an EHR `launch` value: single use, short-lived, and bound to
    /// its client when it was created for one.
    fn take_launch(&self, launch: &str, client_id: &str) -> Result<Bound, OAuthError> {
        let now = self.now();
        let mut st = self.state();
        let Some(rec) = st.launches.remove(launch) else {
            return Err(err(
                "invalid_request",
                "unknown or already used launch value",
            ));
        };
        if rec.expires_at <= now {
            return Err(err("invalid_request", "launch value expired"));
        }
        if rec.client_id.as_deref().is_some_and(|c| c != client_id) {
            return Err(err(
                "invalid_request",
                "launch value was issued for another client",
            ));
        }
        Ok(Bound {
            ctx: rec.ctx,
            nonce: None,
        })
    }
}
