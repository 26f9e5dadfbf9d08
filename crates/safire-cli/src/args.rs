//! The command line as clap types: every command, its flags and their help. No behaviour:
//! `main.rs` dispatches and `commands/` runs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The default scopes of `safire launch`.
pub(crate) const DEFAULT_LAUNCH_SCOPES: &str = "launch/patient openid fhirUser patient/*.rs";

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
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Args, Debug)]
pub(crate) struct GlobalArgs {
    /// Allow plain http, to loopback hosts only (localhost, 127.0.0.0/8, ::1): for development
    /// servers such as safire-sandbox
    #[arg(long, global = true)]
    pub(crate) insecure_localhost: bool,
    /// Also trust this PEM root certificate (e.g. a test EHR's private CA)
    #[arg(long, global = true, value_name = "PEM")]
    pub(crate) ca_cert: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
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
pub(crate) struct DiscoverArgs {
    /// The FHIR base URL
    pub(crate) fhir_base: String,
    /// Print the parsed SMART configuration as JSON instead of the report
    #[arg(long)]
    pub(crate) json: bool,
    /// Exit non-zero when a compliance finding is an error
    #[arg(long)]
    pub(crate) strict: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthKind {
    /// No client authentication (token_endpoint_auth_method none)
    Public,
    /// A client secret issued by the server (client_secret_basic)
    Symmetric,
    /// A key pair: the JWKS of --key is registered (private_key_jwt)
    Asymmetric,
}

#[derive(Args, Debug)]
pub(crate) struct RegisterArgs {
    /// The FHIR base URL
    pub(crate) fhir_base: String,
    /// How the client authenticates [default: asymmetric with --key or --backend, else public]
    #[arg(long, value_enum)]
    pub(crate) auth: Option<AuthKind>,
    /// Register a backend service (client_credentials) instead of an app (authorization_code)
    #[arg(long)]
    pub(crate) backend: bool,
    /// Private key whose public JWKS is registered (asymmetric)
    #[arg(long, value_name = "PEM")]
    pub(crate) key: Option<PathBuf>,
    /// Key id to register [default: the key's RFC 7638 thumbprint]
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) kid: Option<String>,
    /// Redirect URI of an app (repeatable), e.g. http://127.0.0.1:8765/callback
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub(crate) redirect_uris: Vec<String>,
    /// Scopes to register (space-separated or repeated)
    #[arg(long = "scope", value_name = "SCOPES")]
    pub(crate) scopes: Vec<String>,
    /// client_name
    #[arg(long, default_value = "safire-cli")]
    pub(crate) name: String,
    /// Registration endpoint to use instead of the discovered one
    #[arg(long, value_name = "URL")]
    pub(crate) endpoint: Option<String>,
    /// RFC 7591 initial access token (better from the environment than from argv)
    #[arg(
        long,
        env = "SAFIRE_INITIAL_ACCESS_TOKEN",
        hide_env_values = true,
        allow_hyphen_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) initial_access_token: Option<String>,
    /// Write the registration (client id, and any client secret) to this file, 0600
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Print the client secret and registration access token
    #[arg(long)]
    pub(crate) show_secrets: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum TokenCommand {
    /// SMART Backend Services: client_credentials with a private_key_jwt assertion
    Backend(BackendArgs),
}

#[derive(Args, Debug)]
pub(crate) struct BackendArgs {
    /// The FHIR base URL
    pub(crate) fhir_base: String,
    /// The registered client id
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) client_id: String,
    /// The client's private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC P-384)
    #[arg(long, value_name = "PEM")]
    pub(crate) key: PathBuf,
    /// Key id registered for the key [default: the key's RFC 7638 thumbprint]
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) kid: Option<String>,
    /// Scopes to request (space-separated or repeated), e.g. 'system/Patient.rs'
    #[arg(long = "scope", value_name = "SCOPES")]
    pub(crate) scopes: Vec<String>,
    /// Also print the access token
    #[arg(long)]
    pub(crate) show_token: bool,
}

#[derive(Args, Debug)]
pub(crate) struct LaunchArgs {
    /// The FHIR base URL
    pub(crate) fhir_base: String,
    /// The registered client id (a public client)
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) client_id: String,
    /// Scopes to request (space-separated or repeated)
    #[arg(long = "scope", value_name = "SCOPES", default_value = DEFAULT_LAUNCH_SCOPES)]
    pub(crate) scopes: Vec<String>,
    /// Print the authorization URL instead of opening the system browser
    #[arg(long)]
    pub(crate) no_browser: bool,
    /// Port of the loopback redirect listener on 127.0.0.1 [default: any free port]
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub(crate) port: u16,
    /// Seconds to wait for the browser to come back
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub(crate) timeout: u64,
    /// Save the tokens to this file (0600) for `safire refresh`
    #[arg(long, value_name = "FILE")]
    pub(crate) save: Option<PathBuf>,
    /// Also print the access, refresh and id tokens
    #[arg(long)]
    pub(crate) show_token: bool,
}

#[derive(Args, Debug)]
pub(crate) struct RefreshArgs {
    /// Token file written by `safire launch --save`
    pub(crate) token_file: PathBuf,
    /// Narrower scopes to request (space-separated or repeated)
    #[arg(long = "scope", value_name = "SCOPES")]
    pub(crate) scopes: Vec<String>,
    /// Also print the new tokens
    #[arg(long)]
    pub(crate) show_token: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Which {
    /// The access token
    Access,
    /// The refresh token
    Refresh,
}

/// Where the token comes from. Never argv: it would be in shell history and `ps`.
#[derive(Args, Debug)]
pub(crate) struct TokenSourceArgs {
    /// Token file written by `safire launch --save`
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "token",
        conflicts_with = "token"
    )]
    pub(crate) token_file: Option<PathBuf>,
    /// `-` reads the token from standard input (one line), keeping it out of shell history
    #[arg(long, value_name = "-", allow_hyphen_values = true)]
    pub(crate) token: Option<String>,
    /// Which token of the file; also sent as token_type_hint (with --token too)
    #[arg(long, value_enum)]
    pub(crate) which: Option<Which>,
}

/// How the calling client authenticates.
#[derive(Args, Debug)]
pub(crate) struct EndpointAuthArgs {
    /// client_secret_basic: the client secret (better from the environment than from argv)
    #[arg(
        long,
        env = "SAFIRE_CLIENT_SECRET",
        hide_env_values = true,
        allow_hyphen_values = true,
        value_name = "SECRET"
    )]
    pub(crate) client_secret: Option<String>,
    /// private_key_jwt: the client's private key (PEM)
    #[arg(long, value_name = "PEM")]
    pub(crate) key: Option<PathBuf>,
    /// Key id registered for --key [default: the key's RFC 7638 thumbprint]
    #[arg(long, allow_hyphen_values = true, requires = "key")]
    pub(crate) kid: Option<String>,
}

#[derive(Args, Debug)]
pub(crate) struct IntrospectArgs {
    /// The FHIR base URL
    pub(crate) fhir_base: String,
    /// The introspecting client (a confidential client, e.g. a resource server)
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) client_id: String,
    #[command(flatten)]
    pub(crate) auth: EndpointAuthArgs,
    #[command(flatten)]
    pub(crate) source: TokenSourceArgs,
}

#[derive(Args, Debug)]
pub(crate) struct RevokeArgs {
    /// The FHIR base URL
    pub(crate) fhir_base: String,
    /// The client the token was issued to [default: the token file's]
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) client_id: Option<String>,
    #[command(flatten)]
    pub(crate) auth: EndpointAuthArgs,
    #[command(flatten)]
    pub(crate) source: TokenSourceArgs,
}

#[derive(Args, Debug)]
pub(crate) struct JwksArgs {
    /// The private key (PEM)
    pub(crate) key: PathBuf,
    /// Key id [default: the key's RFC 7638 thumbprint]
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) kid: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alg {
    /// ECDSA P-384
    #[value(name = "ES384")]
    Es384,
    /// RSA PKCS#1 v1.5 with SHA-384
    #[value(name = "RS384")]
    Rs384,
}

#[derive(Args, Debug)]
pub(crate) struct KeygenArgs {
    /// Key algorithm
    #[arg(long, value_enum, ignore_case = true)]
    pub(crate) alg: Alg,
    /// Where to write the private key (PKCS#8 PEM, 0600)
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// RSA modulus size (RS384 only; 2048 to 8192)
    #[arg(long, default_value_t = 3072)]
    pub(crate) bits: usize,
    /// Replace an existing file
    #[arg(long)]
    pub(crate) force: bool,
}
