//! `GET {base}/launch`: the EHR launcher, so that the binary (or any HTTP
//! client) can start an EHR launch for a registered app.

use super::*;

impl Shared {
    /// `client_id` (required, an app client), `launch_uri` (optional: answer
    /// with a redirect to it carrying `iss` and `launch`; else JSON),
    /// `patient` / `encounter` (optional, override the configured context).
    pub(crate) fn launch(&self, req: &Req) -> Result<Resp, OAuthError> {
        let params = Params::parse(req.query.as_deref().unwrap_or("").as_bytes());
        params.reject_duplicates()?;
        let client_id = params.require("client_id")?;
        let known = self
            .state()
            .clients
            .get(client_id)
            .is_some_and(|c| c.allows("authorization_code"));
        if !known {
            return Err(err(
                "invalid_request",
                "client_id is not a registered app client",
            ));
        }
        let mut ctx = self.cfg.launch_context.clone();
        if let Some(p) = params.get("patient") {
            ctx.patient = Some(p.to_string());
        }
        if let Some(e) = params.get("encounter") {
            ctx.encounter = Some(e.to_string());
        }
        let launch = new_launch(self, ctx, Some(client_id));
        match params.get("launch_uri") {
            Some(uri) => {
                let u = url::Url::parse(uri)
                    .map_err(|_| err("invalid_request", "launch_uri is not an absolute URL"))?;
                if !matches!(u.scheme(), "http" | "https") {
                    return Err(err("invalid_request", "launch_uri must be http(s)"));
                }
                Ok(Resp::redirect(crate::launch_url(
                    uri,
                    &self.cfg.base,
                    &launch,
                )))
            }
            None => Ok(Resp::json(
                200,
                &json!({
                    "iss": self.cfg.base,
                    "launch": launch,
                    "expires_in": LAUNCH_LIFETIME,
                }),
            )),
        }
    }
}
