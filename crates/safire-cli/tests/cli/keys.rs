//! `safire keygen` and `safire jwks`, and an RS384 key from keygen used end to end.

use super::*;

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
