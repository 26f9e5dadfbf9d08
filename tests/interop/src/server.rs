//! Starting and stopping the oidc-provider test server (`tests/interop/server/server.mjs`).

use std::collections::VecDeque;
use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::HarnessError;
use crate::http::{HttpClient, HttpRequest};

/// Env flag: when `1`, [`OidcProvider::start_or_skip`] returns `Ok(None)` (tests print a
/// "skipped" line and pass) instead of starting Node.
pub const SKIP_ENV: &str = "SAFIRE_SKIP_INTEROP";
/// Env override for the server directory (default `tests/interop/server`), e.g. to try another
/// oidc-provider version side by side.
pub const SERVER_DIR_ENV: &str = "SAFIRE_INTEROP_SERVER_DIR";

/// Env flag: when `1`, every server prints its log tail to stderr when dropped (libtest shows
/// it for failed tests, and with `--nocapture`). Without it, only a panicking test prints it.
pub const LOG_ENV: &str = "SAFIRE_INTEROP_LOG";

/// The initial access token the harness configures (`REGISTRATION_IAT`) unless overridden.
pub const DEFAULT_INITIAL_ACCESS_TOKEN: &str = "safire-interop-iat";
/// The `redirect_uri` of the static clients. Nothing listens there: tests read the `Location`.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9999/callback";
/// Account used when a login does not name one (`DEFAULT_USER`).
pub const DEFAULT_USER: &str = "practitioner-1";
/// Patient put in context for `launch/patient` (`DEFAULT_PATIENT`).
pub const DEFAULT_PATIENT: &str = "pat-123";
/// Encounter put in context for `launch/encounter` (`DEFAULT_ENCOUNTER`).
pub const DEFAULT_ENCOUNTER: &str = "enc-456";

/// Clients configured statically in `server.mjs` (dynamic registration works too).
pub mod static_clients {
    /// Public client (`token_endpoint_auth_method=none`), authorization_code + refresh_token.
    pub const PUBLIC_APP: &str = "public-app";
    /// Confidential symmetric client (`client_secret_basic`), authorization_code + refresh_token.
    pub const CONFIDENTIAL_APP: &str = "confidential-app";
    /// Secret of [`CONFIDENTIAL_APP`].
    pub const CONFIDENTIAL_APP_SECRET: &str = "confidential-app-secret";
    /// Backend client (`client_secret_basic`), client_credentials only; may introspect any token.
    pub const BACKEND_SECRET: &str = "backend-secret";
    /// Secret of [`BACKEND_SECRET`].
    pub const BACKEND_SECRET_SECRET: &str = "backend-secret-secret";
}

/// Minimum Node.js version for the pinned oidc-provider 9.13.3 (`URL.parse`, `crypto.hash`).
const MIN_NODE: (u32, u32) = (20, 18);
const DEFAULT_STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Log lines kept per server (stdout + stderr).
const LOG_LINES: usize = 5000;
/// Every env knob `server.mjs` reads; cleared before spawning so the caller's environment
/// cannot change the server's behaviour behind the test's back.
const SERVER_ENV_KNOBS: &[&str] = &[
    "HOST",
    "PORT",
    "ISSUER",
    "FHIR_BASE",
    "EXTRA_AUDS",
    "AT_FORMAT",
    "REGISTRATION",
    "REGISTRATION_IAT",
    "INTERACTIONS",
    "DEFAULT_USER",
    "DEFAULT_PATIENT",
    "DEFAULT_ENCOUNTER",
    "PKCE",
    "ROTATE_RT",
    "AT_TTL",
    "CC_TTL",
    "CLIENTS_FILE",
    "CLIENTS_JSON",
    "QUIET",
    "ADAPTER_MAX_TOKENS",
    "AUTHORIZE_POST",
    "EXIT_ON_STDIN_EOF",
];

/// `true` when `SAFIRE_SKIP_INTEROP=1`.
pub fn skip_requested() -> bool {
    std::env::var(SKIP_ENV).is_ok_and(|v| v == "1")
}

/// The directory holding `server.mjs`, `package.json` and `package-lock.json`.
pub fn server_dir() -> PathBuf {
    match std::env::var_os(SERVER_DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("server"),
    }
}

/// Whether `/reg` (the `registration_endpoint` advertised in discovery) needs the IAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegistrationMode {
    /// `/reg` is open; `/reg-protected` requires the initial access token. (default)
    #[default]
    Open,
    /// Both `/reg` and `/reg-protected` require the initial access token.
    Protected,
}

/// Access token format (`AT_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessTokenFormat {
    /// Opaque, introspectable. (default)
    #[default]
    Opaque,
    /// RS256 `at+jwt` signed with the server's `/jwks`; not introspectable.
    Jwt,
}

/// Refresh token rotation policy (`ROTATE_RT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RefreshRotation {
    /// Library default: public clients always rotate, confidential clients after 70 % of the
    /// RT lifetime (so in practice: never). (default)
    #[default]
    Default,
    /// Every refresh rotates.
    Always,
    /// No refresh rotates.
    Never,
}

/// EHR launch context bound to a `launch` value by [`OidcProvider::create_launch`]; it is
/// returned in the token response of the authorization that carried `launch=<value>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LaunchContext {
    /// `patient` (defaults to `DEFAULT_PATIENT` when the `launch` scope is granted).
    pub patient: Option<String>,
    /// `encounter`.
    pub encounter: Option<String>,
    /// `fhirContext` items, e.g. `json!({"reference": "Appointment/a1"})`.
    pub fhir_context: Vec<Value>,
    /// `need_patient_banner` (defaults to `false` when the `launch` scope is granted).
    pub need_patient_banner: Option<bool>,
    /// `smart_style_url` (defaults to `<issuer>/smart-style.json`, which is served).
    pub smart_style_url: Option<String>,
    /// `intent`.
    pub intent: Option<String>,
    /// `tenant`.
    pub tenant: Option<String>,
}

impl LaunchContext {
    /// The JSON body sent to `POST /_test/launch`.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_owned(), v);
            }
        };
        put("patient", self.patient.clone().map(Value::from));
        put("encounter", self.encounter.clone().map(Value::from));
        put(
            "fhirContext",
            (!self.fhir_context.is_empty()).then(|| Value::from(self.fhir_context.clone())),
        );
        put(
            "need_patient_banner",
            self.need_patient_banner.map(Value::from),
        );
        put(
            "smart_style_url",
            self.smart_style_url.clone().map(Value::from),
        );
        put("intent", self.intent.clone().map(Value::from));
        put("tenant", self.tenant.clone().map(Value::from));
        Value::Object(m)
    }
}

/// Configures a server before starting it. Every knob maps to an env var of `server.mjs`.
#[derive(Debug, Clone)]
pub struct ProviderBuilder {
    env: Vec<(String, String)>,
    initial_access_token: String,
    registration: RegistrationMode,
    authorize_post: bool,
    startup_timeout: Duration,
}

impl Default for ProviderBuilder {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            initial_access_token: DEFAULT_INITIAL_ACCESS_TOKEN.to_owned(),
            registration: RegistrationMode::Open,
            authorize_post: true,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        }
    }
}

impl ProviderBuilder {
    /// Sets a raw env var for `server.mjs` (see its header for the list).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Which registration path(s) require the initial access token.
    pub fn registration(mut self, mode: RegistrationMode) -> Self {
        self.registration = mode;
        self
    }

    /// The static initial access token (default [`DEFAULT_INITIAL_ACCESS_TOKEN`]).
    pub fn initial_access_token(mut self, token: impl Into<String>) -> Self {
        self.initial_access_token = token.into();
        self
    }

    /// Accept (and advertise, as capability `authorize-post`) POST at the authorization
    /// endpoint. Default `true`.
    pub fn authorize_post(mut self, enabled: bool) -> Self {
        self.authorize_post = enabled;
        self
    }

    /// Access token format.
    pub fn access_token_format(self, format: AccessTokenFormat) -> Self {
        let v = match format {
            AccessTokenFormat::Opaque => "opaque",
            AccessTokenFormat::Jwt => "jwt",
        };
        self.env("AT_FORMAT", v)
    }

    /// Refresh token rotation.
    pub fn refresh_rotation(self, rotation: RefreshRotation) -> Self {
        let v = match rotation {
            RefreshRotation::Default => "default",
            RefreshRotation::Always => "always",
            RefreshRotation::Never => "never",
        };
        self.env("ROTATE_RT", v)
    }

    /// Lifetime of access tokens issued to users (authorization code and refresh grants;
    /// default 3600 s, whole seconds, at least 1).
    pub fn access_token_ttl(self, ttl: std::time::Duration) -> Self {
        self.env("AT_TTL", ttl.as_secs().max(1).to_string())
    }

    /// Lifetime of backend services (`client_credentials`) access tokens (default 300 s,
    /// whole seconds, at least 1).
    pub fn client_credentials_ttl(self, ttl: std::time::Duration) -> Self {
        self.env("CC_TTL", ttl.as_secs().max(1).to_string())
    }

    /// Require PKCE only for public clients (default: for every client, as SMART 2 does).
    pub fn pkce_public_clients_only(self) -> Self {
        self.env("PKCE", "public")
    }

    /// Another accepted `aud` / `resource` besides the FHIR base (repeatable).
    pub fn extra_audience(mut self, aud: impl Into<String>) -> Self {
        let aud = aud.into();
        match self.env.iter_mut().find(|(k, _)| k == "EXTRA_AUDS") {
            Some((_, v)) => {
                v.push(',');
                v.push_str(&aud);
            }
            None => self.env.push(("EXTRA_AUDS".to_owned(), aud)),
        }
        self
    }

    /// Extra static clients: a JSON array of oidc-provider client metadata (`CLIENTS_JSON`).
    pub fn static_clients(self, clients: &Value) -> Self {
        self.env("CLIENTS_JSON", clients.to_string())
    }

    /// How long to wait for the `READY` line (default 30 s).
    pub fn startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }

    /// Installs the npm dependencies if needed and starts the server.
    pub fn start(self) -> Result<OidcProvider, HarnessError> {
        OidcProvider::spawn(self)
    }

    /// [`start`](Self::start), unless `SAFIRE_SKIP_INTEROP=1`: then prints
    /// `skipped: SAFIRE_SKIP_INTEROP=1 (<test name>)` and returns `Ok(None)`.
    pub fn start_or_skip(self) -> Result<Option<OidcProvider>, HarnessError> {
        if skip_requested() {
            print_skip();
            return Ok(None);
        }
        self.start().map(Some)
    }
}

fn print_skip() {
    let name = thread::current()
        .name()
        .unwrap_or("interop test")
        .to_owned();
    // straight to the process's stderr: libtest would swallow println!/eprintln! of a passing
    // test, and the skip must be visible
    let _ = writeln!(std::io::stderr(), "skipped: {SKIP_ENV}=1 ({name})");
}

type LogBuffer = Arc<Mutex<VecDeque<String>>>;

/// A running oidc-provider test server on `127.0.0.1:<ephemeral port>`.
///
/// The process is stopped (stdin closed → graceful exit, then killed after 2 s) and reaped on
/// drop. It also exits by itself when the test process dies, because it watches its stdin.
/// If the dropping thread is panicking, the tail of the server log is printed to stderr (libtest
/// shows it with the failure): it contains oidc-provider's real error reasons (`error_detail`).
#[derive(Debug)]
pub struct OidcProvider {
    child: Child,
    stdin: Option<ChildStdin>,
    issuer: String,
    fhir_base: String,
    ready_line: String,
    initial_access_token: String,
    registration: RegistrationMode,
    authorize_post: bool,
    startup_time: Duration,
    logs: LogBuffer,
    readers: Vec<JoinHandle<()>>,
    http: HttpClient,
}

impl OidcProvider {
    /// Starts a server with the default configuration (open `/reg`, IAT-protected
    /// `/reg-protected`, opaque tokens, POST authorization on).
    pub fn start() -> Result<Self, HarnessError> {
        Self::builder().start()
    }

    /// `Ok(None)` (after printing a "skipped" line) when `SAFIRE_SKIP_INTEROP=1`, else
    /// [`start`](Self::start). Typical use:
    /// `let Some(op) = OidcProvider::start_or_skip()? else { return Ok(()) };`
    pub fn start_or_skip() -> Result<Option<Self>, HarnessError> {
        Self::builder().start_or_skip()
    }

    /// A builder for non-default configurations.
    pub fn builder() -> ProviderBuilder {
        ProviderBuilder::default()
    }

    /// One default-configured server per test process, started on first use and shared by all
    /// tests in the binary (saves the 0.4–1.5 s start-up per test on a busy machine).
    ///
    /// It is never dropped: it exits when the test process exits (it watches its stdin), so its
    /// log is only available through [`logs`](Self::logs). Safe to share because the server's
    /// storage never evicts (unlike oidc-provider's stock 1000-entry LRU) and every grant, replay
    /// cache entry and launch is keyed by unique ids; tests should still register their own
    /// clients (DCR) rather than depend on per-client state of the static ones.
    /// A start-up failure is cached: every later call returns the same error.
    pub fn shared() -> Result<&'static Self, HarnessError> {
        static SHARED: OnceLock<Result<OidcProvider, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::start().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| HarnessError::Other(format!("shared test server unavailable:\n{e}")))
    }

    /// [`shared`](Self::shared), or `Ok(None)` after printing a "skipped" line when
    /// `SAFIRE_SKIP_INTEROP=1`.
    pub fn shared_or_skip() -> Result<Option<&'static Self>, HarnessError> {
        if skip_requested() {
            print_skip();
            return Ok(None);
        }
        Self::shared().map(Some)
    }

    fn spawn(cfg: ProviderBuilder) -> Result<Self, HarnessError> {
        let dir = server_dir();
        check_node(&dir)?;
        ensure_npm_ci(&dir)?;

        let started = Instant::now();
        let mut cmd = Command::new("node");
        cmd.arg("server.mjs").current_dir(&dir);
        for k in SERVER_ENV_KNOBS {
            cmd.env_remove(k);
        }
        cmd.env("HOST", "127.0.0.1")
            .env("PORT", "0")
            .env("EXIT_ON_STDIN_EOF", "1")
            .env("REGISTRATION_IAT", &cfg.initial_access_token)
            .env(
                "REGISTRATION",
                match cfg.registration {
                    RegistrationMode::Open => "open",
                    RegistrationMode::Protected => "protected",
                },
            )
            .env("AUTHORIZE_POST", if cfg.authorize_post { "1" } else { "0" });
        for (k, v) in &cfg.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| spawn_error("node server.mjs", &dir, e))?;
        let stdin = child.stdin.take();
        let logs: LogBuffer = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::channel();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            let logs = Arc::clone(&logs);
            readers.push(thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if line.starts_with("READY ")
                        && let Some(tx) = tx.take()
                    {
                        let _ = tx.send(line.clone());
                    }
                    push_log(&logs, line);
                }
            }));
        }
        if let Some(err) = child.stderr.take() {
            let logs = Arc::clone(&logs);
            readers.push(thread::spawn(move || {
                for line in BufReader::new(err).lines() {
                    let Ok(line) = line else { break };
                    push_log(&logs, format!("[stderr] {line}"));
                }
            }));
        }

        let failure = |reason: String, mut child: Child, readers: Vec<JoinHandle<()>>| {
            let _ = child.kill();
            let _ = child.wait();
            for r in readers {
                let _ = r.join();
            }
            HarnessError::Startup {
                reason,
                output: dump(&logs, usize::MAX),
            }
        };
        let ready_line = match rx.recv_timeout(cfg.startup_timeout) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                return Err(failure(
                    format!("no READY line within {:?}", cfg.startup_timeout),
                    child,
                    readers,
                ));
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = child
                    .wait()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                return Err(failure(
                    format!("server exited before READY ({status})"),
                    child,
                    readers,
                ));
            }
        };
        let startup_time = started.elapsed();
        let Some((issuer, fhir_base)) = parse_ready(&ready_line) else {
            return Err(failure(
                format!("malformed READY line: {ready_line:?}"),
                child,
                readers,
            ));
        };
        Ok(Self {
            child,
            stdin,
            issuer,
            fhir_base,
            ready_line,
            initial_access_token: cfg.initial_access_token,
            registration: cfg.registration,
            authorize_post: cfg.authorize_post,
            startup_time,
            logs,
            readers,
            http: HttpClient::new(),
        })
    }

    /// The issuer (`http://127.0.0.1:<port>`), also the base of all OAuth endpoints.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The FHIR base URL (`<issuer>/fhir`): the `aud` SMART clients send and the audience of
    /// every access token. Only discovery and `/metadata` are served under it.
    pub fn fhir_base_url(&self) -> &str {
        &self.fhir_base
    }

    /// `<fhir base>/.well-known/smart-configuration` (also served at `<issuer>/.well-known/…`).
    pub fn smart_configuration_url(&self) -> String {
        format!("{}/.well-known/smart-configuration", self.fhir_base)
    }

    /// `<issuer>/auth` (GET, and POST unless disabled).
    pub fn authorization_endpoint(&self) -> String {
        format!("{}/auth", self.issuer)
    }

    /// `<issuer>/token`.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// `<issuer>/reg`: the advertised registration endpoint; open unless
    /// [`RegistrationMode::Protected`].
    pub fn registration_endpoint(&self) -> String {
        format!("{}/reg", self.issuer)
    }

    /// `<issuer>/reg-protected`: registration that always requires
    /// `Authorization: Bearer <initial_access_token()>` (401 `invalid_token` otherwise).
    pub fn protected_registration_endpoint(&self) -> String {
        format!("{}/reg-protected", self.issuer)
    }

    /// `<issuer>/token/introspection`.
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/token/introspection", self.issuer)
    }

    /// `<issuer>/token/revocation`.
    pub fn revocation_endpoint(&self) -> String {
        format!("{}/token/revocation", self.issuer)
    }

    /// `<issuer>/jwks`: the server's signing keys (id_tokens, JWT access tokens).
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// The initial access token accepted by the registration endpoint(s).
    pub fn initial_access_token(&self) -> &str {
        &self.initial_access_token
    }

    /// The registration mode this server was started with.
    pub fn registration_mode(&self) -> RegistrationMode {
        self.registration
    }

    /// Whether POST authorization is enabled (capability `authorize-post`).
    pub fn authorize_post_enabled(&self) -> bool {
        self.authorize_post
    }

    /// The whole `READY ...` line the server printed.
    pub fn ready_line(&self) -> &str {
        &self.ready_line
    }

    /// Time from spawning `node` to reading the `READY` line (excludes `npm ci`).
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server logged so far (one request per line, plus
    /// `grant.error: <error> <detail>` lines; stderr lines prefixed `[stderr]`).
    pub fn logs(&self) -> String {
        dump(&self.logs, usize::MAX)
    }

    /// An HTTP client without cookies (for plain API calls in tests).
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Binds an EHR launch context to a fresh opaque `launch` value (`POST /_test/launch`).
    /// Authorize with `launch=<value>` and scope `launch` to get the context in the token
    /// response. (`launch=<base64url(JSON)>` works too, without this call.)
    pub fn create_launch(&self, context: &LaunchContext) -> Result<String, HarnessError> {
        self.create_launch_json(&context.to_json())
    }

    /// [`create_launch`](Self::create_launch) with a raw JSON object; only the SMART launch
    /// context keys (`patient`, `encounter`, `fhirContext`, `need_patient_banner`,
    /// `smart_style_url`, `intent`, `tenant`) are kept.
    pub fn create_launch_json(&self, context: &Value) -> Result<String, HarnessError> {
        let resp = self
            .http
            .post_json(&format!("{}/_test/launch", self.issuer), context)?;
        let body = resp.expect_json(200, "POST /_test/launch")?;
        body["launch"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| HarnessError::Other(format!("no launch in {body}")))
    }

    /// Rotates the server's signing key: a new RSA key goes first in its JWK Set (id_tokens
    /// are signed with it from now on), the old keys stay published. Returns the new `kid`.
    /// Affects every test using the same server: call it on a server of your own.
    pub fn rotate_signing_key(&self) -> Result<String, HarnessError> {
        let resp = self
            .http
            .post_json(&format!("{}/_test/rotate-keys", self.issuer), &Value::Null)?;
        let body = resp.expect_json(200, "POST /_test/rotate-keys")?;
        body["kid"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| HarnessError::Other(format!("no kid in {body}")))
    }

    /// How many times the server has served its JWK Set (`GET /jwks`) since it started.
    pub fn jwks_fetches(&self) -> Result<u64, HarnessError> {
        let body = self
            .http
            .get(&format!("{}/_test/jwks-fetches", self.issuer))?
            .expect_json(200, "GET /_test/jwks-fetches")?;
        body["count"]
            .as_u64()
            .ok_or_else(|| HarnessError::Other(format!("no count in {body}")))
    }

    /// Introspects a token (RFC 7662) as the static `backend-secret` client, which may
    /// introspect any token. Opaque tokens only.
    pub fn introspect(&self, token: &str) -> Result<Value, HarnessError> {
        let req = HttpRequest::post(self.introspection_endpoint())
            .basic_auth(
                static_clients::BACKEND_SECRET,
                static_clients::BACKEND_SECRET_SECRET,
            )
            .form(&[("token", token)]);
        self.http.send(req)?.expect_json(200, "introspection")
    }

    /// Registers a client at the open `/reg` path (or with the IAT in protected mode) and
    /// returns the registration response.
    pub fn register_client(&self, metadata: &Value) -> Result<Value, HarnessError> {
        let req = HttpRequest::post(self.registration_endpoint())
            .bearer(&self.initial_access_token)
            .json(metadata);
        self.http.send(req)?.expect_json(201, "client registration")
    }

    /// Registers a public client (`none`, authorization_code + refresh_token) redirecting to
    /// [`REDIRECT_URI`] and returns its `client_id`.
    pub fn register_public_client(&self) -> Result<String, HarnessError> {
        let reg = self.register_client(&json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        }))?;
        reg["client_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| HarnessError::Other(format!("no client_id in {reg}")))
    }

    fn stop(&mut self) {
        drop(self.stdin.take()); // EOF: server.mjs shuts down gracefully
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() || std::env::var(LOG_ENV).is_ok_and(|v| v == "1") {
            eprintln!(
                "--- oidc-provider test server {} (pid {}) log tail ---\n{}\n--- end of server log ---",
                self.issuer,
                self.child.id(),
                dump(&self.logs, 200)
            );
        }
    }
}

/// Parses `READY <issuer> fhir_base=<url> ...`.
fn parse_ready(line: &str) -> Option<(String, String)> {
    let mut words = line.split_whitespace();
    if words.next()? != "READY" {
        return None;
    }
    let issuer = words.next()?.trim_end_matches('/').to_owned();
    if !issuer.starts_with("http://") {
        return None;
    }
    let fhir_base = words
        .find_map(|w| w.strip_prefix("fhir_base="))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{issuer}/fhir"));
    Some((issuer, fhir_base))
}

fn push_log(logs: &LogBuffer, line: String) {
    let mut logs = logs.lock().unwrap_or_else(|p| p.into_inner());
    if logs.len() >= LOG_LINES {
        logs.pop_front();
    }
    logs.push_back(line);
}

fn dump(logs: &LogBuffer, last: usize) -> String {
    let logs = logs.lock().unwrap_or_else(|p| p.into_inner());
    let skip = logs.len().saturating_sub(last);
    logs.iter()
        .skip(skip)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
}

fn install_hint() -> String {
    format!(
        "Install Node.js {}.{}+ (22 LTS recommended) with npm, e.g.\n  \
         Debian/Ubuntu: curl -fsSL https://deb.nodesource.com/setup_22.x | sudo -E bash - && sudo apt-get install -y nodejs\n  \
         (`apt-get install nodejs npm` works only where the distribution ships Node >= {}.{})\n  \
         or nvm: nvm install 22\n\
         or set {SKIP_ENV}=1 to skip the interop tests.",
        MIN_NODE.0, MIN_NODE.1, MIN_NODE.0, MIN_NODE.1
    )
}

fn spawn_error(what: &str, dir: &Path, e: std::io::Error) -> HarnessError {
    if e.kind() == ErrorKind::NotFound {
        HarnessError::NodeUnavailable(format!(
            "cannot run `{what}` (in {}): {e}: Node.js is not on PATH.\n{}",
            dir.display(),
            install_hint()
        ))
    } else {
        HarnessError::io(format!("spawning `{what}` in {}", dir.display()), e)
    }
}

/// Checks (once per process) that `node` runs and is recent enough.
fn check_node(dir: &Path) -> Result<(), HarnessError> {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    CHECK
        .get_or_init(|| {
            let out = Command::new("node")
                .arg("--version")
                .output()
                .map_err(|e| spawn_error("node --version", dir, e).to_string())?;
            let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let mut nums = version
                .trim_start_matches('v')
                .split('.')
                .map(|n| n.parse::<u32>().unwrap_or(0));
            let found = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
            if found < MIN_NODE {
                return Err(format!(
                    "Node.js {version:?} is too old for oidc-provider 9.13.3 (needs >= {}.{}).\n{}",
                    MIN_NODE.0,
                    MIN_NODE.1,
                    install_hint()
                ));
            }
            Ok(())
        })
        .clone()
        .map_err(HarnessError::NodeUnavailable)
}

/// Runs `npm ci` in `dir` unless `node_modules` was installed from the current lockfile.
///
/// Serialised within the process by a mutex and across processes (parallel test binaries)
/// by a lock directory `dir/.npm-ci.lock` (created atomically; considered stale after 5 min).
fn ensure_npm_ci(dir: &Path) -> Result<(), HarnessError> {
    static STATE: Mutex<Option<Result<(), String>>> = Mutex::new(None);
    let mut state = STATE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(done) = &*state {
        return done.clone().map_err(|e| {
            HarnessError::Other(format!("npm ci failed earlier in this process:\n{e}"))
        });
    }
    let lockfile = dir.join("package-lock.json");
    let want = fingerprint(
        &fs::read(&lockfile)
            .map_err(|e| HarnessError::io(format!("reading {}", lockfile.display()), e))?,
    );
    let marker = dir.join("node_modules").join(".safire-interop-installed");
    let installed = || fs::read_to_string(&marker).is_ok_and(|s| s.trim() == want);
    if installed() {
        *state = Some(Ok(()));
        return Ok(());
    }
    let result = (|| {
        let _guard = DirLock::acquire(&dir.join(".npm-ci.lock"))?;
        if installed() {
            return Ok(()); // another process did it while we waited
        }
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .output()
            .map_err(|e| spawn_error("npm ci", dir, e))?;
        if !out.status.success() {
            return Err(HarnessError::NpmCi {
                dir: dir.display().to_string(),
                status: out.status.to_string(),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            });
        }
        fs::write(&marker, &want)
            .map_err(|e| HarnessError::io(format!("writing {}", marker.display()), e))
    })();
    *state = Some(result.as_ref().map(|_| ()).map_err(ToString::to_string));
    result
}

/// FNV-1a 64 of the lockfile: detects a changed lockfile (→ reinstall) without a hash crate.
fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}:{}", bytes.len())
}

/// A cross-process lock: a directory that exists while held.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: &Path) -> Result<Self, HarnessError> {
        const STALE: Duration = Duration::from_secs(300);
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            match fs::create_dir(path) {
                Ok(()) => return Ok(Self(path.to_owned())),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let age = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    if age.is_some_and(|a| a > STALE) {
                        let _ = fs::remove_dir(path);
                        continue;
                    }
                    if Instant::now() > deadline {
                        return Err(HarnessError::Other(format!(
                            "timed out waiting for {} (remove it if no `npm ci` is running)",
                            path.display()
                        )));
                    }
                    thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(HarnessError::io(format!("creating {}", path.display()), e)),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_parsing() {
        assert_eq!(
            parse_ready(
                "READY http://127.0.0.1:4321 fhir_base=http://127.0.0.1:4321/fhir interactions=auto"
            ),
            Some((
                "http://127.0.0.1:4321".to_owned(),
                "http://127.0.0.1:4321/fhir".to_owned()
            ))
        );
        assert_eq!(
            parse_ready("READY http://127.0.0.1:1"),
            Some((
                "http://127.0.0.1:1".to_owned(),
                "http://127.0.0.1:1/fhir".to_owned()
            ))
        );
        assert_eq!(parse_ready("READY"), None);
        assert_eq!(parse_ready("NOTREADY http://x"), None);
    }

    #[test]
    fn launch_context_json_omits_unset_fields() {
        let c = LaunchContext {
            patient: Some("p1".into()),
            need_patient_banner: Some(false),
            fhir_context: vec![json!({"reference": "Appointment/a1"})],
            ..Default::default()
        };
        assert_eq!(
            c.to_json(),
            json!({"patient": "p1", "need_patient_banner": false, "fhirContext": [{"reference": "Appointment/a1"}]})
        );
    }
}
