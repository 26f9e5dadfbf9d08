//! RFC 7662 token introspection.

use super::*;

impl Shared {
    pub(crate) fn introspect(&self, req: &Req) -> Result<Resp, OAuthError> {
        let params = req.form_params("introspection", false)?;
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
        // The grant of a token that is still good.
        let live = |grant_id: u64, expires_at: u64| {
            st.grants
                .get(&grant_id)
                .filter(|g| !g.revoked && expires_at > now)
        };
        if let Some(a) = st.access.get(token) {
            let Some(g) = live(a.grant_id, a.expires_at) else {
                return Ok(inactive);
            };
            let mut out = self.active_members(g, &a.scope, a.expires_at);
            out.insert("iat".into(), a.issued_at.into());
            out.insert("token_type".into(), "Bearer".into());
            return Ok(Resp::json(200, &Value::Object(out)));
        }
        if let Some(r) = st.refresh.get(token) {
            let Some(g) = live(r.grant_id, r.expires_at) else {
                return Ok(inactive);
            };
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
        insert_launch_context(&mut out, ctx);
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
