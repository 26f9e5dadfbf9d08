//! The binary's flags: `--quirk NAME` (repeatable), `--access-token-lifetime`,
//! and the EHR launcher it prints.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_safire-sandbox");

#[test]
fn unknown_quirk_is_a_usage_error_listing_the_names() {
    let out = Command::new(BIN)
        .args(["--quirk", "lenient-everything"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("expires-in-string") && err.contains("basic-not-url-decoded"),
        "{err}"
    );
}

/// Kills the child on drop (also when an assertion fails).
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn quirks_and_token_lifetime_from_the_command_line() {
    let mut child = Child(
        Command::new(BIN)
            .args([
                "--port",
                "0",
                "--quirk",
                "expires-in-string",
                "--quirk",
                "scope-omitted",
                "--access-token-lifetime",
                "120",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut base = None;
    let mut launcher = None;
    let mut public_id = None;
    let mut in_public = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(b) = line.strip_prefix("FHIR base URL: ") {
            base = Some(b.trim().to_string());
        }
        if let Some(l) = line.strip_prefix("EHR launcher:  ") {
            launcher = Some(l.trim().to_string());
        }
        if line.starts_with("Public client") {
            in_public = true;
        }
        if in_public && let Some(id) = line.trim().strip_prefix("client_id:") {
            public_id = Some(id.trim().to_string());
            break;
        }
    }
    let base = base.expect("base URL printed");
    let id = public_id.expect("public client printed");
    assert!(
        launcher
            .unwrap()
            .starts_with(&format!("{base}/launch?client_id="))
    );
    let u = url::Url::parse(&base).unwrap();
    let addr: SocketAddr = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap())
        .parse()
        .unwrap();

    let (verifier, challenge) = pkce("bin");
    let q = form(&[
        ("response_type", "code"),
        ("client_id", &id),
        ("redirect_uri", "http://127.0.0.1/callback"),
        ("scope", "patient/*.rs"),
        ("state", "s"),
        ("aud", &base),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let r = http(
        addr,
        "GET",
        &format!("{}/authorize?{q}", u.path()),
        &[],
        b"",
    );
    let code = r.location_param("code").expect("code");
    let t = post_form(
        addr,
        &format!("{base}/token"),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1/callback"),
            ("code_verifier", &verifier),
            ("client_id", &id),
        ],
        None,
    )
    .json();
    assert_eq!(t["expires_in"], "120", "{t}");
    assert!(t.get("scope").is_none(), "{t}");
}
