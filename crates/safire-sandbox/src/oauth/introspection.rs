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
            let mut out = json!({
                "active": true,
                "scope": a.scope.join(" "),
                "client_id": a.client_id,
                "token_type": "Bearer",
                "exp": a.expires_at,
                "iat": a.issued_at,
                "iss": self.cfg.base,
            });
            let ctx = &g.bound.ctx;
            if let Some(obj) = out.as_object_mut() {
                if let Some(p) = &ctx.patient {
                    obj.insert("patient".into(), p.clone().into());
                }
                if let Some(e) = &ctx.encounter {
                    obj.insert("encounter".into(), e.clone().into());
                }
                if let Some(u) = &ctx.fhir_user {
                    obj.insert("fhirUser".into(), u.clone().into());
                }
            }
            return Ok(Resp::json(200, &out));
        }
        if let Some(r) = st.refresh.get(token) {
            let Some(g) = st.grants.get(&r.grant_id) else {
                return Ok(inactive);
            };
            if g.revoked || r.expires_at <= now {
                return Ok(inactive);
            }
            return Ok(Resp::json(
                200,
                &json!({
                    "active": true,
                    "scope": g.scope.join(" "),
                    "client_id": g.client_id,
                    "exp": r.expires_at,
                    "iss": self.cfg.base,
                }),
            ));
        }
        Ok(inactive)
    }
}
