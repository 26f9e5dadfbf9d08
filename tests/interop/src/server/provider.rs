//! A running server: [`OidcProvider`] (start, URLs, test hooks, stop on drop) and its log.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::builder::{LaunchContext, ProviderBuilder, RegistrationMode, print_skip};
use super::node::{check_node, ensure_npm_ci, spawn_error};
use super::{
    LOG_ENV, LOG_LINES, REDIRECT_URI, SERVER_ENV_KNOBS, server_dir, skip_requested, static_clients,
};
use crate::HarnessError;
use crate::http::{HttpClient, HttpRequest};

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

    pub(super) fn spawn(cfg: ProviderBuilder) -> Result<Self, HarnessError> {
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
}
