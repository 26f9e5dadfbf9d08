//! A real `redis-server` for the tests: started on a free loopback port with no persistence,
//! ready once it answers `PING` with `PONG`, killed (by its PID) when dropped.
//!
//! Missing `redis-server` is a loud failure, never a skip: `tests/run-all.sh` installs it
//! (`apt-get install -y redis-server`).
#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct RedisServer {
    port: u16,
    /// Extra `redis-server` arguments (kept for restarts).
    args: Vec<String>,
    child: Option<Child>,
    /// A shell that kills the server if this test process dies without dropping it (killed,
    /// aborted, its stdout pipe closed): no server outlives its test binary.
    watchdog: Option<Child>,
}

impl RedisServer {
    /// A fresh server on a free port.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A fresh server on a free port, with extra arguments (e.g. `--requirepass`).
    pub fn start_with(args: &[&str]) -> Self {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            match Self::spawn(port, &args) {
                Ok(child) => {
                    return Self {
                        port,
                        args,
                        watchdog: Some(watchdog(child.id())),
                        child: Some(child),
                    };
                }
                Err(err) => last = err, // the port was taken in between: try another
            }
        }
        panic!("redis-server did not start: {last}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// Kills the server (SIGKILL, like a crash) and waits for it to be gone.
    pub fn stop(&mut self) {
        for mut child in [self.child.take(), self.watchdog.take()]
            .into_iter()
            .flatten()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: nothing was persisted).
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match Self::spawn(self.port, &self.args) {
                Ok(child) => {
                    self.watchdog = Some(watchdog(child.id()));
                    self.child = Some(child);
                    return;
                }
                Err(err) if Instant::now() > deadline => {
                    panic!("redis-server did not restart on {}: {err}", self.port)
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Freezes the server (SIGSTOP): connections are accepted by the kernel, nothing answers.
    pub fn pause(&self) {
        signal(self.pid(), "-STOP");
    }

    /// Thaws a paused server (SIGCONT).
    pub fn resume(&self) {
        signal(self.pid(), "-CONT");
    }

    /// A plain client connection, for looking at raw values.
    pub fn raw(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(5)))
            .expect("raw connection to the test redis-server")
    }

    fn spawn(port: u16, args: &[String]) -> Result<Child, String> {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "\n\n*** cannot run `redis-server` ({err}).\n*** These tests need a real Redis: \
                     `apt-get install -y redis-server` (tests/run-all.sh installs it).\n\n"
                )
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("redis-server exited: {status}"));
            }
            if ping(port, args) {
                return Ok(child);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err("no PONG within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A paused server must be thawed to die cleanly; SIGKILL works either way.
            signal(child.id(), "-CONT");
        }
        self.stop();
    }
}

fn watchdog(server: u32) -> Child {
    Command::new("sh")
        .args([
            "-c",
            "while kill -0 \"$1\" 2>/dev/null; do sleep 0.2; done; kill -9 \"$2\" 2>/dev/null",
            "watchdog",
            &std::process::id().to_string(),
            &server.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("sh for the redis-server watchdog")
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill(1)");
    assert!(status.success(), "kill {sig} {pid} failed");
}

fn ping(port: u16, args: &[String]) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if let Some(at) = args.iter().position(|a| a == "--requirepass") {
        let auth = format!("AUTH {}\r\n", args[at + 1]);
        let mut ok = [0u8; 5];
        if stream.write_all(auth.as_bytes()).is_err()
            || stream.read_exact(&mut ok).is_err()
            || &ok != b"+OK\r\n"
        {
            return false;
        }
    }
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut answer = [0u8; 7];
    stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// What starts a line a child role reports to its parent (see [`report`]).
pub const MARK: &str = "@@ ";

/// Prints one line for the parent.
pub fn report(line: &str) {
    println!("{MARK}{line}");
}

/// The environment variable that makes a test binary run as a child role.
pub const CHILD_ENV: &str = "SAFIRE_REDIS_CHILD";

/// A child process: this test binary re-run with `CHILD_ENV=role`, running only the test
/// `entry` (which dispatches on the role). Its stdout lines come through `lines`.
pub struct ChildProcess {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
}

impl ChildProcess {
    pub fn spawn(entry: &str, role: &str, env: &[(&str, String)]) -> Self {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut command = Command::new(exe);
        command
            .args(["--exact", entry, "--nocapture", "--test-threads", "1"])
            .env(CHILD_ENV, role)
            .stdin(Stdio::piped()) // closed when the parent dies: children exit
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("spawn a child test process");
        let stdout: ChildStdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Only what the child role printed with `report!`; libtest's own output (which
                // may share the line: "test child ... @@ READY") is dropped.
                let Some(at) = line.find(MARK) else { continue };
                if send.send(line[at + MARK.len()..].to_owned()).is_err() {
                    break;
                }
            }
        });
        Self { child, lines }
    }

    /// The next reported line starting with `prefix`, within `timeout`.
    pub fn expect_line(&self, prefix: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(err) => panic!("no `{prefix}` line from the child within {timeout:?}: {err}"),
            }
        }
    }

    /// Sends one line to the child's stdin.
    pub fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("piped stdin");
        writeln!(stdin, "{line}").expect("write to the child");
        stdin.flush().expect("flush to the child");
    }

    /// Closes the child's stdin (children waiting for lines then exit) and checks it exits
    /// successfully within 60 s.
    pub fn finish_with_stdin_closed(mut self) {
        drop(self.child.stdin.take());
        self.finish("", Duration::from_secs(60));
    }

    /// Every remaining reported line with `prefix`, until the child's stdout closes; then its exit
    /// status must be success.
    pub fn finish(mut self, prefix: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut found = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => found.push(line),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("child did not finish within {timeout:?}");
                }
            }
        }
        let status = self.child.wait().expect("child status");
        assert!(status.success(), "child failed: {status}");
        found
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A blocking store on `url` with a 5 s command timeout, encrypting with `key`.
pub fn store(url: &str, key: [u8; 32]) -> safire_redis::RedisStore {
    safire_redis::RedisStore::new(
        safire_redis::RedisConfig::new(url)
            .unwrap()
            .command_timeout(Duration::from_secs(5)),
        safire_redis::EncryptionKey::from_bytes(key),
    )
    .unwrap()
}

/// `n` children in `role` (entry test `child`), each reported `READY`.
pub fn spawn_fleet(n: usize, role: &str, env: &[(&str, String)]) -> Vec<ChildProcess> {
    let children: Vec<_> = (0..n)
        .map(|_| ChildProcess::spawn("child", role, env))
        .collect();
    for child in &children {
        child.expect_line("READY", Duration::from_secs(60));
    }
    children
}

/// Closes every child's stdin and checks each exits successfully.
pub fn finish_fleet(children: Vec<ChildProcess>) {
    for child in children {
        child.finish_with_stdin_closed();
    }
}

/// Sends `go` (a `GO <round> …` line) to every child and collects what each caller reported
/// for the round (`TOKEN <round> <fingerprint>` lines, up to `DONE <round>`; see
/// [`report_round`]).
pub fn run_round(
    children: &mut [ChildProcess],
    go: &str,
    round: u32,
    timeout: Duration,
) -> Vec<String> {
    for child in children.iter_mut() {
        child.send(go);
    }
    let mut fingerprints = Vec::new();
    for child in children.iter() {
        loop {
            let line = child.expect_line("", timeout);
            if line == format!("DONE {round}") {
                break;
            }
            let rest = line
                .strip_prefix(&format!("TOKEN {round} "))
                .unwrap_or_else(|| panic!("unexpected line {line}"));
            fingerprints.push(rest.to_owned());
        }
    }
    fingerprints
}

/// The child side of [`run_round`]: each caller's fingerprint, then `DONE`.
pub fn report_round(round: impl std::fmt::Display, callers: Vec<std::thread::JoinHandle<String>>) {
    for caller in callers {
        report(&format!("TOKEN {round} {}", caller.join().unwrap()));
    }
    report(&format!("DONE {round}"));
}

/// Plays the browser once: GETs `url` without following redirects and returns the
/// `Location` (the sandbox auto-approves, so this is the callback URL with the code).
pub fn redirect_of(url: &str) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent.get(url).call().unwrap();
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// All `callers` answered and got the same token (`fingerprints`, see [`run_round`]); returns
/// that token's fingerprint. `what` names the round in a failure.
#[track_caller]
pub fn one_token(fingerprints: &[String], callers: usize, what: &str) -> String {
    assert_eq!(fingerprints.len(), callers, "{what}: answers");
    assert!(
        fingerprints.iter().all(|f| f == &fingerprints[0]),
        "{what}: callers got different tokens"
    );
    fingerprints[0].clone()
}

/// A sandbox that rotates refresh tokens, with its public app and FHIR base URL.
pub fn rotating_sandbox() -> (safire_sandbox::Sandbox, safire_sandbox::ClientInfo, String) {
    let sandbox = safire_sandbox::Sandbox::builder()
        .refresh_token_rotation(true)
        .start()
        .unwrap();
    let public = sandbox.clients().public.clone();
    let base = sandbox.fhir_base_url().to_owned();
    (sandbox, public, base)
}

/// The public app `client_id` of `base`, asking for a patient launch with `offline_access`.
pub fn user_config(base: &str, client_id: &str, redirect_uri: &str) -> safire_core::ClientConfig {
    safire_core::ClientConfig::builder(base)
        .client_id(client_id)
        .redirect_uri(redirect_uri)
        .scopes(["launch/patient", "patient/*.rs", "offline_access"])
        .allow_insecure_localhost(true)
        .build()
        .unwrap()
}
