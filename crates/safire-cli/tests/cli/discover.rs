//! `safire discover`: the report, library errors, and `--strict`.

use super::*;

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
