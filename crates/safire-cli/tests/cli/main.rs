//! The `safire` binary against an in-process safire-sandbox.
//!
//! The sandbox sits behind a recording TCP proxy (its advertised base URL is the proxy's), so
//! the tests know every token and secret the server sent and can check that none of them
//! reaches the terminal unless asked.
//!
//! One module per command group; this file holds the harness they share.

mod backend;
mod discover;
mod introspect;
mod keys;
mod launch;
mod options;
mod register;

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
