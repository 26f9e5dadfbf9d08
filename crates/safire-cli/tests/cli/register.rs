//! `safire register`: public, symmetric and asymmetric clients, and its failures.

use super::*;

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
