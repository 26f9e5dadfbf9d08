//! Server state: clients, codes, grants, tokens; configuration and dispatch.

use super::*;

#[derive(Clone, Debug)]
pub(crate) enum StoredAuth {
    None,
    Secret(String),
    Keys(Vec<Jwk>),
}

#[derive(Clone, Debug)]
pub(crate) struct ClientRecord {
    pub(crate) client_id: String,
    pub(crate) auth: StoredAuth,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) grant_types: Vec<String>,
    pub(crate) scope: Vec<String>,
    /// RFC 7592 management data of dynamically registered clients.
    pub(crate) registration: Option<RegistrationRecord>,
}

/// What RFC 7592 needs about a dynamically registered client.
#[derive(Clone, Debug)]
pub(crate) struct RegistrationRecord {
    pub(crate) access_token: String,
    /// The client's current metadata as last returned.
    pub(crate) metadata: Map<String, Value>,
}

impl ClientRecord {
    pub(crate) fn from_registration(r: &ClientRegistration) -> Result<ClientRecord, String> {
        let auth = match &r.auth {
            ClientAuth::None => StoredAuth::None,
            ClientAuth::ClientSecretBasic { secret } => {
                if secret.is_empty() {
                    return Err("empty client secret".into());
                }
                StoredAuth::Secret(secret.clone())
            }
            ClientAuth::PrivateKeyJwt { jwks } => StoredAuth::Keys(jose::parse_jwks(jwks)?),
        };
        for uri in &r.redirect_uris {
            validate_redirect_uri(uri)?;
        }
        validate_grant_types(&r.grant_types)?;
        if r.grant_types.iter().any(|g| g == "client_credentials")
            && !matches!(auth, StoredAuth::Keys(_))
        {
            return Err("client_credentials requires private_key_jwt".into());
        }
        let scope = registered_scope(&r.scope, &r.grant_types);
        validate_registered_scope(&scope, &r.grant_types)?;
        Ok(ClientRecord {
            client_id: r.client_id.clone(),
            auth,
            redirect_uris: r.redirect_uris.clone(),
            grant_types: r.grant_types.clone(),
            scope,
            registration: None,
        })
    }
    pub(crate) fn allows(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    /// `unauthorized_client` unless the client may use `grant` (`client_credentials`: only
    /// with keys).
    pub(crate) fn require_grant(&self, grant: &str) -> Result<(), OAuthError> {
        let keys = matches!(self.auth, StoredAuth::Keys(_));
        if self.allows(grant) && (grant != "client_credentials" || keys) {
            Ok(())
        } else {
            Err(err(
                "unauthorized_client",
                format!("client is not registered for {grant}"),
            ))
        }
    }
}

/// Known grant types; `refresh_token` only together with `authorization_code`.
pub(crate) fn validate_grant_types(grant_types: &[String]) -> Result<(), String> {
    for g in grant_types {
        if !matches!(
            g.as_str(),
            "authorization_code" | "refresh_token" | "client_credentials"
        ) {
            return Err(format!("unsupported grant type `{g}`"));
        }
    }
    let has = |g: &str| grant_types.iter().any(|x| x == g);
    if has("refresh_token") && !has("authorization_code") {
        return Err("refresh_token is only issued with authorization_code".into());
    }
    Ok(())
}

/// Exact match, except that for loopback IP literals with `http` any port is
/// accepted (RFC 8252 §7.3, native apps on an ephemeral port).
pub(crate) fn redirect_uri_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Ok(r), Ok(mut p)) = (url::Url::parse(registered), url::Url::parse(presented)) else {
        return false;
    };
    let loopback_ip = matches!(
        r.host(),
        Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    if r.scheme() != "http" || !loopback_ip || p.scheme() != "http" {
        return false;
    }
    if p.set_port(r.port()).is_err() {
        return false;
    }
    // Compare the serialisations: path, query and host must still be identical.
    p.as_str() == r.as_str()
}

pub(crate) fn validate_redirect_uri(uri: &str) -> Result<(), String> {
    let u = url::Url::parse(uri).map_err(|_| format!("redirect URI `{uri}` is not a URL"))?;
    if u.fragment().is_some() {
        return Err(format!("redirect URI `{uri}` has a fragment"));
    }
    let loopback = matches!(
        u.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match u.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "redirect URI `{uri}` must be https (http only for loopback hosts)"
        )),
    }
}

/// An EHR launch value: single use, short-lived, optionally bound to a client.
pub(crate) struct LaunchRecord {
    pub(crate) ctx: LaunchContext,
    pub(crate) client_id: Option<String>,
    pub(crate) expires_at: u64,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Bound {
    pub(crate) ctx: LaunchContext,
    /// The authorization request's OIDC `nonce`, echoed in the id_token.
    pub(crate) nonce: Option<String>,
}

pub(crate) struct CodeRecord {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) challenge: String,
    pub(crate) scope: Vec<String>,
    pub(crate) bound: Bound,
    pub(crate) expires_at: u64,
    pub(crate) used: bool,
    pub(crate) grant_id: u64,
}

pub(crate) struct GrantRecord {
    pub(crate) client_id: String,
    pub(crate) scope: Vec<String>,
    pub(crate) bound: Bound,
    pub(crate) revoked: bool,
}

pub(crate) struct AccessRecord {
    pub(crate) grant_id: u64,
    pub(crate) client_id: String,
    pub(crate) scope: Vec<String>,
    pub(crate) issued_at: u64,
    pub(crate) expires_at: u64,
}

pub(crate) struct RefreshRecord {
    pub(crate) grant_id: u64,
    pub(crate) expires_at: u64,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) clients: HashMap<String, ClientRecord>,
    pub(crate) launches: HashMap<String, LaunchRecord>,
    /// Interactive authorizations waiting for the user, by their id.
    pub(crate) pending: HashMap<String, PendingAuth>,
    pub(crate) codes: HashMap<String, CodeRecord>,
    pub(crate) grants: HashMap<u64, GrantRecord>,
    pub(crate) next_grant: u64,
    pub(crate) access: HashMap<String, AccessRecord>,
    pub(crate) refresh: HashMap<String, RefreshRecord>,
    /// Refresh tokens already rotated away: presenting one again revokes the grant.
    pub(crate) rotated: HashMap<String, u64>,
    /// `client_id\0jti` -> exp of accepted client assertions.
    pub(crate) jtis: HashMap<String, u64>,
}

impl State {
    pub(crate) fn revoke_grant(&mut self, grant_id: u64) {
        if let Some(g) = self.grants.get_mut(&grant_id) {
            g.revoked = true;
        }
        self.access.retain(|_, a| a.grant_id != grant_id);
        self.refresh.retain(|_, r| r.grant_id != grant_id);
    }
    pub(crate) fn new_grant(&mut self, client_id: &str, scope: Vec<String>, bound: Bound) -> u64 {
        self.next_grant += 1;
        let id = self.next_grant;
        self.grants.insert(
            id,
            GrantRecord {
                client_id: client_id.to_string(),
                scope,
                bound,
                revoked: false,
            },
        );
        id
    }
}

/// Immutable configuration, fixed at start.
pub(crate) struct Config {
    /// FHIR base URL as advertised (no trailing slash); also `iss` and `aud`.
    pub(crate) base: String,
    /// Path component of `base` (routes live below it).
    pub(crate) base_path: String,
    pub(crate) launch_context: LaunchContext,
    pub(crate) initial_access_token: Option<String>,
    pub(crate) access_token_lifetime: u64,
    pub(crate) refresh_rotation: bool,
    pub(crate) quirks: Vec<Quirk>,
    /// Login / patient picker / consent pages instead of auto-approval.
    pub(crate) interactive: bool,
    /// FHIR Patient resources served at `{base}/Patient/<id>`, by id.
    pub(crate) patients: HashMap<String, Value>,
    /// `smart_style_url` of app launches whose context sets none.
    pub(crate) smart_style_url: String,
}

impl Config {
    pub(crate) fn quirk(&self, q: Quirk) -> bool {
        self.quirks.contains(&q)
    }
    pub(crate) fn url(&self, e: Endpoint) -> String {
        format!("{}{}", self.base, e.path())
    }
}

pub(crate) struct Clock {
    pub(crate) fixed: Option<u64>,
    pub(crate) offset: i64,
}

/// Everything the server threads share.
pub(crate) struct Shared {
    pub(crate) cfg: Config,
    pub(crate) state: Mutex<State>,
    pub(crate) faults: Mutex<HashMap<Endpoint, VecDeque<(usize, Fault)>>>,
    pub(crate) counters: Mutex<HashMap<Endpoint, usize>>,
    pub(crate) deny: AtomicBool,
    pub(crate) clock: Mutex<Clock>,
    pub(crate) signing: Mutex<SigningKeys>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn now(&self) -> u64 {
        let c = lock(&self.clock);
        let base = c.fixed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
        base.saturating_add_signed(c.offset)
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub(crate) fn counters(&self) -> std::sync::MutexGuard<'_, HashMap<Endpoint, usize>> {
        lock(&self.counters)
    }

    pub(crate) fn faults(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<Endpoint, VecDeque<(usize, Fault)>>> {
        lock(&self.faults)
    }

    /// Map a request path to an endpoint.
    pub(crate) fn route(&self, path: &str) -> Option<Endpoint> {
        let rest = path.strip_prefix(self.cfg.base_path.as_str())?;
        Endpoint::ALL.into_iter().find(|e| {
            e.path() == rest
                || (e.is_prefix()
                    && rest
                        .strip_prefix(e.path())
                        .is_some_and(|r| r.starts_with('/')))
        })
    }

    /// Take the next queued fault for `e`, if any.
    pub(crate) fn take_fault(&self, e: Endpoint) -> Option<Fault> {
        let mut faults = self.faults();
        let queue = faults.get_mut(&e)?;
        let (remaining, fault) = queue.front_mut()?;
        let f = fault.clone();
        *remaining = remaining.saturating_sub(1);
        if *remaining == 0 {
            queue.pop_front();
        }
        Some(f)
    }

    pub(crate) fn dispatch(&self, e: Endpoint, req: &Req) -> Resp {
        let allowed: &[&str] = match e {
            Endpoint::SmartConfiguration
            | Endpoint::Launch
            | Endpoint::SmartStyle
            | Endpoint::FhirPatient
            | Endpoint::Jwks
            | Endpoint::OpenidConfiguration
            | Endpoint::Launcher => &["GET"],
            Endpoint::ClientConfiguration => &["GET", "PUT", "DELETE"],
            Endpoint::Authorize => &["GET", "POST"],
            _ => &["POST"],
        };
        if !allowed.contains(&req.method.as_str()) {
            let mut r = err("invalid_request", "method not allowed").into_resp();
            r.status = 405;
            r.headers.push(("allow", allowed.join(", ")));
            return r;
        }
        let result = match e {
            Endpoint::SmartConfiguration => Ok(Resp::json(200, &self.smart_configuration(req))),
            Endpoint::SmartStyle => Ok(Resp::json(200, &self.smart_style())),
            Endpoint::Authorize => return self.authorize(req),
            Endpoint::Token => self.token(req),
            Endpoint::Register => self.register(req),
            Endpoint::Introspect => self.introspect(req),
            Endpoint::Launch => self.launch(req),
            Endpoint::FhirPatient => return self.fhir_patient_read(req),
            Endpoint::ClientConfiguration => self.client_configuration(req),
            Endpoint::Revoke => self.revoke(req),
            Endpoint::Jwks => self.jwks().map(|j| Resp::json(200, &j)),
            Endpoint::OpenidConfiguration => Ok(Resp::json(200, &self.openid_configuration())),
            Endpoint::Interact => return self.interact(req),
            Endpoint::Launcher => return self.launcher_page(),
        };
        result.unwrap_or_else(OAuthError::into_resp)
    }
}

/// Helper used by the EHR-launch API: store a context (bound to `client_id`
/// when given), return its opaque, single-use id.
pub(crate) fn new_launch(shared: &Shared, ctx: LaunchContext, client_id: Option<&str>) -> String {
    let id = random_token(16).unwrap_or_else(|_| {
        // Fall back to a counter-based id; launch ids need not be secret in a sandbox.
        format!("launch-{}", shared.state().launches.len() + 1)
    });
    let now = shared.now();
    let mut st = shared.state();
    st.launches.retain(|_, l| l.expires_at > now);
    st.launches.insert(
        id.clone(),
        LaunchRecord {
            ctx,
            client_id: client_id.map(str::to_string),
            expires_at: now + LAUNCH_LIFETIME,
        },
    );
    id
}
