//! Server lifecycle: clients registered at start or at runtime (RS384 too),
//! starting inside a tokio test, stopping on drop.

use super::*;

#[test]
fn registered_clients_via_builder_and_runtime() {
    let sb = Sandbox::builder()
        .redirect_uris(["https://app.example/cb"])
        .register_client(ClientRegistration::public(
            "mine",
            ["http://localhost:8080/cb"],
        ))
        .start()
        .unwrap();
    assert_eq!(
        sb.clients().public.redirect_uris,
        vec!["https://app.example/cb".to_string()]
    );
    assert!(
        sb.register_client(ClientRegistration::public("bad", ["http://app.example/cb"]))
            .is_err()
    );
    assert!(
        sb.register_client(ClientRegistration {
            auth: ClientAuth::PrivateKeyJwt {
                jwks: json!({"keys": []})
            },
            ..ClientRegistration::public("nokeys", [CB])
        })
        .is_err()
    );
    assert!(
        sb.register_client(ClientRegistration::symmetric("later", "s", [CB]))
            .is_ok()
    );
    let bad = Sandbox::builder()
        .register_client(ClientRegistration::backend(
            "b",
            json!({"keys": [{"kty": "EC"}]}),
            "system/*.rs",
        ))
        .start();
    assert!(bad.is_err());
}

#[test]
fn stops_on_drop() {
    let sb = start();
    let addr = sb.local_addr();
    assert_eq!(get(addr, &sb.url(Endpoint::SmartConfiguration)).status, 200);
    drop(sb);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn starts_inside_a_tokio_test() {
    let sb = start();
    let (addr, url) = (sb.local_addr(), sb.url(Endpoint::SmartConfiguration));
    let status = tokio::task::spawn_blocking(move || get(addr, &url).status)
        .await
        .unwrap();
    assert_eq!(status, 200);
    drop(sb);
}

#[test]
fn rs384_pre_registered_client() {
    use rsa::pkcs8::DecodePrivateKey;
    use signature::{SignatureEncoding, Signer};
    let sb = Sandbox::builder().rs384_client(true).start().unwrap();
    let c = sb.clients().asymmetric_rs384.clone().expect("RS384 client");
    assert_eq!(c.alg, Some("RS384"));
    assert_eq!(c.jwks.as_ref().unwrap()["keys"][0]["kty"], "RSA");
    let sk = rsa::RsaPrivateKey::from_pkcs8_pem(c.private_key_pem.as_deref().unwrap()).unwrap();
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha384>::new(sk);
    let now = sb.now();
    let input = format!(
        "{}.{}",
        b64url_json(&json!({"alg": "RS384", "kid": c.kid, "typ": "JWT"})),
        b64url_json(
            &json!({"iss": c.client_id, "sub": c.client_id, "aud": sb.token_url(),
                            "exp": now + 60, "jti": "rs-1"})
        )
    );
    let sig = signer.sign(input.as_bytes()).to_vec();
    let jws = format!("{input}.{}", {
        use base64ct::{Base64UrlUnpadded, Encoding};
        Base64UrlUnpadded::encode_string(&sig)
    });
    let (code, verifier) = code_for(&sb, &c.client_id, "patient/*.rs");
    let t = post_form(
        sb.local_addr(),
        &sb.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("code_verifier", &verifier),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &jws),
        ],
        None,
    );
    assert_eq!(t.status, 200, "{}", t.body);
}
