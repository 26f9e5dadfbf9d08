//! The command line itself: `--help`, `--ca-cert`, and ids that start with a hyphen.

use super::*;

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
