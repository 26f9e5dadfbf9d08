//! `safire token --backend`: what it shows, what it hides, and its failures.

use super::*;

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
