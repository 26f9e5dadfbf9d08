//! `safire introspect` and `safire revoke`, from a token file or standard input,
//! and their failures.

use super::*;

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
