//! The `safire` binary against an in-process safire-sandbox.
//!
//! The sandbox sits behind a recording TCP proxy (its advertised base URL is the proxy's), so
//! the tests know every token and secret the server sent and can check that none of them
//! reaches the terminal unless asked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use safire_sandbox::{ClientRegistration, Endpoint, Fault, LaunchContext, Sandbox, SandboxBuilder};
use safire_ureq::safire_core::{ClientConfig, url};

const SAFIRE: &str = env!("CARGO_BIN_EXE_safire");

/// A sandbox reached through a proxy that records what the server sent.
struct Env {
    sandbox: Sandbox,
    base: String,
    from_server: Arc<Mutex<Vec<u8>>>,
    dir: tempfile::TempDir,
}

impl Env {
    fn new(builder: SandboxBuilder) -> Env {
        let proxy = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let base = format!("http://{}/fhir", proxy.local_addr().unwrap());
        let sandbox = builder.public_base_url(&base).start().unwrap();
        let upstream = sandbox.local_addr();
        let from_server = Arc::new(Mutex::new(Vec::new()));
        let record = from_server.clone();
        std::thread::spawn(move || {
            for client in proxy.incoming() {
                let Ok(mut client) = client else { continue };
                let record = record.clone();
                std::thread::spawn(move || {
                    let mut server = TcpStream::connect(upstream).unwrap();
                    let (mut client_in, mut server_out) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut client_in, &mut server_out);
                        let _ = server_out.shutdown(std::net::Shutdown::Write);
                    });
                    let mut buf = [0u8; 8192];
                    loop {
                        let n = match server.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        // Recorded before forwarding: once the CLI has it, so does the test.
                        record.lock().unwrap().extend_from_slice(&buf[..n]);
                        if client.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = client.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Env {
            sandbox,
            base,
            from_server,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Every value of `"name":"…"` the server sent so far.
    fn sent(&self, name: &str) -> Vec<String> {
        let bytes = self.from_server.lock().unwrap().clone();
        let text = String::from_utf8_lossy(&bytes);
        let needle = format!("\"{name}\":\"");
        text.match_indices(&needle)
            .filter_map(|(at, _)| {
                let rest = &text[at + needle.len()..];
                rest.find('"').map(|end| rest[..end].to_owned())
            })
            .collect()
    }

    /// `safire <command…> <base> --insecure-localhost <rest…>`: a command against this sandbox.
    fn args<'a>(&'a self, command: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
        [command, &[self.base.as_str(), "--insecure-localhost"], rest].concat()
    }

    /// `safire token backend` as `client_id` signing with the key in `key`, then `rest`.
    fn backend_token<'a>(
        &'a self,
        client_id: &'a str,
        key: &'a str,
        rest: &[&'a str],
    ) -> Vec<&'a str> {
        let client = ["--client-id", client_id, "--key", key];
        self.args(&["token", "backend"], &[&client[..], rest].concat())
    }

    /// Registers `client_id` as a public app whose redirect URI is the one `launch` listens on.
    fn register_app(&self, client_id: &str, launch: &Launch) {
        self.sandbox
            .register_client(ClientRegistration::public(
                client_id,
                [launch.redirect_uri.clone()],
            ))
            .unwrap();
    }

    /// Writes a pre-registered client's key to a file.
    fn key_file(&self, pem: &str) -> PathBuf {
        let path = self.path("client-key.pem");
        std::fs::write(&path, pem).unwrap();
        path
    }
}

fn safire(args: &[&str]) -> Output {
    Command::new(SAFIRE)
        .args(args)
        .env_remove("SAFIRE_INITIAL_ACCESS_TOKEN")
        .env_remove("SAFIRE_CLIENT_SECRET")
        .output()
        .unwrap()
}

/// Runs `safire` with `input` on its standard input.
fn safire_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(SAFIRE)
        .args(args)
        .env_remove("SAFIRE_INITIAL_ACCESS_TOKEN")
        .env_remove("SAFIRE_CLIENT_SECRET")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A command that fails before reading its input (a bad option, an unreachable server) may
    // exit before this write: a closed pipe is its answer, judged by the output below.
    match stdin.write_all(input.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}\n{}", stderr(o), stdout(o));
    stdout(o)
}

/// Fails with exit status 1 and exactly `error: <message>` on stderr.
#[track_caller]
fn fails_with(o: &Output, message: &str) {
    assert_eq!(o.status.code(), Some(1), "{}", stdout(o));
    assert_eq!(stderr(o), format!("error: {message}\n"));
}

#[track_caller]
fn assert_absent(o: &Output, secrets: &[String]) {
    assert!(!secrets.is_empty(), "no secret to look for");
    for secret in secrets {
        assert!(secret.len() >= 16, "not a secret: {secret}");
        assert!(!stdout(o).contains(secret.as_str()), "secret on stdout");
        assert!(!stderr(o).contains(secret.as_str()), "secret on stderr");
    }
}

#[cfg(unix)]
#[track_caller]
fn assert_owner_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", path.display());
}
#[cfg(not(unix))]
fn assert_owner_only(_: &Path) {}

/// `out` has the row `name value` (the CLI's two columns, the name padded to 29).
#[track_caller]
fn assert_row(out: &str, name: &str, value: &str) {
    let row = format!("{name:<29}{value}\n");
    assert!(out.contains(&row), "no {row:?} in\n{out}");
}

fn json_file(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `safire register --backend` with the key in `key` for `system/*.rs`, saved to `out`.
fn register_backend<'a>(env: &'a Env, key: &'a str, out: &'a Path) -> Vec<&'a str> {
    let rest = [
        "--backend",
        "--key",
        key,
        "--scope",
        "system/*.rs",
        "--out",
        out.to_str().unwrap(),
    ];
    env.args(&["register"], &rest)
}

#[test]
fn help_lists_every_command() {
    let help = ok(&safire(&["--help"]));
    for command in [
        "discover",
        "register",
        "token",
        "launch",
        "refresh",
        "introspect",
        "revoke",
        "jwks",
        "keygen",
    ] {
        assert!(help.contains(command), "{command} missing from\n{help}");
    }
    assert!(ok(&safire(&["token", "--help"])).contains("backend"));
}

#[test]
fn discover_prints_endpoints_capabilities_and_findings() {
    let env = Env::new(Sandbox::builder());
    let out = ok(&safire(&["discover", &env.base, "--insecure-localhost"]));
    assert!(
        out.contains(&format!("token_endpoint               {}/token", env.base)),
        "{out}"
    );
    assert!(out.contains(&format!(
        "registration_endpoint        {}/register",
        env.base
    )));
    assert!(out.contains("\n  launch-standalone\n"), "{out}");
    assert!(out.contains("backend services             yes"), "{out}");
    assert!(out.contains("OpenID Connect               yes"), "{out}");
    // http on loopback is reported, not hidden.
    assert!(out.contains("Compliance findings ("), "{out}");
    let findings = out.split("Compliance findings").nth(1).unwrap();
    assert!(findings.contains("warning"), "{out}");

    let json = ok(&safire(&env.args(&["discover"], &["--json"])));
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["token_endpoint"], format!("{}/token", env.base));
    assert!(
        doc["capabilities"]
            .as_array()
            .unwrap()
            .contains(&"client-public".into())
    );
}

#[test]
fn discover_fails_with_the_library_message() {
    let env = Env::new(Sandbox::builder());
    // Without the opt-in, http is refused before any request.
    let expected = ClientConfig::builder(&env.base)
        .build()
        .unwrap_err()
        .to_string();
    assert!(expected.contains("HTTPS"), "{expected}");
    fails_with(&safire(&["discover", &env.base]), &expected);
    assert_eq!(env.sandbox.requests(Endpoint::SmartConfiguration), 0);

    env.sandbox
        .faults()
        .fail_next(Endpoint::SmartConfiguration, 1, Fault::MalformedJson);
    let o = safire(&["discover", &env.base, "--insecure-localhost"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    assert!(stdout(&o).is_empty());
}

#[test]
fn discover_strict_passes_a_document_with_only_warnings() {
    let env = Env::new(Sandbox::builder());
    // The sandbox's document has warnings (http on loopback) but no errors.
    ok(&safire(&env.args(&["discover"], &["--strict"])));
}

#[test]
fn keygen_and_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let key_arg = key.to_str().unwrap();
    let out = ok(&safire(&["keygen", "--alg", "ES384", "--out", key_arg]));
    assert_owner_only(&key);
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(
        !out.contains(pem.lines().nth(1).unwrap()),
        "key material printed"
    );
    let kid = out
        .lines()
        .find_map(|l| l.strip_prefix("kid (RFC 7638 thumbprint): "))
        .unwrap()
        .to_owned();

    let jwks: serde_json::Value = serde_json::from_str(&ok(&safire(&["jwks", key_arg]))).unwrap();
    let jwk = &jwks["keys"][0];
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwk["kid"], kid.as_str());
    assert_eq!(
        (&jwk["kty"], &jwk["crv"], &jwk["alg"]),
        (&"EC".into(), &"P-384".into(), &"ES384".into())
    );
    assert!(jwk.get("d").is_none(), "private part exported");
    let named: serde_json::Value =
        serde_json::from_str(&ok(&safire(&["jwks", key_arg, "--kid", "k-1"]))).unwrap();
    assert_eq!(named["keys"][0]["kid"], "k-1");

    // Failures: an existing file is kept, an unknown algorithm is a usage error, a file that is
    // not a key gets the library's message.
    let o = safire(&["keygen", "--alg", "ES384", "--out", key_arg]);
    fails_with(
        &o,
        &format!(
            "{} already exists; pass --force to replace it",
            key.display()
        ),
    );
    assert_eq!(std::fs::read_to_string(&key).unwrap(), pem);
    assert_eq!(
        safire(&["keygen", "--alg", "HS256", "--out", key_arg])
            .status
            .code(),
        Some(2)
    );
    let public = dir.path().join("public.pem");
    std::fs::write(
        &public,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let expected =
        safire_ureq::safire_core::PrivateKey::from_pem(&std::fs::read_to_string(&public).unwrap())
            .unwrap_err();
    fails_with(
        &safire(&["jwks", public.to_str().unwrap()]),
        &format!("cannot use the key in {}: {expected}", public.display()),
    );
}

#[test]
fn register_public_symmetric_and_asymmetric_clients() {
    let env = Env::new(Sandbox::builder());
    let out_file = env.path("public.json");
    let out = ok(&safire(&env.args(
        &["register"],
        &[
            "--redirect-uri",
            "http://127.0.0.1:8765/callback",
            "--scope",
            "launch/patient patient/*.rs",
            "--out",
            out_file.to_str().unwrap(),
        ],
    )));
    let saved = json_file(&out_file);
    let client_id = saved["client_id"].as_str().unwrap();
    assert!(
        out.starts_with(&format!("Registered client {client_id}\n")),
        "{out}"
    );
    assert_eq!(saved["token_endpoint_auth_method"], "none");
    assert_eq!(saved["redirect_uris"][0], "http://127.0.0.1:8765/callback");
    assert_owner_only(&out_file);

    // Symmetric: the secret goes to the file, not the terminal.
    let out_file = env.path("symmetric.json");
    let symmetric = env.args(
        &["register"],
        &[
            "--auth",
            "symmetric",
            "--redirect-uri",
            "https://app.example/cb",
        ],
    );
    let o = safire(&[&symmetric[..], &["--out", out_file.to_str().unwrap()]].concat());
    ok(&o);
    let secrets = env.sent("client_secret");
    assert_eq!(secrets.len(), 1);
    assert_eq!(json_file(&out_file)["client_secret"], secrets[0].as_str());
    assert_absent(&o, &secrets);
    assert!(stdout(&o).contains("[hidden; pass --show-secrets]"));
    let shown = ok(&safire(&[&symmetric[..], &["--show-secrets"]].concat()));
    assert!(shown.contains(env.sent("client_secret").last().unwrap().as_str()));

    // Asymmetric backend service with a generated key, then a token with it (same default kid).
    let key = env.path("backend.pem");
    ok(&safire(&[
        "keygen",
        "--alg",
        "ES384",
        "--out",
        key.to_str().unwrap(),
    ]));
    let out_file = env.path("backend.json");
    ok(&safire(&register_backend(
        &env,
        key.to_str().unwrap(),
        &out_file,
    )));
    let saved = json_file(&out_file);
    assert_eq!(saved["token_endpoint_auth_method"], "private_key_jwt");
    assert!(saved["jwks"]["keys"][0].get("d").is_none());
    let out = ok(&safire(&env.backend_token(
        saved["client_id"].as_str().unwrap(),
        key.to_str().unwrap(),
        &["--scope", "system/Patient.rs"],
    )));
    assert_row(&out, "scope", "system/Patient.rs");
}

#[test]
fn register_failures() {
    let env = Env::new(Sandbox::builder().initial_access_token("iat-0123456789abcdef"));
    let args = env.args(
        &["register"],
        &["--redirect-uri", "http://127.0.0.1:8765/callback"],
    );
    let o = safire(&args);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    assert!(stderr(&o).contains("401"), "{}", stderr(&o));
    assert_eq!(env.sandbox.requests(Endpoint::Register), 1);

    // From the environment, the token works and is not echoed.
    let o = Command::new(SAFIRE)
        .args(&args)
        .env("SAFIRE_INITIAL_ACCESS_TOKEN", "iat-0123456789abcdef")
        .output()
        .unwrap();
    ok(&o);
    assert_absent(&o, &["iat-0123456789abcdef".to_owned()]);
    let o = safire(
        &[
            &args[..],
            &["--initial-access-token", "iat-0123456789abcdef"],
        ]
        .concat(),
    );
    ok(&o);

    // Caught before any request.
    fails_with(
        &safire(&env.args(&["register"], &[])),
        "an app needs at least one --redirect-uri (for `safire launch --port 8765`: \
         http://127.0.0.1:8765/callback); pass --backend for a backend service",
    );
    fails_with(
        &safire(&env.args(&["register"], &["--backend", "--auth", "public"])),
        "a backend service authenticates with a key: use --auth asymmetric --key key.pem",
    );
    assert_eq!(env.sandbox.requests(Endpoint::Register), 3);
}

#[test]
fn backend_token_shows_scope_and_expiry_and_hides_the_token() {
    let env = Env::new(Sandbox::builder());
    let backend = &env.sandbox.clients().backend;
    let key = env.key_file(backend.private_key_pem.as_deref().unwrap());
    let kid = backend.kid.as_deref().unwrap();
    let args = env.backend_token(
        &backend.client_id,
        key.to_str().unwrap(),
        &["--kid", kid, "--scope", "system/*.rs"],
    );
    let o = safire(&args);
    let out = ok(&o);
    assert_row(&out, "scope", "system/*.rs");
    assert!(
        out.contains("expires                      in 300 s ("),
        "{out}"
    );
    assert_row(&out, "refresh_token", "none");
    assert_absent(&o, &env.sent("access_token"));

    let out = ok(&safire(&[&args[..], &["--show-token"]].concat()));
    let tokens = env.sent("access_token");
    assert_eq!(tokens.len(), 2);
    assert_row(&out, "access_token", &tokens[1]);
}

#[test]
fn backend_token_failures() {
    let env = Env::new(Sandbox::builder());
    let backend = &env.sandbox.clients().backend;
    let key = env.key_file(backend.private_key_pem.as_deref().unwrap());
    let kid = backend.kid.as_deref().unwrap();
    // A scope the client is not registered for: the server's OAuth error, worded by the library.
    let o = safire(&env.backend_token(
        &backend.client_id,
        key.to_str().unwrap(),
        &["--kid", kid, "--scope", "system/*.write"],
    ));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    assert!(stderr(&o).contains("invalid_scope"), "{}", stderr(&o));
    // Wrong kid (the default thumbprint is not what the sandbox registered).
    let o = safire(&env.backend_token(&backend.client_id, key.to_str().unwrap(), &[]));
    assert!(stderr(&o).contains("invalid_client"), "{}", stderr(&o));
    assert_eq!(o.status.code(), Some(1));
}

/// A running `safire launch --no-browser`, its output read line by line.
struct Launch {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    redirect_uri: String,
    authorization_url: String,
}

fn start_launch(env: &Env, client_id: &str, extra: &[&str]) -> Launch {
    let mut command = Command::new(SAFIRE);
    command
        .args(env.args(&["launch"], &["--no-browser", "--client-id", client_id]))
        .args(extra);
    Launch::spawn(command, "Open this URL in a browser to sign in:")
}

/// [`start_launch`], with the app registered for the redirect URI the CLI chose.
fn start_registered_launch(env: &Env, client_id: &str, extra: &[&str]) -> Launch {
    let launch = start_launch(env, client_id, extra);
    env.register_app(client_id, &launch);
    launch
}

impl Launch {
    /// Spawns `command` (a `safire launch`) and reads the redirect URI, the line that
    /// introduces the authorization URL (`intro`), and the URL.
    fn spawn(mut command: Command, intro: &str) -> Launch {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let redirect_uri = first.strip_prefix("Redirect URI: ").unwrap().to_owned();
        assert_eq!(lines.next().unwrap().unwrap(), intro);
        let authorization_url = lines.next().unwrap().unwrap();
        Launch {
            child,
            lines,
            redirect_uri,
            authorization_url,
        }
    }

    /// Approves in the browser (the callback page is a 200) and waits for the CLI.
    fn approve(self) -> Output {
        assert_eq!(self.browse().0, 200);
        self.finish()
    }

    /// Plays the browser: the authorization URL (auto-approved), then the redirect.
    fn browse(&self) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into();
        let response = agent.get(&self.authorization_url).call().unwrap();
        assert_eq!(response.status(), 302);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with(&format!("{}?", self.redirect_uri)),
            "{location}"
        );
        let mut page = agent.get(&location).call().unwrap();
        (
            page.status().as_u16(),
            page.body_mut().read_to_string().unwrap(),
        )
    }

    fn finish(mut self) -> Output {
        let rest: Vec<String> = self.lines.by_ref().map(Result::unwrap).collect();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = self.child.wait().unwrap();
        let mut stdout = rest.join("\n");
        stdout.push('\n');
        Output {
            status,
            stdout: stdout.into_bytes(),
            stderr: stderr.into_bytes(),
        }
    }
}

#[test]
fn launch_end_to_end_then_refresh() {
    let env = Env::new(
        Sandbox::builder().launch_context(
            LaunchContext::new()
                .patient("pat-cli-7")
                .encounter("enc-cli-3")
                .need_patient_banner(true),
        ),
    );
    let save = env.path("token.json");
    let launch = start_launch(
        &env,
        "cli-native-app",
        &[
            "--scope",
            "launch/patient launch/encounter patient/*.rs offline_access",
            "--save",
            save.to_str().unwrap(),
            "--timeout",
            "60",
        ],
    );
    let redirect = url::Url::parse(&launch.redirect_uri).unwrap();
    assert_eq!(
        (redirect.host_str(), redirect.path()),
        (Some("127.0.0.1"), "/callback")
    );
    assert_ne!(redirect.port(), Some(0));
    let auth = url::Url::parse(&launch.authorization_url).unwrap();
    let query: std::collections::HashMap<_, _> = auth.query_pairs().into_owned().collect();
    assert_eq!(query["redirect_uri"], launch.redirect_uri);
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["aud"], env.base);
    // RFC 8252 loopback redirect with an ephemeral port: register exactly what the CLI uses.
    env.register_app("cli-native-app", &launch);

    let (status, page) = launch.browse();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Signed in"), "{page}");
    let o = launch.finish();
    let out = ok(&o);
    assert_row(&out, "patient", "pat-cli-7");
    assert_row(&out, "encounter", "enc-cli-3");
    assert_row(&out, "need_patient_banner", "true");
    assert_row(
        &out,
        "scope",
        "launch/patient launch/encounter patient/*.rs offline_access",
    );
    assert_row(&out, "refresh_token", "issued");
    // No secret on the terminal; all of them in the 0600 file.
    let access = env.sent("access_token");
    let refresh = env.sent("refresh_token");
    assert_eq!((access.len(), refresh.len()), (1, 1));
    assert_absent(&o, &[access.clone(), refresh.clone()].concat());
    assert_owner_only(&save);
    let file = json_file(&save);
    assert_eq!(file["token"]["access_token"], access[0].as_str());
    assert_eq!(file["token"]["refresh_token"], refresh[0].as_str());
    assert_eq!(file["client_id"], "cli-native-app");

    // Refresh: rotated tokens are written back to the file, still 0600 and still off-screen.
    let before = env.path("token-before-refresh.json");
    std::fs::copy(&save, &before).unwrap();
    let o = safire(&["refresh", save.to_str().unwrap(), "--insecure-localhost"]);
    let out = ok(&o);
    assert_row(
        &out,
        "scope",
        "launch/patient launch/encounter patient/*.rs offline_access",
    );
    let (access, refresh) = (env.sent("access_token"), env.sent("refresh_token"));
    assert_eq!((access.len(), refresh.len()), (2, 2));
    assert_absent(&o, &[access.clone(), refresh.clone()].concat());
    assert_owner_only(&save);
    assert_eq!(
        json_file(&save)["token"]["refresh_token"],
        refresh[1].as_str()
    );
    // A narrower scope, shown this time.
    let o = safire(&[
        "refresh",
        save.to_str().unwrap(),
        "--insecure-localhost",
        "--scope",
        "patient/*.rs",
        "--show-token",
    ]);
    let out = ok(&o);
    let access = env.sent("access_token");
    assert_row(&out, "access_token", &access[2]);
    assert_row(&out, "scope", "patient/*.rs");

    // Failure: the rotated-away refresh token is refused (and the sandbox revokes the grant).
    let o = safire(&["refresh", before.to_str().unwrap(), "--insecure-localhost"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    assert!(stderr(&o).contains("invalid_grant"), "{}", stderr(&o));
    assert_absent(&o, &env.sent("refresh_token"));
}

#[test]
fn refresh_needs_a_refresh_token() {
    let env = Env::new(Sandbox::builder());
    let launch = start_registered_launch(
        &env,
        "cli-no-offline",
        &[
            "--scope",
            "launch/patient patient/*.rs",
            "--save",
            env.path("t.json").to_str().unwrap(),
        ],
    );
    let out = ok(&launch.approve());
    assert_row(&out, "refresh_token", "none");
    let path = env.path("t.json");
    fails_with(
        &safire(&["refresh", path.to_str().unwrap(), "--insecure-localhost"]),
        &format!(
            "{} holds no refresh token; launch with the offline_access (or online_access) scope",
            path.display()
        ),
    );
}

#[test]
fn launch_denied_by_the_user_fails_with_the_library_message() {
    let env = Env::new(Sandbox::builder().deny_authorization(true));
    let launch = start_registered_launch(&env, "cli-denied", &[]);
    let (status, page) = launch.browse();
    assert_eq!(status, 400);
    assert!(page.contains("Sign-in failed"), "{page}");
    let o = launch.finish();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: ") && err.contains("access_denied"),
        "{err}"
    );
    // The page shows the same message as the terminal.
    let message = err.trim_end().strip_prefix("error: ").unwrap();
    assert!(!message.contains('<'));
    assert!(page.contains(message), "{page}");
    assert_eq!(env.sandbox.requests(Endpoint::Token), 0);
}

#[test]
fn launch_gives_up_after_the_timeout() {
    let env = Env::new(Sandbox::builder());
    let launch = start_launch(&env, "cli-slow", &["--timeout", "1"]);
    let redirect_uri = launch.redirect_uri.clone();
    let o = launch.finish();
    fails_with(
        &o,
        &format!(
            "no authorization response reached {redirect_uri} within 1 s \
             (raise --timeout, or check that the server accepts this redirect URI)"
        ),
    );
}

#[test]
fn rs384_key_from_keygen_registers_and_gets_a_backend_token() {
    let env = Env::new(Sandbox::builder());
    let key = env.path("rs.pem");
    let key_arg = key.to_str().unwrap();
    let out = ok(&safire(&[
        "keygen", "--alg", "rs384", "--bits", "2048", "--out", key_arg,
    ]));
    assert!(out.starts_with("Wrote a new RS384 private key"), "{out}");
    assert_owner_only(&key);
    let jwks: serde_json::Value = serde_json::from_str(&ok(&safire(&["jwks", key_arg]))).unwrap();
    assert_eq!(
        (&jwks["keys"][0]["kty"], &jwks["keys"][0]["alg"]),
        (&"RSA".into(), &"RS384".into())
    );
    let reg = env.path("rs.json");
    ok(&safire(&register_backend(&env, key_arg, &reg)));
    let client_id = json_file(&reg)["client_id"].as_str().unwrap().to_owned();
    let out = ok(&safire(&env.backend_token(
        &client_id,
        key_arg,
        &["--scope", "system/*.rs"],
    )));
    assert_row(&out, "scope", "system/*.rs");

    // Too small: the library's message, and no file.
    let small = env.path("small.pem");
    let expected = safire_ureq::safire_core::PrivateKey::generate_rs384(
        1024,
        &mut safire_ureq::safire_core::OsRandom,
    )
    .unwrap_err();
    fails_with(
        &safire(&[
            "keygen",
            "--alg",
            "RS384",
            "--bits",
            "1024",
            "--out",
            small.to_str().unwrap(),
        ]),
        &expected.to_string(),
    );
    assert!(!small.exists());
}

/// A fake `xdg-open` on PATH: records the URL it was given, exits with `status`.
#[cfg(target_os = "linux")]
fn fake_opener(env: &Env, status: u8) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let bin = env.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let record = env.path("opened-url");
    let script = bin.join("xdg-open");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > '{}'\nexit {status}\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, record)
}

/// `safire launch` (with the browser) with `path` as PATH, the app registered.
#[cfg(target_os = "linux")]
fn launch_with_browser(env: &Env, client_id: &str, path: &Path) -> Launch {
    let mut command = Command::new(SAFIRE);
    command
        .args(env.args(&["launch"], &["--client-id", client_id]))
        .env("PATH", path);
    let launch = Launch::spawn(
        command,
        "Opening the system browser. If it does not open, visit:",
    );
    env.register_app(client_id, &launch);
    launch
}

#[cfg(target_os = "linux")]
#[test]
fn launch_opens_the_system_browser() {
    let env = Env::new(Sandbox::builder());
    let (bin, record) = fake_opener(&env, 0);
    let launch = launch_with_browser(&env, "cli-browser", &bin);
    let url = launch.authorization_url.clone();
    let o = launch.approve();
    assert_row(&ok(&o), "patient", "sandbox-patient-1");
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    // The opener ran (and finished) before the CLI waited for the callback.
    assert_eq!(std::fs::read_to_string(&record).unwrap(), url);
}

#[cfg(target_os = "linux")]
#[test]
fn launch_warns_when_the_browser_cannot_be_opened() {
    let env = Env::new(Sandbox::builder());
    let (bin, _) = fake_opener(&env, 3);
    let o = launch_with_browser(&env, "cli-headless", &bin).approve();
    ok(&o);
    assert_eq!(
        stderr(&o),
        "warning: could not open the browser (xdg-open failed (exit status: 3)); open the URL above\n"
    );
    // No opener at all.
    let empty = env.path("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let o = launch_with_browser(&env, "cli-headless-2", &empty).approve();
    ok(&o);
    assert!(
        stderr(&o).starts_with("warning: could not open the browser (cannot run xdg-open: "),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ca_cert_must_hold_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, "not a certificate").unwrap();
    let config = ClientConfig::builder("https://ehr.example/fhir")
        .build()
        .unwrap();
    let expected = safire_ureq::SmartClient::builder(config)
        .add_root_certificate_pem(b"not a certificate")
        .unwrap_err();
    fails_with(
        &safire(&[
            "discover",
            "https://ehr.example/fhir",
            "--ca-cert",
            pem.to_str().unwrap(),
        ]),
        &expected.to_string(),
    );
    let missing = dir.path().join("missing.pem");
    let o = safire(&[
        "discover",
        "https://ehr.example/fhir",
        "--ca-cert",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with(&format!("error: cannot read {}: ", missing.display())),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ids_may_start_with_a_hyphen() {
    // Generated client ids and RFC 7638 kids are base64url: a leading `-` is common.
    let env = Env::new(Sandbox::builder());
    let backend = &env.sandbox.clients().backend;
    let jwks: serde_json::Value = backend.jwks.clone().unwrap();
    let mut jwk = jwks["keys"][0].clone();
    jwk["kid"] = "-kid-1".into();
    env.sandbox
        .register_client(ClientRegistration::backend(
            "-client-1",
            serde_json::json!({ "keys": [jwk] }),
            "system/*.rs",
        ))
        .unwrap();
    let key = env.key_file(backend.private_key_pem.as_deref().unwrap());
    let out = ok(&safire(&env.backend_token(
        "-client-1",
        key.to_str().unwrap(),
        &["--kid", "-kid-1", "--scope", "system/*.rs"],
    )));
    assert!(
        out.starts_with("Backend services token for -client-1\n"),
        "{out}"
    );
}

/// `safire introspect` as the sandbox's pre-registered symmetric client.
fn introspect_args<'a>(env: &'a Env, extra: &[&'a str]) -> Vec<&'a str> {
    let symmetric = &env.sandbox.clients().symmetric;
    let client = [
        "--client-id",
        &symmetric.client_id,
        "--client-secret",
        symmetric.client_secret.as_deref().unwrap(),
    ];
    env.args(&["introspect"], &[&client[..], extra].concat())
}

#[test]
fn introspect_and_revoke_a_launch_token_file() {
    let env = Env::new(
        Sandbox::builder().launch_context(
            LaunchContext::new()
                .patient("pat-cli-9")
                .fhir_user("Practitioner/prac-cli-1"),
        ),
    );
    let save = env.path("token.json");
    let save_arg = save.to_str().unwrap();
    let launch = start_registered_launch(
        &env,
        "cli-revoking-app",
        &[
            "--scope",
            "launch/patient fhirUser patient/*.rs offline_access",
            "--save",
            save_arg,
        ],
    );
    ok(&launch.approve());
    let tokens = || [env.sent("access_token"), env.sent("refresh_token")].concat();
    assert_eq!(tokens().len(), 2);

    // Active: what it grants, the expiry as a date, the identifiers the server sent.
    let o = safire(&introspect_args(&env, &["--token-file", save_arg]));
    let out = ok(&o);
    assert!(
        out.starts_with(&format!(
            "Introspection of the access token from {save_arg}\n  active                       true\n"
        )),
        "{out}"
    );
    assert_row(
        &out,
        "scope",
        "launch/patient fhirUser patient/*.rs offline_access",
    );
    assert_row(&out, "client_id", "cli-revoking-app");
    let exp = out
        .lines()
        .find_map(|l| l.strip_prefix("  exp                          "))
        .unwrap();
    assert!(
        exp.len() == 20 && exp.starts_with("20") && exp.ends_with('Z'),
        "{exp}"
    );
    assert_row(&out, "patient", "pat-cli-9");
    assert_row(
        &out,
        "fhirUser",
        &format!("{}/Practitioner/prac-cli-1", env.base),
    );
    assert!(out.contains("\n  sub "), "{out}");
    assert!(!out.contains("finding"), "{out}");
    assert_absent(&o, &tokens());
    let o = safire(&introspect_args(
        &env,
        &["--token-file", save_arg, "--which", "refresh"],
    ));
    assert!(
        ok(&o).starts_with(&format!(
            "Introspection of the refresh token from {save_arg}\n  active                       true\n"
        )),
        "{}",
        stdout(&o)
    );
    assert_absent(&o, &tokens());

    // Revoke: the refresh token by default, as the file's public client; the file records it.
    let o = safire(&env.args(&["revoke"], &["--token-file", save_arg]));
    assert_eq!(
        ok(&o),
        format!(
            "Revoked the refresh token from {save_arg} (client cli-revoking-app)\n\
             Marked the refresh_token revoked in {save_arg} (mode 0600)\n"
        )
    );
    assert_absent(&o, &tokens());
    assert_eq!(env.sandbox.requests(Endpoint::Revoke), 1);
    assert_owner_only(&save);
    let file = json_file(&save);
    assert_eq!(file["revoked"], serde_json::json!(["refresh_token"]));
    assert_eq!(
        file["token"]["refresh_token"],
        env.sent("refresh_token")[0].as_str()
    );

    // The grant is gone: its access token is inactive, and refresh refuses before any request.
    for which in ["access", "refresh"] {
        let o = safire(&introspect_args(
            &env,
            &["--token-file", save_arg, "--which", which],
        ));
        let out = ok(&o);
        assert!(
            out.ends_with("\n  active                       false\n") && out.lines().count() == 2,
            "{out}"
        );
        assert_absent(&o, &tokens());
    }
    fails_with(
        &safire(&["refresh", save_arg, "--insecure-localhost"]),
        &format!("the refresh token in {save_arg} was revoked (`safire revoke`); launch again"),
    );
    assert_eq!(env.sandbox.requests(Endpoint::Token), 1);

    // A token goes back only to the server it came from.
    let other = "http://127.0.0.1:9/fhir";
    fails_with(
        &safire(&[
            "revoke",
            other,
            "--insecure-localhost",
            "--token-file",
            save_arg,
        ]),
        &format!(
            "{save_arg} holds a token from {}, not from {other}",
            env.base
        ),
    );
}

#[test]
fn introspect_and_revoke_a_backend_token_from_stdin() {
    let env = Env::new(Sandbox::builder());
    let clients = env.sandbox.clients();
    let backend = &clients.backend;
    let key = env.key_file(backend.private_key_pem.as_deref().unwrap());
    let key_arg = key.to_str().unwrap();
    let kid = backend.kid.as_deref().unwrap();
    ok(&safire(&env.backend_token(
        &backend.client_id,
        key_arg,
        &["--kid", kid, "--scope", "system/*.rs"],
    )));
    let token = env.sent("access_token").pop().unwrap();
    let stdin = format!("{token}\n");

    // Introspected by the asymmetric client (private_key_jwt).
    let asymmetric = &clients.asymmetric;
    let rs_key = env.path("asymmetric.pem");
    std::fs::write(&rs_key, asymmetric.private_key_pem.as_deref().unwrap()).unwrap();
    let signed_by_asymmetric = [
        "--client-id",
        &asymmetric.client_id,
        "--key",
        rs_key.to_str().unwrap(),
        "--kid",
        asymmetric.kid.as_deref().unwrap(),
    ];
    let introspect = env.args(
        &["introspect"],
        &[&signed_by_asymmetric[..], &["--token", "-"]].concat(),
    );
    let o = safire_stdin(&introspect, &stdin);
    let out = ok(&o);
    assert!(
        out.starts_with(
            "Introspection of the token from standard input\n  active                       true\n"
        ),
        "{out}"
    );
    assert_row(&out, "scope", "system/*.rs");
    assert_row(&out, "client_id", &backend.client_id);
    assert!(!out.contains("patient"), "{out}");
    assert_absent(&o, std::slice::from_ref(&token));

    // Revoked by its own client, the hint from --which.
    let signed_by_backend = [
        "--client-id",
        &backend.client_id,
        "--key",
        key_arg,
        "--kid",
        kid,
    ];
    let o = safire_stdin(
        &env.args(
            &["revoke"],
            &[
                &signed_by_backend[..],
                &["--token", "-", "--which", "access"],
            ]
            .concat(),
        ),
        &stdin,
    );
    assert_eq!(
        ok(&o),
        format!(
            "Revoked the access token from standard input (client {})\n",
            backend.client_id
        )
    );
    assert_absent(&o, std::slice::from_ref(&token));
    let o = safire_stdin(&introspect, &stdin);
    assert_eq!(
        ok(&o),
        "Introspection of the token from standard input\n  active                       false\n"
    );

    // A secret from the environment works too (the symmetric client).
    let symmetric = &clients.symmetric;
    let with_env_secret = |stdin: Stdio| {
        Command::new(SAFIRE)
            .args(env.args(
                &["introspect"],
                &["--client-id", &symmetric.client_id, "--token", "-"],
            ))
            .env(
                "SAFIRE_CLIENT_SECRET",
                symmetric.client_secret.as_deref().unwrap(),
            )
            .stdin(stdin)
            .output()
            .unwrap()
    };
    let token_file = env.path("stdin-token");
    std::fs::write(&token_file, &stdin).unwrap();
    let o = with_env_secret(std::fs::File::open(&token_file).unwrap().into());
    assert_eq!(
        ok(&o),
        "Introspection of the token from standard input\n  active                       false\n"
    );
    assert_absent(
        &o,
        &[token.clone(), symmetric.client_secret.clone().unwrap()],
    );
    assert_eq!(env.sandbox.requests(Endpoint::Introspect), 3);
    // Empty standard input: refused before any request.
    fails_with(
        &with_env_secret(Stdio::null()),
        "no token on standard input (pipe it in, e.g. `jq -r .token.access_token token.json | safire …`)",
    );
    assert_eq!(env.sandbox.requests(Endpoint::Introspect), 3);
}

#[test]
fn introspect_and_revoke_failures() {
    let env = Env::new(Sandbox::builder());
    let clients = env.sandbox.clients();
    let symmetric = &clients.symmetric;
    // A canary: the server does not know it, the CLI must still never print it.
    let canary = "canary-token-5d1c2b7e9a04f3";
    let stdin = format!("{canary}\n");

    // A wrong secret: the library's invalid_client message, exit 1.
    let config = ClientConfig::builder(&env.base)
        .allow_insecure_localhost(true)
        .client_id(&symmetric.client_id)
        .client_auth(safire_ureq::safire_core::ClientAuth::client_secret_basic(
            "wrong-secret-0123456789",
        ))
        .build()
        .unwrap();
    let client = safire_ureq::SmartClient::builder(config).build().unwrap();
    let expected = client
        .introspect_token(canary, None, safire_ureq::safire_core::CallOptions::new())
        .unwrap_err()
        .to_string();
    assert!(expected.contains("invalid_client"), "{expected}");
    let args = |command: &'static str| {
        let rest = [
            "--client-id",
            symmetric.client_id.as_str(),
            "--client-secret",
            "wrong-secret-0123456789",
            "--token",
            "-",
        ];
        env.args(&[command], &rest)
    };
    let o = safire_stdin(&args("introspect"), &stdin);
    fails_with(&o, &expected);
    assert_absent(
        &o,
        &[canary.to_owned(), "wrong-secret-0123456789".to_owned()],
    );

    let expected = client
        .revoke_token(canary, None, safire_ureq::safire_core::CallOptions::new())
        .unwrap_err()
        .to_string();
    assert!(expected.contains("invalid_client"), "{expected}");
    let o = safire_stdin(&args("revoke"), &stdin);
    fails_with(&o, &expected);
    assert_absent(
        &o,
        &[canary.to_owned(), "wrong-secret-0123456789".to_owned()],
    );
    assert_eq!(env.sandbox.requests(Endpoint::Revoke), 2);
    assert_eq!(env.sandbox.requests(Endpoint::Introspect), 2);

    // Caught before any request: a token on the command line (never echoed), a public
    // introspecting client, a revocation without a client id.
    let o = safire(&introspect_args(&env, &["--token", canary]));
    fails_with(
        &o,
        "--token takes only `-` (the token on standard input), so the token stays out of shell \
         history and `ps`; or pass --token-file",
    );
    let o = safire_stdin(
        &env.args(
            &["introspect"],
            &["--client-id", &clients.public.client_id, "--token", "-"],
        ),
        &stdin,
    );
    fails_with(
        &o,
        "introspection needs a confidential client: pass --client-secret (or \
         SAFIRE_CLIENT_SECRET) or --key key.pem",
    );
    fails_with(
        &safire_stdin(&env.args(&["revoke"], &["--token", "-"]), &stdin),
        "pass --client-id (the client the token was issued to)",
    );
    // Neither a token file nor a token: a usage error.
    assert_eq!(
        safire(&["revoke", &env.base, "--client-id", "x"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(env.sandbox.requests(Endpoint::Revoke), 2);
    assert_eq!(env.sandbox.requests(Endpoint::Introspect), 2);
}
