//! RFC 7009 token revocation.

use super::*;

impl Shared {
    /// `POST {base}/revoke`: `token` (required), `token_type_hint`
    /// (optional, any value; the sandbox looks the token up everywhere).
    /// The client authenticates as at the token endpoint. Revoking a refresh
    /// token revokes its whole grant; revoking an access token revokes that
    /// token. Unknown tokens are a `200` (RFC 7009 §2.2); a token of another
    /// client is refused (§2.1).
    pub(crate) fn revoke(&self, req: &Req) -> Result<Resp, OAuthError> {
        let params = req.form_params("revocation", false)?;
        let client = self.authenticate(req, &params)?;
        let token = params.require("token")?;
        let mut st = self.state();
        let refresh_grant = st
            .refresh
            .get(token)
            .map(|r| r.grant_id)
            .or_else(|| st.rotated.get(token).copied());
        let owner = |st: &State, grant: u64| st.grants.get(&grant).map(|g| g.client_id.clone());
        let not_yours = || err("invalid_request", "the token was not issued to this client");
        if let Some(grant) = refresh_grant {
            if owner(&st, grant).as_deref() != Some(client.client_id.as_str()) {
                return Err(not_yours());
            }
            st.revoke_grant(grant);
        } else if let Some(a) = st.access.get(token) {
            if a.client_id != client.client_id {
                return Err(not_yours());
            }
            st.access.remove(token);
        }
        Ok(Resp {
            status: 200,
            headers: vec![("cache-control", "no-store".into())],
            body: Vec::new(),
        })
    }
}
