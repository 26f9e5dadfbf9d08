//! The authorization server's request handling, independent of the HTTP stack.
//! Every input here is untrusted: failures become OAuth error responses.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64ct::{Base64, Encoding};
use hyper::HeaderMap;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::jose::{self, Jwk};
use crate::types::{ClientAuth, ClientRegistration, Endpoint, Fault, LaunchContext};

pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const CODE_LIFETIME: u64 = 60;
const REFRESH_LIFETIME: u64 = 24 * 3600;
const BACKEND_TOKEN_LIFETIME: u64 = 300;
const MAX_ASSERTION_LIFETIME: u64 = 300;
const CLOCK_SKEW: u64 = 60;

// ---------------------------------------------------------------- plumbing

/// An HTTP request reduced to what the handlers need.
pub(crate) struct Req {
    pub(crate) method: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn has_content_type(&self, expected: &str) -> bool {
        self.header("content-type")
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|ct| ct.trim().eq_ignore_ascii_case(expected))
    }
}

/// An HTTP response.
pub(crate) struct Resp {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    pub(crate) fn json(status: u16, v: &Value) -> Resp {
        Resp {
            status,
            headers: vec![
                ("content-type", "application/json".into()),
                ("cache-control", "no-store".into()),
                ("pragma", "no-cache".into()),
            ],
            body: v.to_string().into_bytes(),
        }
    }
    fn redirect(location: String) -> Resp {
        Resp {
            status: 302,
            headers: vec![("location", location), ("cache-control", "no-store".into())],
            body: Vec::new(),
        }
    }
    pub(crate) fn fault(f: &Fault) -> Option<Resp> {
        match f {
            Fault::OAuth { status, error } => Some(Resp::json(
                *status,
                &json!({"error": error, "error_description": "injected fault"}),
            )),
            Fault::Status(status) => Some(Resp {
                status: *status,
                headers: vec![("cache-control", "no-store".into())],
                body: Vec::new(),
            }),
            Fault::MalformedJson => Some(Resp {
                status: 200,
                headers: vec![
                    ("content-type", "application/json".into()),
                    ("cache-control", "no-store".into()),
                ],
                body: b"{\"access_token\": \"truncated".to_vec(),
            }),
            Fault::Redirect { status, location } => Some(Resp {
                status: *status,
                headers: vec![("location", location.clone())],
                body: Vec::new(),
            }),
            Fault::Delay(_) => None,
        }
    }
}

/// An OAuth error (RFC 6749 §5.2 shape).
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: u16,
    error: &'static str,
    description: String,
    /// `WWW-Authenticate` challenge to send with a 401.
    challenge: Option<String>,
}

fn err(error: &'static str, description: impl Into<String>) -> OAuthError {
    let status = match error {
        "invalid_client" | "invalid_token" => 401,
        "server_error" => 500,
        _ => 400,
    };
    OAuthError {
        status,
        error,
        description: description.into(),
        challenge: None,
    }
}

impl OAuthError {
    fn with_challenge(mut self, c: impl Into<String>) -> Self {
        self.challenge = Some(c.into());
        self
    }
    fn into_resp(self) -> Resp {
        let mut r = Resp::json(
            self.status,
            &json!({"error": self.error, "error_description": self.description}),
        );
        if let Some(c) = self.challenge {
            r.headers.push(("www-authenticate", c));
        }
        r
    }
}

fn random_token(bytes: usize) -> Result<String, OAuthError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| err("server_error", format!("OS RNG failed: {e}")))?;
    Ok(jose::b64url(&buf))
}

/// Constant-time byte comparison.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Request parameters with RFC 6749 §3.1 semantics: empty values are omitted;
/// repeated names are recorded so they can be rejected.
struct Params {
    map: HashMap<String, String>,
    duplicates: Vec<String>,
}

impl Params {
    fn parse(raw: &[u8]) -> Params {
        let mut map = HashMap::new();
        let mut duplicates = Vec::new();
        for (k, v) in url::form_urlencoded::parse(raw) {
            if v.is_empty() {
                continue;
            }
            if map.insert(k.to_string(), v.to_string()).is_some() {
                duplicates.push(k.to_string());
            }
        }
        Params { map, duplicates }
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(String::as_str)
    }
    fn require(&self, k: &str) -> Result<&str, OAuthError> {
        self.get(k)
            .ok_or_else(|| err("invalid_request", format!("missing parameter `{k}`")))
    }
    fn reject_duplicates(&self) -> Result<(), OAuthError> {
        match self.duplicates.first() {
            Some(d) => Err(err("invalid_request", format!("parameter `{d}` repeated"))),
            None => Ok(()),
        }
    }
}

/// Decode `application/x-www-form-urlencoded` text (RFC 6749 §2.3.1 Basic credentials).
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn split_scope(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

// ------------------------------------------------------------------ scopes

/// A parsed SMART resource scope `ctx/Resource.perm[?query]`.
struct ResourceScope<'a> {
    ctx: &'a str,
    resource: &'a str,
    perm: &'a str,
    query: Option<&'a str>,
}

fn parse_resource_scope(s: &str) -> Option<ResourceScope<'_>> {
    let (ctx, rest) = s.split_once('/')?;
    if !matches!(ctx, "patient" | "user" | "system") {
        return None;
    }
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) if !q.is_empty() => (r, Some(q)),
        Some(_) => return None,
        None => (rest, None),
    };
    let (resource, perm) = rest.split_once('.')?;
    let resource_ok = resource == "*"
        || (resource
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
            && resource.chars().all(|c| c.is_ascii_alphanumeric()));
    if !resource_ok {
        return None;
    }
    let v1 = matches!(perm, "read" | "write" | "*");
    if !v1 && !is_v2_perm(perm) {
        return None;
    }
    if v1 && query.is_some() {
        return None;
    }
    Some(ResourceScope {
        ctx,
        resource,
        perm,
        query,
    })
}

/// SMART v2 permissions: non-empty subsequence of `cruds`, in order.
fn is_v2_perm(p: &str) -> bool {
    let order = "cruds";
    let mut last = None;
    for c in p.chars() {
        let Some(idx) = order.find(c) else {
            return false;
        };
        if last.is_some_and(|l| idx <= l) {
            return false;
        }
        last = Some(idx);
    }
    last.is_some()
}

fn v1_to_v2(p: &str) -> &str {
    match p {
        "read" => "rs",
        "write" => "cud",
        "*" => "cruds",
        other => other,
    }
}

/// Does the granted/registered scope `held` cover the requested scope `want`?
fn scope_covers(held: &str, want: &str) -> bool {
    if held == want {
        return true;
    }
    let (Some(h), Some(w)) = (parse_resource_scope(held), parse_resource_scope(want)) else {
        return false;
    };
    if h.ctx != w.ctx || !(h.resource == "*" || h.resource == w.resource) {
        return false;
    }
    if h.query.is_some() && h.query != w.query {
        return false;
    }
    let hp = v1_to_v2(h.perm);
    v1_to_v2(w.perm).chars().all(|c| hp.contains(c))
}

const NON_RESOURCE_SCOPES: [&str; 8] = [
    "launch",
    "launch/patient",
    "launch/encounter",
    "openid",
    "fhirUser",
    "profile",
    "offline_access",
    "online_access",
];

/// Scopes the sandbox accepts but never grants (no id_token support).
const UNGRANTED_SCOPES: [&str; 3] = ["openid", "fhirUser", "profile"];

// ------------------------------------------------------------------- state

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
        for g in &r.grant_types {
            if !matches!(g.as_str(), "authorization_code" | "client_credentials") {
                return Err(format!("unsupported grant type `{g}`"));
            }
        }
        if r.grant_types.iter().any(|g| g == "client_credentials")
            && !matches!(auth, StoredAuth::Keys(_))
        {
            return Err("client_credentials requires private_key_jwt".into());
        }
        Ok(ClientRecord {
            client_id: r.client_id.clone(),
            auth,
            redirect_uris: r.redirect_uris.clone(),
            grant_types: r.grant_types.clone(),
            scope: split_scope(&r.scope),
        })
    }
    fn allows(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }
}

fn validate_redirect_uri(uri: &str) -> Result<(), String> {
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

#[derive(Clone, Debug, Default)]
struct Bound {
    ctx: LaunchContext,
}

struct CodeRecord {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: Vec<String>,
    bound: Bound,
    expires_at: u64,
    used: bool,
    grant_id: u64,
}

struct GrantRecord {
    client_id: String,
    scope: Vec<String>,
    bound: Bound,
    revoked: bool,
}

struct AccessRecord {
    grant_id: u64,
    client_id: String,
    scope: Vec<String>,
    issued_at: u64,
    expires_at: u64,
}

struct RefreshRecord {
    grant_id: u64,
    expires_at: u64,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) clients: HashMap<String, ClientRecord>,
    pub(crate) launches: HashMap<String, LaunchContext>,
    codes: HashMap<String, CodeRecord>,
    grants: HashMap<u64, GrantRecord>,
    next_grant: u64,
    access: HashMap<String, AccessRecord>,
    refresh: HashMap<String, RefreshRecord>,
    /// Refresh tokens already rotated away: presenting one again revokes the grant.
    rotated: HashMap<String, u64>,
    /// `client_id\0jti` -> exp of accepted client assertions.
    jtis: HashMap<String, u64>,
}

impl State {
    fn revoke_grant(&mut self, grant_id: u64) {
        if let Some(g) = self.grants.get_mut(&grant_id) {
            g.revoked = true;
        }
        self.access.retain(|_, a| a.grant_id != grant_id);
        self.refresh.retain(|_, r| r.grant_id != grant_id);
    }
    fn new_grant(&mut self, client_id: &str, scope: Vec<String>, bound: Bound) -> u64 {
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
}

impl Config {
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
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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
        Endpoint::ALL.into_iter().find(|e| e.path() == rest)
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
            Endpoint::SmartConfiguration => &["GET"],
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
            Endpoint::SmartConfiguration => Ok(Resp::json(200, &self.smart_configuration())),
            Endpoint::Authorize => return self.authorize(req),
            Endpoint::Token => self.token(req),
            Endpoint::Register => self.register(req),
            Endpoint::Introspect => self.introspect(req),
        };
        result.unwrap_or_else(OAuthError::into_resp)
    }

    // ------------------------------------------------------- discovery

    fn smart_configuration(&self) -> Value {
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

    // ------------------------------------------------------- authorize

    fn authorize(&self, req: &Req) -> Resp {
        let params = if req.method == "POST" {
            if !req.has_content_type("application/x-www-form-urlencoded") {
                return err(
                    "invalid_request",
                    "POST authorize requires application/x-www-form-urlencoded",
                )
                .into_resp();
            }
            Params::parse(&req.body)
        } else {
            Params::parse(req.query.as_deref().unwrap_or("").as_bytes())
        };
        // Without a known client and an exactly registered redirect_uri, never redirect.
        if params
            .duplicates
            .iter()
            .any(|d| d == "client_id" || d == "redirect_uri")
        {
            return err("invalid_request", "client_id or redirect_uri repeated").into_resp();
        }
        let Some(client_id) = params.get("client_id") else {
            return err("invalid_request", "missing client_id").into_resp();
        };
        let client = match self.state().clients.get(client_id) {
            Some(c) => c.clone(),
            None => return err("invalid_request", "unknown client_id").into_resp(),
        };
        let Some(redirect_uri) = params.get("redirect_uri") else {
            return err("invalid_request", "missing redirect_uri").into_resp();
        };
        if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
            return err(
                "invalid_request",
                "redirect_uri does not exactly match a registered redirect URI",
            )
            .into_resp();
        }
        let state = params.get("state").map(str::to_string);
        let mut target = match url::Url::parse(redirect_uri) {
            Ok(u) => u,
            Err(_) => return err("invalid_request", "redirect_uri is not a URL").into_resp(),
        };
        match self.authorize_checked(&client, redirect_uri, &params) {
            Ok(code) => {
                target
                    .query_pairs_mut()
                    .append_pair("code", &code)
                    .append_pair("state", state.as_deref().unwrap_or(""))
                    .append_pair("iss", &self.cfg.base);
                Resp::redirect(target.to_string())
            }
            Err(e) if e.error == "server_error" && e.status == 500 => e.into_resp(),
            Err(e) => {
                {
                    let mut q = target.query_pairs_mut();
                    q.append_pair("error", e.error);
                    q.append_pair("error_description", &e.description);
                    if let Some(s) = &state {
                        q.append_pair("state", s);
                    }
                    q.append_pair("iss", &self.cfg.base);
                }
                Resp::redirect(target.to_string())
            }
        }
    }

    fn authorize_checked(
        &self,
        client: &ClientRecord,
        redirect_uri: &str,
        params: &Params,
    ) -> Result<String, OAuthError> {
        params.reject_duplicates()?;
        match params.get("response_type") {
            None => return Err(err("invalid_request", "missing response_type")),
            Some("code") => {}
            Some(_) => {
                return Err(err(
                    "unsupported_response_type",
                    "only response_type=code is supported",
                ));
            }
        }
        if !client.allows("authorization_code") {
            return Err(err(
                "unauthorized_client",
                "client is not registered for authorization_code",
            ));
        }
        params.require("state")?;
        let aud = params.require("aud")?;
        if aud != self.cfg.base {
            return Err(err(
                "invalid_request",
                format!("aud must be exactly the FHIR base URL {}", self.cfg.base),
            ));
        }
        let challenge = params.require("code_challenge")?;
        match params.get("code_challenge_method") {
            Some("S256") => {}
            None => {
                return Err(err(
                    "invalid_request",
                    "code_challenge_method=S256 is required",
                ));
            }
            Some(_) => {
                return Err(err(
                    "invalid_request",
                    "only code_challenge_method=S256 is supported",
                ));
            }
        }
        if challenge.len() != 43 || jose::b64url_decode(challenge).is_err() {
            return Err(err(
                "invalid_request",
                "code_challenge must be base64url(SHA-256), 43 characters",
            ));
        }
        let scope = split_scope(params.require("scope")?);
        if scope.is_empty() {
            return Err(err("invalid_request", "missing parameter `scope`"));
        }
        for s in &scope {
            if NON_RESOURCE_SCOPES.contains(&s.as_str()) {
                continue;
            }
            match parse_resource_scope(s) {
                Some(r) if r.ctx != "system" => {}
                Some(_) => {
                    return Err(err(
                        "invalid_scope",
                        format!("`{s}`: system scopes are only for client_credentials"),
                    ));
                }
                None => {
                    return Err(err("invalid_scope", format!("unknown scope `{s}`")));
                }
            }
        }
        let has = |s: &str| scope.iter().any(|x| x == s);
        let bound = match params.get("launch") {
            Some(launch) => {
                if !has("launch") {
                    return Err(err(
                        "invalid_scope",
                        "a `launch` parameter requires the `launch` scope",
                    ));
                }
                let ctx = self.state().launches.get(launch).cloned();
                let Some(ctx) = ctx else {
                    return Err(err("invalid_request", "unknown launch value"));
                };
                Bound { ctx }
            }
            None => {
                if has("launch") {
                    return Err(err(
                        "invalid_request",
                        "scope `launch` requires a `launch` parameter (EHR launch)",
                    ));
                }
                let cfg = &self.cfg.launch_context;
                let mut ctx = cfg.clone();
                if !has("launch/patient") {
                    ctx.patient = None;
                }
                if !has("launch/encounter") {
                    ctx.encounter = None;
                }
                Bound { ctx }
            }
        };
        if self.deny.load(Ordering::SeqCst) {
            return Err(err("access_denied", "the user denied the request"));
        }
        let granted: Vec<String> = scope
            .into_iter()
            .filter(|s| !UNGRANTED_SCOPES.contains(&s.as_str()))
            .collect();
        let code = random_token(32)?;
        let now = self.now();
        let mut st = self.state();
        // Forget long-expired codes (a replay of one is then just unknown).
        st.codes.retain(|_, c| c.expires_at + 600 > now);
        let grant_id = st.new_grant(&client.client_id, granted.clone(), bound.clone());
        st.codes.insert(
            code.clone(),
            CodeRecord {
                client_id: client.client_id.clone(),
                redirect_uri: redirect_uri.to_string(),
                challenge: challenge.to_string(),
                scope: granted,
                bound,
                expires_at: now + CODE_LIFETIME,
                used: false,
                grant_id,
            },
        );
        Ok(code)
    }

    // ------------------------------------------------- client authentication

    /// Authenticate the client of a token/introspection request. Returns the client.
    fn authenticate(&self, req: &Req, params: &Params) -> Result<ClientRecord, OAuthError> {
        let basic = req.header("authorization").and_then(|h| {
            let (scheme, rest) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
        });
        let has_other_auth_header = basic.is_none() && req.header("authorization").is_some();
        let assertion = params.get("client_assertion");
        let assertion_type = params.get("client_assertion_type");
        let methods = usize::from(basic.is_some())
            + usize::from(assertion.is_some() || assertion_type.is_some())
            + usize::from(params.get("client_secret").is_some());
        if methods > 1 {
            return Err(err(
                "invalid_request",
                "more than one client authentication method used",
            ));
        }
        if has_other_auth_header {
            return Err(err(
                "invalid_client",
                "unsupported Authorization scheme for client authentication",
            )
            .with_challenge("Basic realm=\"safire-sandbox\""));
        }
        if let Some(b) = basic {
            return self.authenticate_basic(b, params);
        }
        if assertion.is_some() || assertion_type.is_some() {
            return self.authenticate_jwt(assertion_type, assertion, params);
        }
        let Some(client_id) = params.get("client_id") else {
            return Err(err("invalid_client", "no client authentication")
                .with_challenge("Basic realm=\"safire-sandbox\""));
        };
        let client = self.state().clients.get(client_id).cloned();
        match client {
            Some(c) if matches!(c.auth, StoredAuth::None) => {
                if params.get("client_secret").is_some() {
                    return Err(err(
                        "invalid_client",
                        "public clients must not send a client_secret",
                    ));
                }
                Ok(c)
            }
            Some(_) => Err(err(
                "invalid_client",
                "confidential client did not authenticate (client_secret_post is not supported)",
            )
            .with_challenge("Basic realm=\"safire-sandbox\"")),
            None => Err(err("invalid_client", "unknown client")),
        }
    }

    fn authenticate_basic(&self, b64: &str, params: &Params) -> Result<ClientRecord, OAuthError> {
        let fail = |d: &str| {
            err("invalid_client", d.to_string()).with_challenge("Basic realm=\"safire-sandbox\"")
        };
        let decoded = Base64::decode_vec(b64).map_err(|_| fail("malformed Basic credentials"))?;
        let decoded =
            String::from_utf8(decoded).map_err(|_| fail("malformed Basic credentials"))?;
        let (raw_id, raw_secret) = decoded
            .split_once(':')
            .ok_or_else(|| fail("malformed Basic credentials"))?;
        // RFC 6749 §2.3.1 form-encodes id and secret before Basic; many clients
        // do not. Accept either, never both mixed.
        let mut candidates = vec![(raw_id.to_string(), raw_secret.to_string())];
        if let (Some(id), Some(secret)) = (form_decode(raw_id), form_decode(raw_secret))
            && (id != raw_id || secret != raw_secret)
        {
            candidates.insert(0, (id, secret));
        }
        let st = self.state();
        for (id, secret) in candidates {
            if let Some(c) = st.clients.get(&id)
                && let StoredAuth::Secret(s) = &c.auth
                && ct_eq(s.as_bytes(), secret.as_bytes())
            {
                if params.get("client_id").is_some_and(|p| p != id) {
                    return Err(fail("client_id does not match Basic credentials"));
                }
                return Ok(c.clone());
            }
        }
        Err(fail("client authentication failed"))
    }

    fn authenticate_jwt(
        &self,
        assertion_type: Option<&str>,
        assertion: Option<&str>,
        params: &Params,
    ) -> Result<ClientRecord, OAuthError> {
        if assertion_type != Some(JWT_BEARER) {
            return Err(err(
                "invalid_client",
                format!("client_assertion_type must be {JWT_BEARER}"),
            ));
        }
        let assertion =
            assertion.ok_or_else(|| err("invalid_client", "missing client_assertion"))?;
        let fail = |d: String| err("invalid_client", d);
        let jws = jose::decode_jws(assertion).map_err(fail)?;
        let claim_str = |name: &str| jws.claims.get(name).and_then(Value::as_str);
        let iss = claim_str("iss").ok_or_else(|| fail("assertion lacks `iss`".into()))?;
        if claim_str("sub") != Some(iss) {
            return Err(fail("assertion `sub` must equal `iss`".into()));
        }
        if params.get("client_id").is_some_and(|c| c != iss) {
            return Err(fail("client_id does not match assertion `iss`".into()));
        }
        let client = self
            .state()
            .clients
            .get(iss)
            .cloned()
            .ok_or_else(|| fail("unknown client".into()))?;
        let StoredAuth::Keys(keys) = &client.auth else {
            return Err(fail("client is not registered for private_key_jwt".into()));
        };
        jws.verify(keys).map_err(fail)?;
        let token_url = self.cfg.url(Endpoint::Token);
        let aud_ok = match jws.claims.get("aud") {
            Some(Value::String(a)) => *a == token_url,
            Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(&token_url)),
            _ => false,
        };
        if !aud_ok {
            return Err(fail(format!("assertion `aud` must be {token_url}")));
        }
        let now = self.now();
        let numeric = |name: &str| jws.claims.get(name).and_then(Value::as_f64);
        let exp = numeric("exp").ok_or_else(|| fail("assertion lacks numeric `exp`".into()))?;
        let exp = if exp.is_finite() && exp >= 0.0 {
            exp as u64
        } else {
            0
        };
        if exp <= now {
            return Err(fail("assertion expired".into()));
        }
        if exp > now + MAX_ASSERTION_LIFETIME {
            return Err(fail(format!(
                "assertion `exp` more than {MAX_ASSERTION_LIFETIME} s in the future"
            )));
        }
        for name in ["iat", "nbf"] {
            if let Some(v) = jws.claims.get(name) {
                let t = v
                    .as_f64()
                    .ok_or_else(|| fail(format!("assertion `{name}` is not numeric")))?;
                if t > (now + CLOCK_SKEW) as f64 {
                    return Err(fail(format!("assertion `{name}` is in the future")));
                }
            }
        }
        let jti = claim_str("jti").ok_or_else(|| fail("assertion lacks `jti`".into()))?;
        if jti.is_empty() {
            return Err(fail("assertion `jti` is empty".into()));
        }
        let key = format!("{iss}\0{jti}");
        let mut st = self.state();
        st.jtis.retain(|_, e| *e + CLOCK_SKEW >= now);
        if st.jtis.contains_key(&key) {
            return Err(fail("assertion `jti` already used (replay)".into()));
        }
        st.jtis.insert(key, exp);
        Ok(client)
    }

    // ----------------------------------------------------------- token

    fn token(&self, req: &Req) -> Result<Resp, OAuthError> {
        if !req.has_content_type("application/x-www-form-urlencoded") {
            return Err(err(
                "invalid_request",
                "token requests must be application/x-www-form-urlencoded",
            ));
        }
        if req.query.as_deref().is_some_and(|q| !q.is_empty()) {
            return Err(err(
                "invalid_request",
                "token parameters must be in the body, not the query",
            ));
        }
        let params = Params::parse(&req.body);
        params.reject_duplicates()?;
        let grant_type = params.require("grant_type")?;
        if !matches!(
            grant_type,
            "authorization_code" | "refresh_token" | "client_credentials"
        ) {
            return Err(err(
                "unsupported_grant_type",
                format!("grant_type `{grant_type}` is not supported"),
            ));
        }
        let client = self.authenticate(req, &params)?;
        let body = match grant_type {
            "authorization_code" => self.grant_code(&client, &params)?,
            "refresh_token" => self.grant_refresh(&client, &params)?,
            _ => self.grant_client_credentials(&client, &params)?,
        };
        Ok(Resp::json(200, &Value::Object(body)))
    }

    fn grant_code(
        &self,
        client: &ClientRecord,
        params: &Params,
    ) -> Result<Map<String, Value>, OAuthError> {
        if !client.allows("authorization_code") {
            return Err(err(
                "unauthorized_client",
                "client is not registered for authorization_code",
            ));
        }
        let code = params.require("code")?;
        let redirect_uri = params.require("redirect_uri")?;
        let verifier = params.require("code_verifier")?;
        let now = self.now();
        let mut st = self.state();
        let Some(rec) = st.codes.get_mut(code) else {
            return Err(err("invalid_grant", "unknown authorization code"));
        };
        if rec.client_id != client.client_id {
            return Err(err(
                "invalid_grant",
                "authorization code was issued to another client",
            ));
        }
        if rec.used {
            let grant = rec.grant_id;
            st.revoke_grant(grant);
            return Err(err(
                "invalid_grant",
                "authorization code already used; tokens issued from it are revoked",
            ));
        }
        rec.used = true;
        if rec.expires_at <= now {
            return Err(err("invalid_grant", "authorization code expired"));
        }
        if rec.redirect_uri != redirect_uri {
            return Err(err(
                "invalid_grant",
                "redirect_uri differs from the authorization request",
            ));
        }
        let verifier_ok = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !verifier_ok {
            return Err(err(
                "invalid_grant",
                "code_verifier must be 43-128 unreserved characters",
            ));
        }
        let computed = jose::b64url(&Sha256::digest(verifier.as_bytes()));
        if !ct_eq(computed.as_bytes(), rec.challenge.as_bytes()) {
            return Err(err("invalid_grant", "PKCE code_verifier does not match"));
        }
        let (grant_id, scope, bound) = (rec.grant_id, rec.scope.clone(), rec.bound.clone());
        self.issue(&mut st, grant_id, &client.client_id, &scope, &bound, true)
    }

    /// Mint an access token (and a refresh token when the scope asks for one).
    fn issue(
        &self,
        st: &mut State,
        grant_id: u64,
        client_id: &str,
        scope: &[String],
        bound: &Bound,
        new_refresh: bool,
    ) -> Result<Map<String, Value>, OAuthError> {
        let now = self.now();
        let lifetime = self.cfg.access_token_lifetime;
        let access = random_token(32)?;
        st.access.insert(
            access.clone(),
            AccessRecord {
                grant_id,
                client_id: client_id.to_string(),
                scope: scope.to_vec(),
                issued_at: now,
                expires_at: now + lifetime,
            },
        );
        let mut out = Map::new();
        out.insert("access_token".into(), access.into());
        out.insert("token_type".into(), "Bearer".into());
        out.insert("expires_in".into(), lifetime.into());
        out.insert("scope".into(), scope.join(" ").into());
        let grant_scope = st
            .grants
            .get(&grant_id)
            .map(|g| g.scope.clone())
            .unwrap_or_default();
        let wants_refresh = grant_scope
            .iter()
            .any(|s| s == "offline_access" || s == "online_access");
        if new_refresh && wants_refresh {
            let refresh = random_token(32)?;
            st.refresh.insert(
                refresh.clone(),
                RefreshRecord {
                    grant_id,
                    expires_at: now + REFRESH_LIFETIME,
                },
            );
            out.insert("refresh_token".into(), refresh.into());
        }
        let ctx = &bound.ctx;
        if let Some(p) = &ctx.patient {
            out.insert("patient".into(), p.clone().into());
        }
        if let Some(e) = &ctx.encounter {
            out.insert("encounter".into(), e.clone().into());
        }
        if !ctx.fhir_context.is_empty() {
            out.insert("fhirContext".into(), ctx.fhir_context.clone().into());
        }
        if let Some(b) = ctx.need_patient_banner {
            out.insert("need_patient_banner".into(), b.into());
        }
        if let Some(s) = &ctx.smart_style_url {
            out.insert("smart_style_url".into(), s.clone().into());
        }
        if let Some(i) = &ctx.intent {
            out.insert("intent".into(), i.clone().into());
        }
        Ok(out)
    }

    fn grant_refresh(
        &self,
        client: &ClientRecord,
        params: &Params,
    ) -> Result<Map<String, Value>, OAuthError> {
        let token = params.require("refresh_token")?;
        let now = self.now();
        let mut st = self.state();
        if let Some(grant) = st.rotated.get(token).copied() {
            st.revoke_grant(grant);
            return Err(err(
                "invalid_grant",
                "refresh token was already rotated; grant revoked",
            ));
        }
        let Some(rec) = st.refresh.get(token) else {
            return Err(err("invalid_grant", "unknown or revoked refresh token"));
        };
        let (grant_id, expires_at) = (rec.grant_id, rec.expires_at);
        let Some(grant) = st.grants.get(&grant_id) else {
            return Err(err("invalid_grant", "unknown grant"));
        };
        if grant.revoked {
            return Err(err("invalid_grant", "grant revoked"));
        }
        if grant.client_id != client.client_id {
            return Err(err(
                "invalid_grant",
                "refresh token was issued to another client",
            ));
        }
        if expires_at <= now {
            return Err(err("invalid_grant", "refresh token expired"));
        }
        let (grant_scope, bound) = (grant.scope.clone(), grant.bound.clone());
        let scope = match params.get("scope") {
            None => grant_scope,
            Some(s) => {
                let want = split_scope(s);
                if want.is_empty() {
                    return Err(err("invalid_scope", "empty scope"));
                }
                if let Some(bad) = want
                    .iter()
                    .find(|w| !grant_scope.iter().any(|h| scope_covers(h, w)))
                {
                    return Err(err(
                        "invalid_scope",
                        format!("`{bad}` was not granted originally"),
                    ));
                }
                want
            }
        };
        let mut out = self.issue(
            &mut st,
            grant_id,
            &client.client_id,
            &scope,
            &bound,
            self.cfg.refresh_rotation,
        )?;
        if self.cfg.refresh_rotation {
            st.refresh.remove(token);
            st.rotated.insert(token.to_string(), grant_id);
        } else {
            out.insert("refresh_token".into(), token.into());
        }
        Ok(out)
    }

    fn grant_client_credentials(
        &self,
        client: &ClientRecord,
        params: &Params,
    ) -> Result<Map<String, Value>, OAuthError> {
        if !client.allows("client_credentials") || !matches!(client.auth, StoredAuth::Keys(_)) {
            return Err(err(
                "unauthorized_client",
                "client is not registered for client_credentials",
            ));
        }
        let want = split_scope(params.require("scope")?);
        if want.is_empty() {
            return Err(err("invalid_request", "missing parameter `scope`"));
        }
        for w in &want {
            let is_system = parse_resource_scope(w).is_some_and(|r| r.ctx == "system");
            if !is_system {
                return Err(err(
                    "invalid_scope",
                    format!("`{w}` is not a system/ scope"),
                ));
            }
            if !client.scope.iter().any(|h| scope_covers(h, w)) {
                return Err(err(
                    "invalid_scope",
                    format!("`{w}` is not registered for this client"),
                ));
            }
        }
        let now = self.now();
        let access = random_token(32)?;
        let mut st = self.state();
        let grant_id = st.new_grant(&client.client_id, want.clone(), Bound::default());
        let lifetime = self.cfg.access_token_lifetime.min(BACKEND_TOKEN_LIFETIME);
        st.access.insert(
            access.clone(),
            AccessRecord {
                grant_id,
                client_id: client.client_id.clone(),
                scope: want.clone(),
                issued_at: now,
                expires_at: now + lifetime,
            },
        );
        let mut out = Map::new();
        out.insert("access_token".into(), access.into());
        out.insert("token_type".into(), "Bearer".into());
        out.insert("expires_in".into(), lifetime.into());
        out.insert("scope".into(), want.join(" ").into());
        Ok(out)
    }

    // ---------------------------------------------------- introspection

    fn introspect(&self, req: &Req) -> Result<Resp, OAuthError> {
        if !req.has_content_type("application/x-www-form-urlencoded") {
            return Err(err(
                "invalid_request",
                "introspection requests must be application/x-www-form-urlencoded",
            ));
        }
        let params = Params::parse(&req.body);
        params.reject_duplicates()?;
        let client = self.authenticate(req, &params)?;
        if matches!(client.auth, StoredAuth::None) {
            return Err(err(
                "invalid_client",
                "introspection requires a confidential client",
            ));
        }
        let token = params.require("token")?;
        let now = self.now();
        let st = self.state();
        let inactive = Resp::json(200, &json!({"active": false}));
        if let Some(a) = st.access.get(token) {
            let Some(g) = st.grants.get(&a.grant_id) else {
                return Ok(inactive);
            };
            if g.revoked || a.expires_at <= now {
                return Ok(inactive);
            }
            let mut out = json!({
                "active": true,
                "scope": a.scope.join(" "),
                "client_id": a.client_id,
                "token_type": "Bearer",
                "exp": a.expires_at,
                "iat": a.issued_at,
                "iss": self.cfg.base,
            });
            let ctx = &g.bound.ctx;
            if let Some(obj) = out.as_object_mut() {
                if let Some(p) = &ctx.patient {
                    obj.insert("patient".into(), p.clone().into());
                }
                if let Some(e) = &ctx.encounter {
                    obj.insert("encounter".into(), e.clone().into());
                }
                if let Some(u) = &ctx.fhir_user {
                    obj.insert("fhirUser".into(), u.clone().into());
                }
            }
            return Ok(Resp::json(200, &out));
        }
        if let Some(r) = st.refresh.get(token) {
            let Some(g) = st.grants.get(&r.grant_id) else {
                return Ok(inactive);
            };
            if g.revoked || r.expires_at <= now {
                return Ok(inactive);
            }
            return Ok(Resp::json(
                200,
                &json!({
                    "active": true,
                    "scope": g.scope.join(" "),
                    "client_id": g.client_id,
                    "exp": r.expires_at,
                    "iss": self.cfg.base,
                }),
            ));
        }
        Ok(inactive)
    }

    // ----------------------------------------------------- registration

    fn register(&self, req: &Req) -> Result<Resp, OAuthError> {
        if let Some(expected) = &self.cfg.initial_access_token {
            let presented = req.header("authorization").and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            });
            let ok = presented.is_some_and(|p| ct_eq(p.as_bytes(), expected.as_bytes()));
            if !ok {
                let challenge = if presented.is_some() {
                    "Bearer error=\"invalid_token\""
                } else {
                    "Bearer"
                };
                return Err(
                    err("invalid_token", "a valid initial access token is required")
                        .with_challenge(challenge),
                );
            }
        }
        if !req.has_content_type("application/json") {
            return Err(err(
                "invalid_client_metadata",
                "registration requests must be application/json",
            ));
        }
        let meta: Value = serde_json::from_slice(&req.body)
            .map_err(|_| err("invalid_client_metadata", "body is not valid JSON"))?;
        let Value::Object(meta) = meta else {
            return Err(err("invalid_client_metadata", "body is not a JSON object"));
        };
        let bad = |d: String| err("invalid_client_metadata", d);
        let string_list = |name: &str| -> Result<Option<Vec<String>>, OAuthError> {
            match meta.get(name) {
                None => Ok(None),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| bad(format!("`{name}` must be an array of strings")))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(bad(format!("`{name}` must be an array of strings"))),
            }
        };
        let grant_types =
            string_list("grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
        for g in &grant_types {
            if !matches!(
                g.as_str(),
                "authorization_code" | "refresh_token" | "client_credentials"
            ) {
                return Err(bad(format!("unsupported grant type `{g}`")));
            }
        }
        let needs_redirect = grant_types.iter().any(|g| g == "authorization_code");
        if let Some(rt) = string_list("response_types")? {
            let ok = if needs_redirect {
                rt == ["code"]
            } else {
                rt.is_empty()
            };
            if !ok {
                return Err(bad("response_types must be [\"code\"]".into()));
            }
        }
        let redirect_uris = string_list("redirect_uris")?.unwrap_or_default();
        if needs_redirect && redirect_uris.is_empty() {
            return Err(err(
                "invalid_redirect_uri",
                "redirect_uris is required for authorization_code",
            ));
        }
        for uri in &redirect_uris {
            validate_redirect_uri(uri).map_err(|d| err("invalid_redirect_uri", d))?;
        }
        let method = match meta.get("token_endpoint_auth_method") {
            None => "client_secret_basic",
            Some(Value::String(m)) => m.as_str(),
            Some(_) => {
                return Err(bad("token_endpoint_auth_method must be a string".into()));
            }
        };
        if meta.contains_key("jwks_uri") {
            return Err(bad(
                "jwks_uri is not supported by the sandbox; register `jwks` inline".into(),
            ));
        }
        let auth = match method {
            "none" => StoredAuth::None,
            "client_secret_basic" => StoredAuth::Secret(random_token(32)?),
            "private_key_jwt" => {
                let jwks = meta
                    .get("jwks")
                    .ok_or_else(|| bad("private_key_jwt requires `jwks`".into()))?;
                StoredAuth::Keys(jose::parse_jwks(jwks).map_err(bad)?)
            }
            other => {
                return Err(bad(format!(
                    "token_endpoint_auth_method `{other}` is not supported"
                )));
            }
        };
        if method != "private_key_jwt" && meta.contains_key("jwks") {
            return Err(bad("`jwks` is only used with private_key_jwt".into()));
        }
        if grant_types.iter().any(|g| g == "client_credentials")
            && !matches!(auth, StoredAuth::Keys(_))
        {
            return Err(bad("client_credentials requires private_key_jwt".into()));
        }
        let scope = match meta.get("scope") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(bad("`scope` must be a string".into())),
        };
        let client_id = random_token(16)?;
        let record = ClientRecord {
            client_id: client_id.clone(),
            auth: auth.clone(),
            redirect_uris,
            grant_types: grant_types
                .iter()
                .filter(|g| *g != "refresh_token")
                .cloned()
                .collect(),
            scope: split_scope(&scope),
        };
        let now = self.now();
        let mut out = meta.clone();
        out.insert("client_id".into(), client_id.clone().into());
        out.insert("client_id_issued_at".into(), now.into());
        out.insert("token_endpoint_auth_method".into(), method.into());
        out.insert("grant_types".into(), json!(grant_types));
        if let StoredAuth::Secret(s) = &auth {
            out.insert("client_secret".into(), s.clone().into());
            out.insert("client_secret_expires_at".into(), 0.into());
        }
        self.state().clients.insert(client_id, record);
        Ok(Resp::json(201, &Value::Object(out)))
    }
}

/// Helper used by the EHR-launch API: store a context, return its opaque id.
pub(crate) fn new_launch(shared: &Shared, ctx: LaunchContext) -> String {
    let id = random_token(16).unwrap_or_else(|_| {
        // Fall back to a counter-based id; launch ids need not be secret in a sandbox.
        format!("launch-{}", shared.state().launches.len() + 1)
    });
    shared.state().launches.insert(id.clone(), ctx);
    id
}

/// Used by tests of the scope helpers.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_coverage() {
        assert!(scope_covers("system/*.rs", "system/Patient.rs"));
        assert!(scope_covers("system/*.rs", "system/Patient.r"));
        assert!(scope_covers("system/*.read", "system/Observation.rs"));
        assert!(!scope_covers("system/*.rs", "system/Patient.c"));
        assert!(!scope_covers("patient/*.rs", "user/Patient.rs"));
        assert!(!scope_covers("system/Patient.rs", "system/Observation.rs"));
        assert!(scope_covers("offline_access", "offline_access"));
        assert!(!scope_covers("launch", "launch/patient"));
    }

    #[test]
    fn scope_syntax() {
        assert!(parse_resource_scope("patient/Observation.rs?category=laboratory").is_some());
        assert!(parse_resource_scope("patient/*.cruds").is_some());
        assert!(parse_resource_scope("patient/*.read").is_some());
        assert!(parse_resource_scope("patient/*.sr").is_none());
        assert!(parse_resource_scope("patient/*.").is_none());
        assert!(parse_resource_scope("admin/*.rs").is_none());
        assert!(parse_resource_scope("patient/observation.rs").is_none());
    }

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
    }

    #[test]
    fn redirect_uri_rules() {
        assert!(validate_redirect_uri("https://app.example/cb").is_ok());
        assert!(validate_redirect_uri("http://127.0.0.1:8080/cb").is_ok());
        assert!(validate_redirect_uri("http://localhost/cb").is_ok());
        assert!(validate_redirect_uri("http://[::1]/cb").is_ok());
        assert!(validate_redirect_uri("http://app.example/cb").is_err());
        assert!(validate_redirect_uri("https://app.example/cb#frag").is_err());
        assert!(validate_redirect_uri("not a url").is_err());
    }
}
