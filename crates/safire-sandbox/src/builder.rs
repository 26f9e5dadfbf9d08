//! [`SandboxBuilder`]: configuration, pre-registered clients, start.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::oauth::{self, ClientRecord, Clock, Config, Shared, State};
use crate::types::{
    ClientInfo, ClientKind, ClientRegistration, Clients, Endpoint, Fault, LaunchContext, Quirk,
};
use crate::{DEFAULT_REDIRECT_URI, Sandbox, keys, server};

/// Configures and starts a [`Sandbox`].
#[derive(Clone, Debug)]
pub struct SandboxBuilder {
    port: u16,
    public_base_url: Option<String>,
    launch_context: LaunchContext,
    deny: bool,
    initial_access_token: Option<String>,
    extra_clients: Vec<ClientRegistration>,
    redirect_uris: Vec<String>,
    rs384: bool,
    fixed_time: Option<u64>,
    access_token_lifetime: Duration,
    refresh_rotation: bool,
    quirks: Vec<Quirk>,
    smart_style_url: Option<String>,
    patients: HashMap<String, serde_json::Value>,
    signing_key_pem: Option<String>,
    interactive: bool,
    faults: Vec<(Endpoint, usize, Fault)>,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        Self {
            port: 0,
            public_base_url: None,
            launch_context: LaunchContext::new()
                .patient("sandbox-patient-1")
                .encounter("sandbox-encounter-1")
                .fhir_user("Practitioner/sandbox-practitioner-1")
                .need_patient_banner(true),
            deny: false,
            initial_access_token: None,
            extra_clients: Vec::new(),
            redirect_uris: vec![DEFAULT_REDIRECT_URI.to_string()],
            rs384: false,
            fixed_time: None,
            access_token_lifetime: Duration::from_secs(3600),
            refresh_rotation: true,
            quirks: Vec::new(),
            smart_style_url: None,
            patients: oauth::builtin_patients(),
            signing_key_pem: None,
            interactive: false,
            faults: Vec::new(),
        }
    }
}

impl SandboxBuilder {
    /// Port on 127.0.0.1 (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
    /// Advertise this FHIR base URL instead of `http://127.0.0.1:PORT/fhir`
    /// (as if behind a proxy). Its path is where the endpoints are served.
    /// `iss`, `aud` and the token endpoint URL all derive from it.
    pub fn public_base_url(mut self, url: impl Into<String>) -> Self {
        self.public_base_url = Some(url.into());
        self
    }
    /// Context for standalone launches (default: patient `sandbox-patient-1`,
    /// encounter `sandbox-encounter-1`, `need_patient_banner: true`).
    pub fn launch_context(mut self, ctx: LaunchContext) -> Self {
        self.launch_context = ctx;
        self
    }
    /// Answer every authorization request with `access_denied`
    /// (see also [`Sandbox::set_deny`]).
    pub fn deny_authorization(mut self, deny: bool) -> Self {
        self.deny = deny;
        self
    }
    /// Require this Bearer initial access token at the registration endpoint.
    pub fn initial_access_token(mut self, token: impl Into<String>) -> Self {
        self.initial_access_token = Some(token.into());
        self
    }
    /// Register an extra client at start.
    pub fn register_client(mut self, client: ClientRegistration) -> Self {
        self.extra_clients.push(client);
        self
    }
    /// Redirect URIs of the pre-registered app clients (replaces the default
    /// [`DEFAULT_REDIRECT_URI`]).
    pub fn redirect_uris<I, S>(mut self, uris: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.redirect_uris = uris.into_iter().map(Into::into).collect();
        self
    }
    /// Also pre-register an RS384 `private_key_jwt` app client. Generating
    /// its RSA-2048 key takes seconds in debug builds.
    pub fn rs384_client(mut self, enabled: bool) -> Self {
        self.rs384 = enabled;
        self
    }
    /// Freeze the sandbox clock at this Unix time (seconds).
    pub fn fixed_time(mut self, unix_seconds: u64) -> Self {
        self.fixed_time = Some(unix_seconds);
        self
    }
    /// Access-token lifetime for app launches (default 1 h; backend tokens
    /// are capped at 300 s).
    pub fn access_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.access_token_lifetime = lifetime;
        self
    }
    /// Rotate refresh tokens on use (default `true`).
    pub fn refresh_token_rotation(mut self, rotate: bool) -> Self {
        self.refresh_rotation = rotate;
        self
    }
    /// `smart_style_url` returned in app token responses whose launch context
    /// sets none (default `{base}/smart-style.json`, served by the sandbox).
    pub fn smart_style_url(mut self, url: impl Into<String>) -> Self {
        self.smart_style_url = Some(url.into());
        self
    }
    /// Add (or replace) a Patient served at `{base}/Patient/<id>`, with one
    /// official name and a `birthDate` (`YYYY-MM-DD`). Built in:
    /// `sandbox-patient-1` (Amy Shaw), `sandbox-patient-2`,
    /// `sandbox-patient-3`.
    pub fn fhir_patient(
        mut self,
        id: impl Into<String>,
        given: &str,
        family: &str,
        birth_date: &str,
    ) -> Self {
        let id = id.into();
        let resource = oauth::patient_resource(&id, given, family, birth_date);
        self.patients.insert(id, resource);
        self
    }
    /// Sign id_tokens with this RSA private key (PKCS#8 PEM, ≥ 2048 bits)
    /// instead of one generated on first use (generation takes seconds in
    /// debug builds). Its `kid` is `sandbox-rs256-1`.
    pub fn id_token_signing_key_pem(mut self, pem: impl Into<String>) -> Self {
        self.signing_key_pem = Some(pem.into());
        self
    }
    /// Interactive mode for browsers (default `false`: auto-approve): the
    /// authorization endpoint answers with an HTML login page, then a
    /// patient picker (standalone launches with `launch/patient`), then a
    /// consent page (approve / deny); `{base}/launcher` is an EHR launcher
    /// page. Users: `clinician` / `sandbox`, `amy` / `sandbox` (a patient).
    pub fn interactive(mut self, on: bool) -> Self {
        self.interactive = on;
        self
    }
    /// Switch on one [`Quirk`] of real servers (call again for several).
    /// The sandbox is strict unless a quirk is switched on here.
    pub fn quirk(mut self, quirk: Quirk) -> Self {
        if !self.quirks.contains(&quirk) {
            self.quirks.push(quirk);
        }
        self
    }
    /// Queue a fault from the start (see [`Faults::fail_next`](crate::Faults::fail_next)).
    pub fn fault(mut self, endpoint: Endpoint, count: usize, fault: Fault) -> Self {
        self.faults.push((endpoint, count, fault));
        self
    }

    /// Bind, generate the pre-registered clients' keys and start serving.
    pub fn start(self) -> io::Result<Sandbox> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, self.port))?;
        let addr = listener.local_addr()?;
        let base = match &self.public_base_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{addr}/fhir"),
        };
        let parsed = url::Url::parse(&base).map_err(|e| invalid(format!("base URL: {e}")))?;
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid("base URL must not have a query or fragment".into()));
        }
        let base_path = parsed.path().trim_end_matches('/').to_string();

        let (clients, registrations) = self.default_clients()?;
        let mut state = State::default();
        for reg in registrations.iter().chain(&self.extra_clients) {
            let rec = ClientRecord::from_registration(reg)
                .map_err(|e| invalid(format!("client `{}`: {e}", reg.client_id)))?;
            state.clients.insert(reg.client_id.clone(), rec);
        }
        let mut faults: HashMap<Endpoint, _> = HashMap::new();
        for (e, n, f) in self.faults {
            if n > 0 {
                faults
                    .entry(e)
                    .or_insert_with(std::collections::VecDeque::new)
                    .push_back((n, f));
            }
        }
        let mut signing = oauth::SigningKeys::default();
        if let Some(pem) = &self.signing_key_pem {
            let key =
                oauth::parse_rsa_pem(pem).map_err(|e| invalid(format!("signing key: {e}")))?;
            signing.install(key);
        }
        let shared = Arc::new(Shared {
            signing: Mutex::new(signing),
            cfg: Config {
                base_path,
                launch_context: self.launch_context,
                initial_access_token: self.initial_access_token,
                access_token_lifetime: self.access_token_lifetime.as_secs().max(1),
                refresh_rotation: self.refresh_rotation
                    && !self.quirks.contains(&Quirk::RefreshNotRotated),
                quirks: self.quirks,
                interactive: self.interactive,
                patients: self.patients,
                smart_style_url: self
                    .smart_style_url
                    .unwrap_or_else(|| format!("{base}{}", Endpoint::SmartStyle.path())),
                base,
            },
            state: Mutex::new(state),
            faults: Mutex::new(faults),
            counters: Mutex::new(HashMap::new()),
            deny: AtomicBool::new(self.deny),
            clock: Mutex::new(Clock {
                fixed: self.fixed_time,
                offset: 0,
            }),
        });
        let (stop, thread) = server::spawn(listener, shared.clone())?;
        Ok(Sandbox {
            shared,
            addr,
            clients,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn default_clients(&self) -> io::Result<(Clients, Vec<ClientRegistration>)> {
        let id = |kind: &str| -> io::Result<String> {
            Ok(format!("sandbox-{kind}-{}", keys::random_id(6)?))
        };
        let app_info = |kind, client_id: String| ClientInfo {
            kind,
            client_id,
            client_secret: None,
            private_key_pem: None,
            kid: None,
            alg: None,
            jwks: None,
            redirect_uris: self.redirect_uris.clone(),
            scope: String::new(),
        };
        let with_key = |mut info: ClientInfo, kp: keys::KeyPair, alg| {
            info.private_key_pem = Some(kp.private_key_pem);
            info.kid = Some(kp.kid);
            info.alg = Some(alg);
            info.jwks = Some(json!({ "keys": [kp.public_jwk] }));
            info
        };
        let public = app_info(ClientKind::Public, id("public")?);
        let mut symmetric = app_info(ClientKind::ConfidentialSymmetric, id("symmetric")?);
        symmetric.client_secret = Some(keys::random_secret()?);
        let asymmetric = with_key(
            app_info(ClientKind::ConfidentialAsymmetric, id("es384")?),
            keys::generate_es384("es384")?,
            "ES384",
        );
        let asymmetric_rs384 = if self.rs384 {
            Some(with_key(
                app_info(ClientKind::ConfidentialAsymmetric, id("rs384")?),
                keys::generate_rs384("rs384")?,
                "RS384",
            ))
        } else {
            None
        };
        let mut backend = with_key(
            app_info(ClientKind::Backend, id("backend")?),
            keys::generate_es384("backend")?,
            "ES384",
        );
        backend.redirect_uris = Vec::new();
        backend.scope = "system/*.rs system/*.read".into();
        let clients = Clients {
            public,
            symmetric,
            asymmetric,
            asymmetric_rs384,
            backend,
        };
        let regs = clients.all().into_iter().map(registration_of).collect();
        Ok((clients, regs))
    }
}

fn registration_of(c: &ClientInfo) -> ClientRegistration {
    let jwks = c.jwks.clone().unwrap_or_else(|| json!({"keys": []}));
    match c.kind {
        ClientKind::Public => ClientRegistration::public(&c.client_id, c.redirect_uris.clone()),
        ClientKind::ConfidentialSymmetric => ClientRegistration::symmetric(
            &c.client_id,
            c.client_secret.clone().unwrap_or_default(),
            c.redirect_uris.clone(),
        ),
        ClientKind::ConfidentialAsymmetric => {
            ClientRegistration::asymmetric(&c.client_id, jwks, c.redirect_uris.clone())
        }
        ClientKind::Backend => ClientRegistration::backend(&c.client_id, jwks, &c.scope),
    }
}
