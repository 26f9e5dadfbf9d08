//! `GET {base}/.well-known/smart-configuration` and the SMART style document.

use super::*;

impl Shared {
    /// The base URL the discovery document is built from: the configured
    /// one, or with [`Quirk::DiscoveryFromHostHeader`] whatever the request's
    /// `Host` header says.
    fn discovery_base(&self, req: &Req) -> String {
        if self.cfg.quirk(Quirk::DiscoveryFromHostHeader)
            && let Some(host) = req.header("host")
            && !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
        {
            return format!("http://{host}{}", self.cfg.base_path);
        }
        self.cfg.base.clone()
    }

    pub(crate) fn smart_configuration(&self, req: &Req) -> Value {
        let base = self.discovery_base(req);
        let url = |e: Endpoint| format!("{base}{}", e.path());
        json!({
            "issuer": base,
            "jwks_uri": url(Endpoint::Jwks),
            "authorization_endpoint": url(Endpoint::Authorize),
            "token_endpoint": url(Endpoint::Token),
            "registration_endpoint": url(Endpoint::Register),
            "introspection_endpoint": url(Endpoint::Introspect),
            "revocation_endpoint": url(Endpoint::Revoke),
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt", "none"],
            "authorization_response_iss_parameter_supported": true,
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt", "none"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "scopes_supported": [
                "openid", "fhirUser", "profile",
                "launch", "launch/patient", "launch/encounter", "offline_access", "online_access",
                "patient/*.cruds", "patient/*.rs", "patient/*.read", "patient/*.write", "patient/*.*",
                "user/*.cruds", "user/*.rs", "user/*.read", "user/*.write", "user/*.*",
                "system/*.cruds", "system/*.rs", "system/*.read", "system/*.write", "system/*.*"
            ],
            "capabilities": [
                "sso-openid-connect",
                "launch-ehr", "launch-standalone", "authorize-post",
                "client-public", "client-confidential-symmetric", "client-confidential-asymmetric",
                "context-ehr-patient", "context-ehr-encounter",
                "context-standalone-patient", "context-standalone-encounter",
                "context-banner", "context-style",
                "permission-v1", "permission-v2", "permission-patient", "permission-user",
                "permission-offline", "permission-online"
            ]
        })
    }

    /// `GET {base}/smart-style.json`: the default `smart_style_url` target
    /// (SMART App Launch 2.2 §Styling).
    pub(crate) fn smart_style(&self) -> Value {
        json!({
            "color_background": "#edeae3",
            "color_error": "#9e2d2d",
            "color_highlight": "#69b5ce",
            "color_modal_backdrop": "",
            "color_success": "#498e49",
            "color_text": "#303030",
            "dim_border_radius": "6px",
            "dim_font_size": "13px",
            "dim_spacing_size": "20px",
            "font_family_body": "Georgia, Times, 'Times New Roman', serif",
            "font_family_heading": "'HelveticaNeue-Light', Helvetica, Arial, 'Lucida Grande', sans-serif"
        })
    }
}
