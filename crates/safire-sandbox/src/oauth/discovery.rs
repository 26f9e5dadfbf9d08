//! `GET {base}/.well-known/smart-configuration`.

use super::*;

impl Shared {
    pub(crate) fn smart_configuration(&self) -> Value {
        let c = &self.cfg;
        json!({
            "issuer": c.base,
            "authorization_endpoint": c.url(Endpoint::Authorize),
            "token_endpoint": c.url(Endpoint::Token),
            "registration_endpoint": c.url(Endpoint::Register),
            "introspection_endpoint": c.url(Endpoint::Introspect),
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt", "none"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "scopes_supported": [
                "launch", "launch/patient", "launch/encounter", "offline_access", "online_access",
                "patient/*.cruds", "patient/*.rs", "patient/*.read", "patient/*.write", "patient/*.*",
                "user/*.cruds", "user/*.rs", "user/*.read", "user/*.write", "user/*.*",
                "system/*.cruds", "system/*.rs", "system/*.read", "system/*.write", "system/*.*"
            ],
            "capabilities": [
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
}
