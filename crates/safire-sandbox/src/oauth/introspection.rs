//! RFC 7662 token introspection.

use super::*;

impl Shared {
    pub(crate) fn introspect(&self, req: &Req) -> Result<Resp, OAuthError> {
        if !req.has_content_type("application/x-www-form-urlencoded") {
            return Err(err(
                "invalid_request",
                "introspection requests must be application/x-www-form-urlencoded",
            ));
        }
        let params = Params::parse(&req.body);
        params.reject_duplicates()?;
        let client = self.authenticate(req, &params)?;
        if matches!(client.auth, StoredAuth::None) {
            return Err(err(
                "invalid_client",
                "introspection requires a confidential client",
            ));
        }
        let token = params.require("token")?;
        let now = self.now();
        let st = self.state();
        let inactive = Resp::json(200, &json!({"active": false}));
        if let Some(a) = st.access.get(token) {
            let Some(g) = st.grants.get(&a.grant_id) else {
                return Ok(inactive);
            };
            if g.revoked || a.expires_at <= now {
                return Ok(inactive);
            }
            let mut out = self.active_members(g, &a.scope, a.expires_at);
            out.insert("iat".into(), a.issued_at.into());
            out.insert("token_type".into(), "Bearer".into());
            return Ok(Resp::json(200, &Value::Object(out)));
        }
        if let Some(r) = st.refresh.get(token) {
            let Some(g) = st.grants.get(&r.grant_id) else {
                return Ok(inactive);
            };
            if g.revoked || r.expires_at <= now {
                return Ok(inactive);
            }
            let mut out = self.active_members(g, &g.scope, r.expires_at);
            out.insert("token_type".into(), "refresh_token".into());
            return Ok(Resp::json(200, &Value::Object(out)));
        }
        Ok(inactive)
    }

    /// RFC 7662 + SMART 2.2 introspection members of an active token.
    fn active_members(&self, g: &GrantRecord, scope: &[String], exp: u64) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("active".into(), true.into());
        out.insert("scope".into(), scope.join(" ").into());
        out.insert("client_id".into(), g.client_id.clone().into());
        out.insert("exp".into(), exp.into());
        out.insert("sub".into(), subject(g).into());
        out.insert("aud".into(), self.cfg.base.clone().into());
        out.insert("iss".into(), self.cfg.base.clone().into());
        let ctx = &g.bound.ctx;
        if let Some(p) = &ctx.patient {
            out.insert("patient".into(), p.clone().into());
        }
        if let Some(e) = &ctx.encounter {
            out.insert("encounter".into(), e.clone().into());
        }
        if !ctx.fhir_context.is_empty() {
            out.insert("fhirContext".into(), ctx.fhir_context.clone().into());
        }
        // SMART 2.2: fhirUser only for tokens granted the `fhirUser` scope.
        if g.scope.iter().any(|s| s == "fhirUser")
            && let Some(u) = &ctx.fhir_user
        {
            out.insert("fhirUser".into(), self.fhir_user_url(u).into());
        }
        out
    }

    /// `fhirUser` as an absolute URL (relative references resolve against
    /// the FHIR base).
    pub(crate) fn fhir_user_url(&self, u: &str) -> String {
        if u.starts_with("http://") || u.starts_with("https://") {
            u.to_string()
        } else {
            format!("{}/{}", self.cfg.base, u.trim_start_matches('/'))
        }
    }
}

/// The `sub` of a grant: the user for app launches (from `fhirUser`), the
/// client itself for backend services.
pub(crate) fn subject(g: &GrantRecord) -> String {
    match &g.bound.ctx.fhir_user {
        Some(u) => u
            .rsplit('/')
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("-"),
        None => g.client_id.clone(),
    }
}
