//! `safire`: SMART on FHIR from the command line, on Safire's blocking client.
//!
//! See the crate README for every command. Module map: `main.rs` parses arguments and runs
//! commands, `flows.rs` is the only module that calls the library, `output.rs` formats,
//! `files.rs` reads and writes (secret files 0600), `loopback.rs` is the RFC 8252 redirect
//! listener, `progress.rs` the stderr spinner, `thumbprint.rs` the default `kid`.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod files;
mod flows;
mod loopback;
mod output;
mod progress;
mod thumbprint;

use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::files::{TOKEN_FILE_VERSION, TokenFile};
use crate::flows::{
    EndpointAuth, KeyAlgorithm, PrivateKey, Registration, RegistrationAuth, SecretString, Server,
    TokenKind,
};
use crate::loopback::Loopback;
use crate::progress::with_spinner;

/// The default scopes of `safire launch`.
const DEFAULT_LAUNCH_SCOPES: &str = "launch/patient openid fhirUser patient/*.rs";

#[derive(Parser, Debug)]
#[command(
    name = "safire",
    version,
    about = "SMART on FHIR from the command line: discovery, registration, tokens, launches",
    after_help = "Examples:\n  \
        safire discover https://ehr.example/fhir\n  \
        safire keygen --alg ES384 --out key.pem\n  \
        safire register https://ehr.example/fhir --backend --key key.pem --scope 'system/*.rs' --out client.json\n  \
        safire token backend https://ehr.example/fhir --client-id ID --key key.pem --scope 'system/Patient.rs'\n  \
        safire launch https://ehr.example/fhir --client-id ID --scope 'launch/patient patient/*.rs offline_access' --save token.json\n  \
        safire refresh token.json\n  \
        safire introspect https://ehr.example/fhir --client-id RS --key rs.pem --token-file token.json\n  \
        safire revoke https://ehr.example/fhir --token-file token.json\n\n\
        Secrets (tokens, client secrets) are never printed unless asked; files holding them are written 0600."
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct GlobalArgs {
    /// Allow plain http, to loopback hosts only (localhost, 127.0.0.0/8, ::1): for development
    /// servers such as safire-sandbox
    #[arg(long, global = true)]
    insecure_localhost: bool,
    /// Also trust this PEM root certificate (e.g. a test EHR's private CA)
    #[arg(long, global = true, value_name = "PEM")]
    ca_cert: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Fetch {fhir-base}/.well-known/smart-configuration: endpoints, capabilities, compliance
    Discover(DiscoverArgs),
    /// Register a client dynamically (RFC 7591): public, symmetric or asymmetric
    Register(RegisterArgs),
    /// Get a token without a user
    #[command(subcommand)]
    Token(TokenCommand),
    /// Standalone launch as a native app (RFC 8252): loopback redirect, browser, code exchange
    Launch(LaunchArgs),
    /// Use the refresh token in a file written by `launch --save` (the file is updated)
    Refresh(RefreshArgs),
    /// Ask whether a token is active and what it grants (RFC 7662; a confidential client)
    Introspect(IntrospectArgs),
    /// Revoke a token (RFC 7009); a token file records what was revoked
    Revoke(RevokeArgs),
    /// Print the public JWK Set of a private key (to register it)
    Jwks(JwksArgs),
    /// Generate a new private key file (PKCS#8 PEM, written 0600)
    Keygen(KeygenArgs),
}

#[derive(Args, Debug)]
struct DiscoverArgs {
    /// The FHIR base URL
    fhir_base: String,
    /// Print the parsed SMART configuration as JSON instead of the report
    #[arg(long)]
    json: bool,
    /// Exit non-zero when a compliance finding is an error
    #[arg(long)]
    strict: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum AuthKind {
    /// No client authentication (token_endpoint_auth_method none)
    Public,
    /// A client secret issued by the server (client_secret_basic)
    Symmetric,
    /// A key pair: the JWKS of --key is registered (private_key_jwt)
    Asymmetric,
}

#[derive(Args, Debug)]
struct RegisterArgs {
    /// The FHIR base URL
    fhir_base: String,
    /// How the client authenticates [default: asymmetric with --key or --backend, else public]
    #[arg(long, value_enum)]
    auth: Option<AuthKind>,
    /// Register a backend service (client_credentials) instead of an app (authorization_code)
    #[arg(long)]
    backend: bool,
    /// Private key whose public JWKS is registered (asymmetric)
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// Key id to register [default: the key's RFC 7638 thumbprint]
    #[arg(long, allow_hyphen_values = true)]
    kid: Option<String>,
    /// Redirect URI of an app (repeatable), e.g. http://127.0.0.1:8765/callback
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Scopes to register (space-separated or repeated)
    #[arg(long = "scope", value_name = "SCOPES")]
    scopes: Vec<String>,
    /// client_name
    #[arg(long, default_value = "safire-cli")]
    name: String,
    /// Registration endpoint to use instead of the discovered one
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// RFC 7591 initial access token (better from the environment than from argv)
    #[arg(
        long,
        env = "SAFIRE_INITIAL_ACCESS_TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true,
        value_name = "TOKEN"
    )]
    initial_access_token: Option<String>,
    /// Write the registration (client id, and any client secret) to this file, 0600
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print the client secret and registration access token
    #[arg(long)]
    show_secrets: bool,
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// SMART Backend Services: client_credentials with a private_key_jwt assertion
    Backend(BackendArgs),
}

#[derive(Args, Debug)]
struct BackendArgs {
    /// The FHIR base URL
    fhir_base: String,
    /// The registered client id
    #[arg(long, allow_hyphen_values = true)]
    client_id: String,
    /// The client's private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC P-384)
    #[arg(long, value_name = "PEM")]
    key: PathBuf,
    /// Key id registered for the key [default: the key's RFC 7638 thumbprint]
    #[arg(long, allow_hyphen_values = true)]
    kid: Option<String>,
    /// Scopes to request (space-separated or repeated), e.g. 'system/Patient.rs'
    #[arg(long = "scope", value_name = "SCOPES")]
    scopes: Vec<String>,
    /// Also print the access token
    #[arg(long)]
    show_token: bool,
}

#[derive(Args, Debug)]
struct LaunchArgs {
    /// The FHIR base URL
    fhir_base: String,
    /// The registered client id (a public client)
    #[arg(long, allow_hyphen_values = true)]
    client_id: String,
    /// Scopes to request (space-separated or repeated)
    #[arg(long = "scope", value_name = "SCOPES", default_value = DEFAULT_LAUNCH_SCOPES)]
    scopes: Vec<String>,
    /// Print the authorization URL instead of opening the system browser
    #[arg(long)]
    no_browser: bool,
    /// Port of the loopback redirect listener on 127.0.0.1 [default: any free port]
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    port: u16,
    /// Seconds to wait for the browser to come back
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    timeout: u64,
    /// Save the tokens to this file (0600) for `safire refresh`
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Also print the access, refresh and id tokens
    #[arg(long)]
    show_token: bool,
}

#[derive(Args, Debug)]
struct RefreshArgs {
    /// Token file written by `safire launch --save`
    token_file: PathBuf,
    /// Narrower scopes to request (space-separated or repeated)
    #[arg(long = "scope", value_name = "SCOPES")]
    scopes: Vec<String>,
    /// Also print the new tokens
    #[arg(long)]
    show_token: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    /// The access token
    Access,
    /// The refresh token
    Refresh,
}

/// Where the token comes from. Never argv: it would be in shell history and `ps`.
#[derive(Args, Debug)]
struct TokenSourceArgs {
    /// Token file written by `safire launch --save`
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "token",
        conflicts_with = "token"
    )]
    token_file: Option<PathBuf>,
    /// `-` reads the token from standard input (one line), keeping it out of shell history
    #[arg(long, value_name = "-", allow_hyphen_values = true)]
    token: Option<String>,
    /// Which token of the file; also sent as token_type_hint (with --token too)
    #[arg(long, value_enum)]
    which: Option<Which>,
}

/// How the calling client authenticates.
#[derive(Args, Debug)]
struct EndpointAuthArgs {
    /// client_secret_basic: the client secret (better from the environment than from argv)
    #[arg(
        long,
        env = "SAFIRE_CLIENT_SECRET",
        hide_env_values = true,
        allow_hyphen_values = true,
        value_name = "SECRET"
    )]
    client_secret: Option<String>,
    /// private_key_jwt: the client's private key (PEM)
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// Key id registered for --key [default: the key's RFC 7638 thumbprint]
    #[arg(long, allow_hyphen_values = true, requires = "key")]
    kid: Option<String>,
}

#[derive(Args, Debug)]
struct IntrospectArgs {
    /// The FHIR base URL
    fhir_base: String,
    /// The introspecting client (a confidential client, e.g. a resource server)
    #[arg(long, allow_hyphen_values = true)]
    client_id: String,
    #[command(flatten)]
    auth: EndpointAuthArgs,
    #[command(flatten)]
    source: TokenSourceArgs,
}

#[derive(Args, Debug)]
struct RevokeArgs {
    /// The FHIR base URL
    fhir_base: String,
    /// The client the token was issued to [default: the token file's]
    #[arg(long, allow_hyphen_values = true)]
    client_id: Option<String>,
    #[command(flatten)]
    auth: EndpointAuthArgs,
    #[command(flatten)]
    source: TokenSourceArgs,
}

#[derive(Args, Debug)]
struct JwksArgs {
    /// The private key (PEM)
    key: PathBuf,
    /// Key id [default: the key's RFC 7638 thumbprint]
    #[arg(long, allow_hyphen_values = true)]
    kid: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Alg {
    /// ECDSA P-384
    #[value(name = "ES384")]
    Es384,
    /// RSA PKCS#1 v1.5 with SHA-384
    #[value(name = "RS384")]
    Rs384,
}

#[derive(Args, Debug)]
struct KeygenArgs {
    /// Key algorithm
    #[arg(long, value_enum, ignore_case = true)]
    alg: Alg,
    /// Where to write the private key (PKCS#8 PEM, 0600)
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// RSA modulus size (RS384 only; 2048 to 8192)
    #[arg(long, default_value_t = 3072)]
    bits: usize,
    /// Replace an existing file
    #[arg(long)]
    force: bool,
}

/// A failure: the library's error verbatim, or a message about files and arguments.
#[derive(Debug)]
pub enum CliError {
    /// From Safire; displayed as the library words it.
    Safire(flows::Error),
    /// Anything else.
    Message(String),
}

impl CliError {
    /// A plain message.
    pub fn msg(message: impl Into<String>) -> Self {
        CliError::Message(message.into())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Safire(e) => e.fmt(f),
            CliError::Message(m) => f.write_str(m),
        }
    }
}

impl From<flows::Error> for CliError {
    fn from(e: flows::Error) -> Self {
        CliError::Safire(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let global = cli.global;
    let ca_cert_pem = match &global.ca_cert {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| CliError::msg(format!("cannot read {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let server = |base: &str| Server {
        base: base.to_owned(),
        insecure_localhost: global.insecure_localhost,
        ca_cert_pem: ca_cert_pem.clone(),
    };
    match cli.command {
        Command::Discover(args) => discover(&server(&args.fhir_base), &args),
        Command::Register(args) => register(&server(&args.fhir_base), args),
        Command::Token(TokenCommand::Backend(args)) => backend(&server(&args.fhir_base), args),
        Command::Launch(args) => launch(&server(&args.fhir_base), args),
        Command::Refresh(args) => refresh(&global, ca_cert_pem.clone(), args),
        Command::Introspect(args) => introspect(&server(&args.fhir_base), args),
        Command::Revoke(args) => revoke(&server(&args.fhir_base), args),
        Command::Jwks(args) => jwks(args),
        Command::Keygen(args) => keygen(args),
    }
}

/// Scopes given space-separated, repeated, or both.
fn split_scopes(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split_whitespace())
        .map(str::to_owned)
        .collect()
}

fn load_key(path: &Path) -> Result<PrivateKey, CliError> {
    let pem = files::read_text(path)?;
    flows::load_key(&pem)
        .map_err(|e| CliError::msg(format!("cannot use the key in {}: {e}", path.display())))
}

/// The given kid, or the key's thumbprint.
fn kid_for(key: &PrivateKey, kid: Option<String>) -> Result<String, CliError> {
    match kid {
        Some(kid) => Ok(kid),
        None => thumbprint::thumbprint(&flows::public_jwk(key)?)
            .ok_or_else(|| CliError::msg("cannot compute a kid for this key; pass --kid")),
    }
}

fn discover(server: &Server, args: &DiscoverArgs) -> Result<(), CliError> {
    let metadata = with_spinner(
        format!("Fetching the SMART configuration of {}", server.base),
        || flows::discover(server),
    )?;
    let findings = flows::compliance_findings(&metadata);
    if args.json {
        let json = serde_json::to_string_pretty(&*metadata)
            .map_err(|e| CliError::msg(format!("cannot encode the configuration: {e}")))?;
        println!("{json}");
    } else {
        print!("{}", output::discovery(&server.base, &metadata, &findings));
    }
    let errors = findings.iter().filter(|f| f.is_error()).count();
    if args.strict && errors > 0 {
        return Err(CliError::msg(format!(
            "the SMART configuration has {errors} compliance error(s)"
        )));
    }
    Ok(())
}

fn register(server: &Server, args: RegisterArgs) -> Result<(), CliError> {
    let auth = args.auth.unwrap_or(if args.key.is_some() || args.backend {
        AuthKind::Asymmetric
    } else {
        AuthKind::Public
    });
    if args.backend && auth != AuthKind::Asymmetric {
        return Err(CliError::msg(
            "a backend service authenticates with a key: use --auth asymmetric --key key.pem",
        ));
    }
    if auth != AuthKind::Asymmetric && (args.key.is_some() || args.kid.is_some()) {
        return Err(CliError::msg("--key and --kid are for --auth asymmetric"));
    }
    if !args.backend && args.redirect_uris.is_empty() {
        return Err(CliError::msg(
            "an app needs at least one --redirect-uri (for `safire launch --port 8765`: \
             http://127.0.0.1:8765/callback); pass --backend for a backend service",
        ));
    }
    let auth = match auth {
        AuthKind::Public => RegistrationAuth::Public,
        AuthKind::Symmetric => RegistrationAuth::Symmetric,
        AuthKind::Asymmetric => {
            let path = args.key.as_deref().ok_or_else(|| {
                CliError::msg(
                    "--auth asymmetric needs --key key.pem (make one with `safire keygen`)",
                )
            })?;
            let key = load_key(path)?;
            let kid = kid_for(&key, args.kid.clone())?;
            let jwk = flows::named_jwk(flows::public_jwk(&key)?, &kid);
            RegistrationAuth::Asymmetric(flows::jwks_of(jwk))
        }
    };
    let scopes = split_scopes(&args.scopes);
    let request = Registration {
        name: args.name,
        auth,
        backend: args.backend,
        redirect_uris: args.redirect_uris,
        scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
        endpoint: args.endpoint,
        initial_access_token: args.initial_access_token,
    };
    let client = with_spinner("Registering the client", || {
        flows::register(server, request)
    })?;
    if let Some(out) = &args.out {
        files::write_secret_json(out, &client, true)?;
    }
    println!("Registered client {}", client.client_id);
    print!("{}", output::registration(&client, args.show_secrets));
    match &args.out {
        Some(out) => println!("Registration written to {} (mode 0600)", out.display()),
        None if client.client_secret.is_some() && !args.show_secrets => eprintln!(
            "warning: the server issued a client secret that was neither saved nor shown; \
             pass --out FILE next time"
        ),
        None => {}
    }
    Ok(())
}

fn backend(server: &Server, args: BackendArgs) -> Result<(), CliError> {
    let key = load_key(&args.key)?;
    let kid = kid_for(&key, args.kid)?;
    let token = with_spinner("Requesting a backend services token", || {
        flows::backend_token(
            server,
            &args.client_id,
            key,
            &kid,
            split_scopes(&args.scopes),
        )
    })?;
    println!("Backend services token for {}", args.client_id);
    print!("{}", output::token(&token, args.show_token));
    Ok(())
}

fn launch(server: &Server, args: LaunchArgs) -> Result<(), CliError> {
    let loopback = Loopback::bind(args.port)?;
    let redirect_uri = loopback.redirect_uri();
    let launch = with_spinner("Discovering the authorization endpoint", || {
        flows::start_launch(
            server,
            &args.client_id,
            &redirect_uri,
            split_scopes(&args.scopes),
        )
    })?;
    // Listening before the browser opens, so an instant redirect finds the listener ready.
    let listening = loopback.listen();
    println!("Redirect URI: {redirect_uri}");
    if args.no_browser {
        println!("Open this URL in a browser to sign in:");
        println!("{}", launch.url);
    } else {
        println!("Opening the system browser. If it does not open, visit:");
        println!("{}", launch.url);
        if let Err(e) = loopback::open_browser(&launch.url) {
            eprintln!("warning: could not open the browser ({e}); open the URL above");
        }
    }
    let timeout = Duration::from_secs(args.timeout);
    let callback = with_spinner(
        format!("Waiting for the browser to return to {redirect_uri}"),
        || listening.wait(timeout),
    )?;
    let token = match with_spinner("Exchanging the authorization code", || {
        launch.finish(&callback.url)
    }) {
        Ok(token) => {
            callback.answer(true, "You can close this tab and return to the terminal.");
            token
        }
        Err(e) => {
            callback.answer(false, &e.to_string());
            return Err(e.into());
        }
    };
    if let Some(path) = &args.save {
        let file = TokenFile {
            version: TOKEN_FILE_VERSION,
            fhir_base_url: server.base.clone(),
            client_id: args.client_id.clone(),
            token: token.clone(),
            revoked: Vec::new(),
        };
        files::write_secret_json(path, &file, true)?;
    }
    println!("Launched as {}", args.client_id);
    print!("{}", output::token(&token, args.show_token));
    match &args.save {
        Some(path) => println!("Tokens saved to {} (mode 0600)", path.display()),
        None if token.refresh_token.is_some() => {
            println!("A refresh token was issued; pass --save FILE to keep it for `safire refresh`")
        }
        None => {}
    }
    Ok(())
}

fn refresh(
    global: &GlobalArgs,
    ca_cert_pem: Option<Vec<u8>>,
    args: RefreshArgs,
) -> Result<(), CliError> {
    let mut file = files::read_token_file(&args.token_file)?;
    if file.is_revoked(REFRESH_TOKEN) {
        return Err(CliError::msg(format!(
            "the refresh token in {} was revoked (`safire revoke`); launch again",
            args.token_file.display()
        )));
    }
    let refresh_token = file.token.refresh_token.clone().ok_or_else(|| {
        CliError::msg(format!(
            "{} holds no refresh token; launch with the offline_access (or online_access) scope",
            args.token_file.display()
        ))
    })?;
    let server = Server {
        base: file.fhir_base_url.clone(),
        insecure_localhost: global.insecure_localhost,
        ca_cert_pem,
    };
    let token = with_spinner("Refreshing the token", || {
        flows::refresh(
            &server,
            &file.client_id,
            &refresh_token,
            split_scopes(&args.scopes),
        )
    })?;
    println!("Refreshed the token of {}", file.client_id);
    print!("{}", output::token(&token, args.show_token));
    // RFC 6749 §6: without a new refresh token the old one stays valid; with one (rotation),
    // the old one must be discarded.
    let mut saved = token;
    if saved.refresh_token.is_none() {
        saved.refresh_token = Some(refresh_token);
    }
    file.token = saved;
    file.revoked.clear();
    files::write_secret_json(&args.token_file, &file, true)?;
    println!("Tokens saved to {} (mode 0600)", args.token_file.display());
    Ok(())
}

/// The names a token file uses for its two tokens (also the `token_type_hint` values).
const ACCESS_TOKEN: &str = "access_token";
const REFRESH_TOKEN: &str = "refresh_token";

/// A token to introspect or revoke, and where it came from.
struct SourcedToken {
    token: SecretString,
    kind: Option<TokenKind>,
    /// The token file and its contents, when the token came from one.
    file: Option<(PathBuf, TokenFile)>,
}

impl SourcedToken {
    /// `the refresh token from token.json`, `the token from standard input`.
    fn describe(&self) -> String {
        let what = match self.kind {
            Some(TokenKind::Access) => "the access token",
            Some(TokenKind::Refresh) => "the refresh token",
            None => "the token",
        };
        match &self.file {
            Some((path, _)) => format!("{what} from {}", path.display()),
            None => format!("{what} from standard input"),
        }
    }
}

/// Reads the token from a token file (checking it came from `base`) or from stdin.
/// `default` picks the token of a file when `--which` is not given.
fn read_token(
    base: &str,
    args: &TokenSourceArgs,
    default: impl FnOnce(&TokenFile) -> TokenKind,
) -> Result<SourcedToken, CliError> {
    let kind = args.which.map(|which| match which {
        Which::Access => TokenKind::Access,
        Which::Refresh => TokenKind::Refresh,
    });
    if let Some(path) = &args.token_file {
        let file = files::read_token_file(path)?;
        // A token goes back only to the server that issued it.
        if file.fhir_base_url.trim_end_matches('/') != base.trim_end_matches('/') {
            return Err(CliError::msg(format!(
                "{} holds a token from {}, not from {base}",
                path.display(),
                file.fhir_base_url
            )));
        }
        let kind = kind.unwrap_or_else(|| default(&file));
        let token = match kind {
            TokenKind::Access => file.token.access_token.clone(),
            TokenKind::Refresh => file.token.refresh_token.clone().ok_or_else(|| {
                CliError::msg(format!("{} holds no refresh token", path.display()))
            })?,
        };
        return Ok(SourcedToken {
            token,
            kind: Some(kind),
            file: Some((path.clone(), file)),
        });
    }
    match args.token.as_deref() {
        // Never echo the value: it is most likely a token typed on the command line.
        Some("-") => Ok(SourcedToken {
            token: {
                let stdin = std::io::stdin();
                let prompt = stdin.is_terminal();
                files::read_secret_line(&mut stdin.lock(), prompt, "token")?
            },
            kind,
            file: None,
        }),
        Some(_) => Err(CliError::msg(
            "--token takes only `-` (the token on standard input), so the token stays out of \
             shell history and `ps`; or pass --token-file",
        )),
        None => Err(CliError::msg("pass --token-file FILE or --token -")),
    }
}

/// The calling client's authentication from `--client-secret` / `--key [--kid]`.
fn endpoint_auth(args: EndpointAuthArgs) -> Result<EndpointAuth, CliError> {
    match (args.client_secret, &args.key) {
        (Some(_), Some(_)) => Err(CliError::msg(
            "pass either --client-secret (or SAFIRE_CLIENT_SECRET) or --key, not both",
        )),
        (Some(secret), None) => Ok(EndpointAuth::Secret(SecretString::new(secret))),
        (None, Some(path)) => {
            let key = load_key(path)?;
            let kid = kid_for(&key, args.kid)?;
            Ok(EndpointAuth::Key(Box::new(key), kid))
        }
        (None, None) => Ok(EndpointAuth::Public),
    }
}

fn introspect(server: &Server, args: IntrospectArgs) -> Result<(), CliError> {
    let auth = endpoint_auth(args.auth)?;
    if matches!(auth, EndpointAuth::Public) {
        return Err(CliError::msg(
            "introspection needs a confidential client: pass --client-secret (or \
             SAFIRE_CLIENT_SECRET) or --key key.pem",
        ));
    }
    let source = read_token(&server.base, &args.source, |_| TokenKind::Access)?;
    let answer = with_spinner("Introspecting the token", || {
        flows::introspect(server, &args.client_id, auth, &source.token, source.kind)
    })?;
    println!("Introspection of {}", source.describe());
    print!(
        "{}",
        output::introspection(&answer, std::time::SystemTime::now())
    );
    Ok(())
}

fn revoke(server: &Server, args: RevokeArgs) -> Result<(), CliError> {
    let auth = endpoint_auth(args.auth)?;
    // Logging out means ending the grant: the refresh token when there is one.
    let source = read_token(&server.base, &args.source, |file| {
        if file.token.refresh_token.is_some() {
            TokenKind::Refresh
        } else {
            TokenKind::Access
        }
    })?;
    let client_id = match (&args.client_id, &source.file) {
        (Some(id), _) => id.clone(),
        (None, Some((_, file))) => file.client_id.clone(),
        (None, None) => {
            return Err(CliError::msg(
                "pass --client-id (the client the token was issued to)",
            ));
        }
    };
    with_spinner("Revoking the token", || {
        flows::revoke(server, &client_id, auth, &source.token, source.kind)
    })?;
    println!("Revoked {} (client {client_id})", source.describe());
    if let Some((path, mut file)) = source.file {
        let name = match source.kind {
            Some(TokenKind::Refresh) => REFRESH_TOKEN,
            _ => ACCESS_TOKEN,
        };
        file.mark_revoked(name);
        files::write_secret_json(&path, &file, true)?;
        println!(
            "Marked the {name} revoked in {} (mode 0600)",
            path.display()
        );
    }
    Ok(())
}

fn jwks(args: JwksArgs) -> Result<(), CliError> {
    let key = load_key(&args.key)?;
    let kid = kid_for(&key, args.kid)?;
    let jwks = flows::jwks_of(flows::named_jwk(flows::public_jwk(&key)?, &kid));
    let json = serde_json::to_string_pretty(&jwks)
        .map_err(|e| CliError::msg(format!("cannot encode the JWKS: {e}")))?;
    println!("{json}");
    Ok(())
}

fn keygen(args: KeygenArgs) -> Result<(), CliError> {
    if !args.force && args.out.exists() {
        return Err(CliError::msg(format!(
            "{} already exists; pass --force to replace it",
            args.out.display()
        )));
    }
    let algorithm = match args.alg {
        Alg::Es384 => KeyAlgorithm::Es384,
        Alg::Rs384 => KeyAlgorithm::Rs384 { bits: args.bits },
    };
    let key = with_spinner("Generating the key", || flows::generate_key(algorithm))?;
    let pem = flows::key_to_pem(&key)?;
    files::write_secret(&args.out, flows::expose(&pem).as_bytes(), args.force)?;
    let kid = kid_for(&key, None)?;
    println!(
        "Wrote a new {} private key to {} (mode 0600)",
        flows::key_algorithm(&key),
        args.out.display()
    );
    println!("kid (RFC 7638 thumbprint): {kid}");
    println!(
        "Public JWKS for registration: safire jwks {}",
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn scopes_split_on_whitespace_and_repeat() {
        let given = ["a b".to_owned(), " c ".to_owned()];
        assert_eq!(split_scopes(&given), ["a", "b", "c"]);
    }
}
