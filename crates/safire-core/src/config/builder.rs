//! [`ClientConfigBuilder`]: the one place a [`ClientConfig`] is made and its URIs checked.

use super::{
    ClientAuth, ClientConfig, DEFAULT_MAX_PENDING_AGE, ServerDeclarations, UriClass, classify_uri,
};
use crate::error::ConfigurationError;

impl ClientConfig {
    /// Starts a configuration for the FHIR server at `base_url`.
    pub fn builder(base_url: impl Into<String>) -> ClientConfigBuilder {
        ClientConfigBuilder {
            audience: None,
            config: ClientConfig {
                base_url: base_url.into(),
                audience: String::new(),
                authorization_server_issuer: None,
                client_id: None,
                redirect_uri: None,
                scopes: Vec::new(),
                authorization_endpoint: None,
                token_endpoint: None,
                introspection_endpoint: None,
                revocation_endpoint: None,
                jwks_uri: None,
                auth: ClientAuth::Public,
                allow_insecure_localhost: false,
                server: ServerDeclarations {
                    max_pending_age: DEFAULT_MAX_PENDING_AGE,
                    ..ServerDeclarations::default()
                },
            },
        }
    }
}

/// Builds a [`ClientConfig`]; [`build`](Self::build) validates every URI at once.
#[derive(Debug, Clone)]
pub struct ClientConfigBuilder {
    /// The `aud`, when it is not the base URL.
    audience: Option<String>,
    /// Everything else, as set so far (its `audience` is filled in by `build`).
    config: ClientConfig,
}

/// Builder setters that assign one field: `name(arg: Type) => field.path = value;`.
macro_rules! setters {
    ($(
        $(#[$doc:meta])*
        $name:ident($arg:ident: $ty:ty) => $($field:ident).+ = $value:expr;
    )*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, $arg: $ty) -> Self {
                self.$($field).+ = $value;
                self
            }
        )*
    };
}

impl ClientConfigBuilder {
    setters! {
        /// Declares that the server always sends RFC 9207 `iss` with the authorization
        /// response (RFC 8414's `authorization_response_iss_parameter_supported`), for servers
        /// whose metadata does not say so: a callback without `iss` is then refused.
        server_sends_iss(sends: bool) => config.server.sends_iss = sends;

        /// Refuse a callback `iss` when no authorization server issuer is known (none
        /// configured with [`authorization_server_issuer`](Self::authorization_server_issuer),
        /// none discovered). By default such an `iss` is accepted with a finding.
        strict_issuer_check(strict: bool) => config.server.strict_issuer = strict;

        /// Declares that the server accepts POST authorization requests (`authorize-post`), so
        /// a POST authorization with a configured endpoint needs no discovery.
        authorize_post_supported(supported: bool) => config.server.authorize_post = supported;

        /// How long a pending authorization may wait for its callback (default 10 minutes):
        /// the code exchange refuses older ones.
        max_pending_age(age: std::time::Duration) => config.server.max_pending_age = age;

        /// The client id (leave unset until dynamic registration has issued one).
        client_id(client_id: impl Into<String>) => config.client_id = Some(client_id.into());

        /// The redirect URI registered for the client.
        redirect_uri(uri: impl Into<String>) => config.redirect_uri = Some(uri.into());

        /// The `aud` value for authorization requests, when it differs from the base URL.
        audience(audience: impl Into<String>) => audience = Some(audience.into());

        /// The authorization server's issuer identifier (RFC 9207), when it differs from the
        /// FHIR base URL and discovery is skipped: callbacks whose `iss` names another issuer
        /// are refused. Unlike [`audience`](Self::audience) it does not change the `aud`
        /// parameter.
        authorization_server_issuer(issuer: impl Into<String>) =>
            config.authorization_server_issuer = Some(issuer.into());

        /// Use this authorization endpoint instead of discovering it.
        authorization_endpoint(url: impl Into<String>) =>
            config.authorization_endpoint = Some(url.into());

        /// Use this token endpoint instead of discovering it.
        token_endpoint(url: impl Into<String>) => config.token_endpoint = Some(url.into());

        /// Use this introspection endpoint (RFC 7662) instead of the discovered
        /// `introspection_endpoint`.
        introspection_endpoint(url: impl Into<String>) =>
            config.introspection_endpoint = Some(url.into());

        /// Use this revocation endpoint (RFC 7009) instead of the discovered
        /// `revocation_endpoint`.
        revocation_endpoint(url: impl Into<String>) =>
            config.revocation_endpoint = Some(url.into());

        /// The authorization server's JWK Set URL, to verify id_tokens without discovering its
        /// `jwks_uri` (not the client's own keys: see [`jwks_uri`](Self::jwks_uri)).
        server_jwks_uri(url: impl Into<String>) => config.server.server_jwks_uri = Some(url.into());

        /// Clock tolerance for the id_token's `exp`, `iat` and `nbf` (default 60 s).
        id_token_clock_skew(skew: std::time::Duration) => config.server.id_token_skew = Some(skew);

        /// Whether the code exchange verifies the id_token (default: yes). With `false` the
        /// token response keeps the raw `id_token` only and [`TokenResponse::identity`] stays
        /// `None`; verify it yourself with [`verify_id_token`](crate::verify_id_token).
        ///
        /// [`TokenResponse::identity`]: crate::TokenResponse::identity
        verify_id_tokens(verify: bool) => config.server.skip_id_token_verification = !verify;

        /// The client's JWKS URL, sent as the assertion's `jku` header.
        jwks_uri(url: impl Into<String>) => config.jwks_uri = Some(url.into());

        /// How the client authenticates at the token endpoint (default: public).
        client_auth(auth: ClientAuth) => config.auth = auth;

        /// Allow plain http to loopback hosts (`localhost`, 127.0.0.0/8, `::1`). Development
        /// only.
        allow_insecure_localhost(allow: bool) => config.allow_insecure_localhost = allow;
    }

    /// Accepts EHR launches from this FHIR server too (the base URL is always accepted).
    pub fn launch_issuer(mut self, iss: impl Into<String>) -> Self {
        self.config.server.launch_issuers.push(iss.into());
        self
    }

    /// Default scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Validates every URI at once and returns the immutable configuration.
    pub fn build(self) -> Result<ClientConfig, ConfigurationError> {
        let Self {
            audience,
            mut config,
        } = self;
        if config.base_url.trim().is_empty() {
            return Err(ConfigurationError::missing(["base_url"]));
        }
        config.audience = audience.unwrap_or_else(|| config.base_url.clone());
        let mut invalid = Vec::new();
        let mut non_https = Vec::new();
        let checks = [
            ("base_url", Some(&config.base_url)),
            ("redirect_uri", config.redirect_uri.as_ref()),
            ("audience", Some(&config.audience)),
            (
                "authorization_endpoint",
                config.authorization_endpoint.as_ref(),
            ),
            ("token_endpoint", config.token_endpoint.as_ref()),
            (
                "introspection_endpoint",
                config.introspection_endpoint.as_ref(),
            ),
            ("revocation_endpoint", config.revocation_endpoint.as_ref()),
            ("jwks_uri", config.jwks_uri.as_ref()),
            ("server_jwks_uri", config.server.server_jwks_uri.as_ref()),
            (
                "authorization_server_issuer",
                config.authorization_server_issuer.as_ref(),
            ),
        ];
        for (field, value) in checks {
            let Some(value) = value else { continue };
            match classify_uri(value, config.allow_insecure_localhost) {
                UriClass::Ok => {}
                UriClass::Invalid => invalid.push(field.to_owned()),
                UriClass::NonHttps => non_https.push(field.to_owned()),
            }
        }
        if !invalid.is_empty() || !non_https.is_empty() {
            return Err(ConfigurationError::Uris { invalid, non_https });
        }
        config.client_id = config.client_id.filter(|id| !id.trim().is_empty());
        Ok(config)
    }
}
