//! Public value types: launch context, client registrations, faults.

use std::time::Duration;

use serde_json::Value;

/// Launch context bound to an authorization: returned next to the access token.
///
/// Build it with the chained setters, e.g.
/// `LaunchContext::new().patient("p1").encounter("e1")`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LaunchContext {
    /// `patient` token-response parameter (FHIR Patient id).
    pub patient: Option<String>,
    /// `encounter` token-response parameter (FHIR Encounter id).
    pub encounter: Option<String>,
    /// `fhirContext` array (SMART 2.2: objects with `reference`, `canonical`, `identifier`, `type`, `role`).
    pub fhir_context: Vec<Value>,
    /// The user's FHIR resource (`Practitioner/…`, `Patient/…`, or an
    /// absolute URL): the `fhirUser` claim of id_tokens and introspection
    /// (absolute, resolved against the FHIR base) when scope `fhirUser` is
    /// granted, and the source of `sub`.
    pub fhir_user: Option<String>,
    /// `need_patient_banner` token-response parameter.
    pub need_patient_banner: Option<bool>,
    /// `smart_style_url` token-response parameter.
    pub smart_style_url: Option<String>,
    /// `intent` token-response parameter.
    pub intent: Option<String>,
}

impl LaunchContext {
    /// Empty context.
    pub fn new() -> Self {
        Self::default()
    }
    /// Set the patient id.
    pub fn patient(mut self, id: impl Into<String>) -> Self {
        self.patient = Some(id.into());
        self
    }
    /// Set the encounter id.
    pub fn encounter(mut self, id: impl Into<String>) -> Self {
        self.encounter = Some(id.into());
        self
    }
    /// Append one `fhirContext` item (e.g. `json!({"reference": "Appointment/123"})`).
    pub fn fhir_context(mut self, item: Value) -> Self {
        self.fhir_context.push(item);
        self
    }
    /// Set the user's FHIR resource URL.
    pub fn fhir_user(mut self, url: impl Into<String>) -> Self {
        self.fhir_user = Some(url.into());
        self
    }
    /// Set `need_patient_banner`.
    pub fn need_patient_banner(mut self, v: bool) -> Self {
        self.need_patient_banner = Some(v);
        self
    }
    /// Set `smart_style_url`.
    pub fn smart_style_url(mut self, url: impl Into<String>) -> Self {
        self.smart_style_url = Some(url.into());
        self
    }
    /// Set `intent`.
    pub fn intent(mut self, intent: impl Into<String>) -> Self {
        self.intent = Some(intent.into());
        self
    }
}

/// How a client authenticates at the token endpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientAuth {
    /// Public client: sends `client_id` in the body, no secret.
    None,
    /// Confidential symmetric client: HTTP Basic (`client_secret_basic`).
    ClientSecretBasic {
        /// The shared secret.
        secret: String,
    },
    /// Confidential asymmetric client: `private_key_jwt` with RS384/ES384.
    PrivateKeyJwt {
        /// Public JWKS (`{"keys": [...]}`); every key needs a `kid`.
        jwks: Value,
    },
}

/// A client to register at start with [`crate::SandboxBuilder::register_client`].
#[derive(Clone, Debug, PartialEq)]
pub struct ClientRegistration {
    /// The client id.
    pub client_id: String,
    /// Token endpoint authentication.
    pub auth: ClientAuth,
    /// Exact redirect URIs accepted at the authorize endpoint.
    pub redirect_uris: Vec<String>,
    /// `authorization_code`, `refresh_token` (only with
    /// `authorization_code`) and/or `client_credentials`. Refresh tokens are
    /// issued only to clients registered for `refresh_token` (the app
    /// constructors below register both).
    pub grant_types: Vec<String>,
    /// Space-separated scopes the client may obtain (e.g. `system/*.rs` for
    /// a backend client, `launch/patient patient/Observation.rs` for an app).
    /// Empty for an app client means every non-`system/` scope. Requests
    /// beyond it are down-scoped (app launches) or `invalid_scope`
    /// (`client_credentials`).
    pub scope: String,
}

fn strings<I, S>(it: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    it.into_iter().map(Into::into).collect()
}

fn app_grants() -> Vec<String> {
    vec!["authorization_code".into(), "refresh_token".into()]
}

impl ClientRegistration {
    /// A public app client.
    pub fn public<I, S>(client_id: impl Into<String>, redirect_uris: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            client_id: client_id.into(),
            auth: ClientAuth::None,
            redirect_uris: strings(redirect_uris),
            grant_types: app_grants(),
            scope: String::new(),
        }
    }
    /// A confidential app client using `client_secret_basic`.
    pub fn symmetric<I, S>(
        client_id: impl Into<String>,
        secret: impl Into<String>,
        redirect_uris: I,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            client_id: client_id.into(),
            auth: ClientAuth::ClientSecretBasic {
                secret: secret.into(),
            },
            redirect_uris: strings(redirect_uris),
            grant_types: app_grants(),
            scope: String::new(),
        }
    }
    /// A confidential app client using `private_key_jwt`.
    pub fn asymmetric<I, S>(client_id: impl Into<String>, jwks: Value, redirect_uris: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            client_id: client_id.into(),
            auth: ClientAuth::PrivateKeyJwt { jwks },
            redirect_uris: strings(redirect_uris),
            grant_types: app_grants(),
            scope: String::new(),
        }
    }
    /// A backend-services client (`client_credentials` + `private_key_jwt`)
    /// allowed the given space-separated `system/` scopes.
    pub fn backend(client_id: impl Into<String>, jwks: Value, scope: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            auth: ClientAuth::PrivateKeyJwt { jwks },
            redirect_uris: Vec::new(),
            grant_types: vec!["client_credentials".into()],
            scope: scope.into(),
        }
    }
}

/// Which kind a pre-registered client is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// Public app client.
    Public,
    /// `client_secret_basic` app client.
    ConfidentialSymmetric,
    /// `private_key_jwt` app client.
    ConfidentialAsymmetric,
    /// `client_credentials` backend-services client.
    Backend,
}

/// Credentials of one pre-registered client.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    /// Client kind.
    pub kind: ClientKind,
    /// The client id.
    pub client_id: String,
    /// Secret for [`ClientKind::ConfidentialSymmetric`].
    pub client_secret: Option<String>,
    /// PKCS#8 PEM private key for asymmetric/backend clients.
    pub private_key_pem: Option<String>,
    /// `kid` of the key (put it in the JWS header).
    pub kid: Option<String>,
    /// `RS384` or `ES384` for asymmetric/backend clients.
    pub alg: Option<&'static str>,
    /// Public JWKS registered for asymmetric/backend clients.
    pub jwks: Option<Value>,
    /// Registered redirect URIs (app clients).
    pub redirect_uris: Vec<String>,
    /// Registered `system/` scopes (backend client).
    pub scope: String,
}

/// The clients a sandbox registers by itself at start.
#[derive(Clone, Debug)]
pub struct Clients {
    /// Public app client.
    pub public: ClientInfo,
    /// Confidential symmetric app client (`client_secret_basic`).
    pub symmetric: ClientInfo,
    /// Confidential asymmetric app client, ES384 `private_key_jwt`.
    pub asymmetric: ClientInfo,
    /// Confidential asymmetric app client, RS384 (only with
    /// [`crate::SandboxBuilder::rs384_client`]; RSA key generation is slow in debug builds).
    pub asymmetric_rs384: Option<ClientInfo>,
    /// Backend-services client, ES384, registered for `system/*.rs system/*.read`.
    pub backend: ClientInfo,
}

impl Clients {
    /// All pre-registered clients.
    pub fn all(&self) -> Vec<&ClientInfo> {
        let mut v = vec![&self.public, &self.symmetric, &self.asymmetric];
        if let Some(rs) = &self.asymmetric_rs384 {
            v.push(rs);
        }
        v.push(&self.backend);
        v
    }
}

/// The sandbox's endpoints, for fault injection and request counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET {base}/.well-known/smart-configuration`
    SmartConfiguration,
    /// `GET|POST {base}/authorize`
    Authorize,
    /// `POST {base}/token`
    Token,
    /// `POST {base}/register`
    Register,
    /// `POST {base}/introspect`
    Introspect,
    /// `GET {base}/launch?client_id=…[&launch_uri=…]`: the EHR launcher
    /// (starts an EHR launch for a registered app).
    Launch,
    /// `GET {base}/smart-style.json`: the default `smart_style_url`.
    SmartStyle,
    /// `GET {base}/Patient/<id>`: the minimal FHIR read endpoint (bearer
    /// token and scopes checked).
    FhirPatient,
    /// `POST {base}/revoke`: RFC 7009 token revocation.
    Revoke,
    /// `GET|PUT|DELETE {base}/register/<client_id>`: RFC 7592 client
    /// configuration, with the registration access token.
    ClientConfiguration,
    /// `GET {base}/.well-known/jwks.json`: the id_token signing keys.
    Jwks,
    /// `GET {base}/.well-known/openid-configuration`: OIDC discovery.
    OpenidConfiguration,
    /// `POST {base}/interact`: the steps of interactive authorization
    /// (login, patient picker, consent).
    Interact,
    /// `GET {base}/launcher`: the EHR launcher HTML page.
    Launcher,
}

impl Endpoint {
    /// Every endpoint.
    pub const ALL: [Endpoint; 14] = [
        Endpoint::SmartConfiguration,
        Endpoint::Authorize,
        Endpoint::Token,
        Endpoint::Register,
        Endpoint::Introspect,
        Endpoint::Launch,
        Endpoint::SmartStyle,
        Endpoint::FhirPatient,
        Endpoint::Revoke,
        Endpoint::ClientConfiguration,
        Endpoint::Jwks,
        Endpoint::OpenidConfiguration,
        Endpoint::Interact,
        Endpoint::Launcher,
    ];
    /// Path below the FHIR base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::SmartConfiguration => "/.well-known/smart-configuration",
            Endpoint::Authorize => "/authorize",
            Endpoint::Token => "/token",
            Endpoint::Register => "/register",
            Endpoint::Introspect => "/introspect",
            Endpoint::Launch => "/launch",
            Endpoint::SmartStyle => "/smart-style.json",
            Endpoint::FhirPatient => "/Patient",
            Endpoint::Revoke => "/revoke",
            Endpoint::ClientConfiguration => "/register",
            Endpoint::Jwks => "/.well-known/jwks.json",
            Endpoint::OpenidConfiguration => "/.well-known/openid-configuration",
            Endpoint::Interact => "/interact",
            Endpoint::Launcher => "/launcher",
        }
    }
    /// Whether the endpoint serves paths below [`Endpoint::path`]
    /// (e.g. `/Patient/<id>`) rather than exactly it.
    pub fn is_prefix(self) -> bool {
        matches!(self, Endpoint::FhirPatient | Endpoint::ClientConfiguration)
    }
}

/// An injected misbehaviour (see [`crate::Faults`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Answer with an OAuth error JSON body `{"error": error}` and this status.
    OAuth {
        /// HTTP status.
        status: u16,
        /// OAuth error code.
        error: &'static str,
    },
    /// Answer with this bare HTTP status and an empty body.
    Status(u16),
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Answer 200 `application/json` with a body that is not valid JSON.
    MalformedJson,
    /// Answer with a redirect (`status` should be 3xx) to `location`.
    Redirect {
        /// HTTP status, e.g. 302 or 307.
        status: u16,
        /// `Location` header value.
        location: String,
    },
}

/// A named behaviour of real authorization servers that clients must
/// survive. Off unless switched on with [`crate::SandboxBuilder::quirk`]
/// (several may be combined) or the binary's `--quirk NAME`; the sandbox is
/// strict by default and a quirk never switches on by itself.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quirk {
    /// `basic-not-url-decoded`: the `Authorization: Basic` id and secret are
    /// compared as sent, without the RFC 6749 §2.3.1 form-decoding, so a
    /// client that encodes correctly fails once its secret has `+ / : %` ….
    /// Imitates servers that hand the header to generic HTTP Basic
    /// middleware (the most common RFC 6749 deviation in the wild).
    BasicNotUrlDecoded,
    /// `reusable-codes`: an authorization code can be exchanged again until
    /// it expires, and a replay revokes nothing. Imitates simple or
    /// home-grown OAuth servers and mock EHRs that keep codes in a plain
    /// lookup table.
    ReusableCodes,
    /// `error-redirect-without-state`: error redirects from the
    /// authorization endpoint carry `error`/`error_description` but no
    /// `state`. Imitates servers whose error pages are rendered by a
    /// different component than the one that read the request.
    ErrorRedirectWithoutState,
    /// `non-rfc-token-error-status`: `invalid_grant` at the token endpoint
    /// answers `401` for a bad or expired code and `403` for a bad or
    /// expired refresh token, instead of RFC 6749 §5.2's `400`. Imitates
    /// FHIR API gateways that map OAuth errors onto HTTP auth statuses.
    NonRfcTokenErrorStatus,
    /// `expires-in-string`: `expires_in` is a JSON string (`"3600"`).
    /// Imitates the Azure AD v1.0 token endpoint family, which sends numeric
    /// members as strings.
    ExpiresInString,
    /// `scope-omitted`: the token response never carries `scope`, even when
    /// the grant differs from the request. Imitates servers that read RFC
    /// 6749 §5.1 ("OPTIONAL if identical") as "never"; a client must then
    /// not assume it got what it asked for.
    ScopeOmitted,
    /// `refresh-not-rotated`: a refresh returns no new refresh token and the
    /// old one stays valid. Imitates EHRs with long-lived, non-rotating
    /// refresh tokens (Epic's behaviour, for example). Same as
    /// [`crate::SandboxBuilder::refresh_token_rotation`]`(false)`.
    RefreshNotRotated,
    /// `discovery-from-host-header`: the discovery document's URLs are built
    /// from the request's `Host` header (`http://{Host}{base path}`) instead
    /// of the configured base URL. Imitates FHIR servers that derive their
    /// base URL from the incoming request (HAPI FHIR's default address
    /// strategy) behind a proxy that does not forward the public host: a
    /// client that trusts those URLs can be sent elsewhere.
    DiscoveryFromHostHeader,
}

impl Quirk {
    /// Every quirk.
    pub const ALL: [Quirk; 8] = [
        Quirk::BasicNotUrlDecoded,
        Quirk::ReusableCodes,
        Quirk::ErrorRedirectWithoutState,
        Quirk::NonRfcTokenErrorStatus,
        Quirk::ExpiresInString,
        Quirk::ScopeOmitted,
        Quirk::RefreshNotRotated,
        Quirk::DiscoveryFromHostHeader,
    ];
    /// The kebab-case name used by the binary's `--quirk` flag.
    pub fn name(self) -> &'static str {
        match self {
            Quirk::BasicNotUrlDecoded => "basic-not-url-decoded",
            Quirk::ReusableCodes => "reusable-codes",
            Quirk::ErrorRedirectWithoutState => "error-redirect-without-state",
            Quirk::NonRfcTokenErrorStatus => "non-rfc-token-error-status",
            Quirk::ExpiresInString => "expires-in-string",
            Quirk::ScopeOmitted => "scope-omitted",
            Quirk::RefreshNotRotated => "refresh-not-rotated",
            Quirk::DiscoveryFromHostHeader => "discovery-from-host-header",
        }
    }
    /// The quirk with this [`Quirk::name`].
    pub fn from_name(name: &str) -> Option<Quirk> {
        Quirk::ALL.into_iter().find(|q| q.name() == name)
    }
}
