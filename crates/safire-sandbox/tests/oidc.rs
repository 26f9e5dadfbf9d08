//! Issue 13's sandbox side: RS256 id_tokens, the JWKS, OIDC discovery and
//! key rotation. Signatures are verified here independently with the `rsa`
//! crate from the JWKS fetched over raw HTTP.

mod common;

use base64ct::{Base64UrlUnpadded, Encoding};
use common::flow::*;
use common::*;
use rsa::BoxedUint;
use safire_sandbox::{ClientRegistration, Endpoint, LaunchContext, Sandbox};
use serde_json::{Value, json};
use signature::Verifier;

const PEM: &str = include_str!("../testdata/vectors/rs384.pem");

fn start() -> Sandbox {
    Sandbox::builder()
        .id_token_signing_key_pem(PEM)
        .start()
        .unwrap()
}

fn b64json(part: &str) -> Value {
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).unwrap()).unwrap()
}

/// (header, claims) of a compact JWS, after checking its RS256 signature
/// against the sandbox's published JWKS.
fn verify(sb: &Sandbox, jwt: &str) -> (Value, Value) {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = b64json(parts[0]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let d = get(sb.local_addr(), &sb.url(Endpoint::SmartConfiguration)).json();
    let jwks = get(sb.local_addr(), d["jwks_uri"].as_str().unwrap()).json();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap_or_else(|| panic!("kid {} not in the JWKS {jwks}", header["kid"]));
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    assert!(jwk.get("d").is_none(), "private member published");
    let n = Base64UrlUnpadded::decode_vec(jwk["n"].as_str().unwrap()).unwrap();
    let e = Base64UrlUnpadded::decode_vec(jwk["e"].as_str().unwrap()).unwrap();
    let key = rsa::RsaPublicKey::new_with_size_limits(
        BoxedUint::from_be_slice_vartime(&n),
        BoxedUint::from_be_slice_vartime(&e),
        2048..=8192,
    )
    .unwrap();
    let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key);
    let sig = rsa::pkcs1v15::Signature::try_from(
        Base64UrlUnpadded::decode_vec(parts[2]).unwrap().as_slice(),
    )
    .unwrap();
    let input = format!("{}.{}", parts[0], parts[1]);
    vk.verify(input.as_bytes(), &sig)
        .expect("RS256 signature verifies");
    // Tampering is detected by the same check.
    let mut tampered = input.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(vk.verify(&tampered, &sig).is_err());
    (header, b64json(parts[1]))
}

/// Code flow for the public client with an OIDC `nonce`.
fn token_with_nonce(sb: &Sandbox, client_id: &str, scope: &str, nonce: Option<&str>) -> Value {
    let (verifier, challenge) = pkce(&format!("oidc{scope}{nonce:?}"));
    let mut p = auth_params(sb, client_id, scope, &challenge);
    if let Some(n) = nonce {
        p.push(("nonce", n));
    }
    let code = authorize(sb, &p).location_param("code").expect("code");
    let t = exchange(sb, client_id, &code, &verifier);
    assert_eq!(t.status, 200, "{}", t.body);
    t.json()
}

#[test]
fn id_token_claims_signature_and_nonce() {
    let sb = start();
    let id = sb.clients().public.client_id.clone();
    let t = token_with_nonce(
        &sb,
        &id,
        "openid fhirUser launch/patient patient/*.rs offline_access",
        Some("n-0S6_WzA2Mj"),
    );
    assert_eq!(
        t["scope"],
        "openid fhirUser launch/patient patient/*.rs offline_access"
    );
    let (header, c) = verify(&sb, t["id_token"].as_str().expect("id_token"));
    assert_eq!(header["kid"], sb.signing_kid().unwrap().as_str());
    assert_eq!(c["iss"], sb.fhir_base_url());
    assert_eq!(c["aud"], id.as_str());
    assert_eq!(c["nonce"], "n-0S6_WzA2Mj");
    assert!(c["sub"].as_str().is_some_and(|s| !s.is_empty()));
    let (iat, exp) = (c["iat"].as_u64().unwrap(), c["exp"].as_u64().unwrap());
    assert!(iat <= sb.now() && exp > sb.now());
    assert_eq!(
        c["fhirUser"],
        format!("{}/Practitioner/sandbox-practitioner-1", sb.fhir_base_url())
    );
    // Refresh: a new id_token, same subject, no nonce (OIDC Core §12.2).
    let r = refresh(&sb, &id, t["refresh_token"].as_str().unwrap()).json();
    let (_, c2) = verify(&sb, r["id_token"].as_str().unwrap());
    assert_eq!(c2["sub"], c["sub"]);
    assert!(c2.get("nonce").is_none());
}

#[test]
fn id_token_only_with_openid_and_fhir_user_only_with_its_scope() {
    let sb = start();
    let id = sb.clients().public.client_id.clone();
    let t = token_with_nonce(&sb, &id, "patient/*.rs fhirUser", None);
    assert!(t.get("id_token").is_none(), "no openid, no id_token: {t}");
    let t = token_with_nonce(&sb, &id, "openid patient/*.rs", None);
    let (_, c) = verify(&sb, t["id_token"].as_str().unwrap());
    assert!(c.get("fhirUser").is_none());
    assert!(c.get("nonce").is_none());
    // A client whose registration does not include openid gets none.
    let sb = Sandbox::builder()
        .id_token_signing_key_pem(PEM)
        .register_client(ClientRegistration {
            scope: "patient/*.rs".into(),
            ..ClientRegistration::public("no-oidc", [CB])
        })
        .start()
        .unwrap();
    let t = token_with_nonce(&sb, "no-oidc", "openid fhirUser patient/*.rs", Some("n"));
    assert_eq!(t["scope"], "patient/*.rs");
    assert!(t.get("id_token").is_none());
}

#[test]
fn fhir_user_can_be_a_patient() {
    let sb = Sandbox::builder()
        .id_token_signing_key_pem(PEM)
        .launch_context(
            LaunchContext::new()
                .patient("sandbox-patient-2")
                .fhir_user("Patient/sandbox-patient-2"),
        )
        .start()
        .unwrap();
    let id = sb.clients().public.client_id.clone();
    let t = token_with_nonce(
        &sb,
        &id,
        "openid fhirUser launch/patient patient/*.rs",
        None,
    );
    let (_, c) = verify(&sb, t["id_token"].as_str().unwrap());
    assert_eq!(
        c["fhirUser"],
        format!("{}/Patient/sandbox-patient-2", sb.fhir_base_url())
    );
}

#[test]
fn openid_configuration_and_jwks() {
    let sb = start();
    let d = get(sb.local_addr(), &sb.url(Endpoint::SmartConfiguration)).json();
    let caps = d["capabilities"].as_array().unwrap();
    assert!(caps.contains(&json!("sso-openid-connect")));
    assert_eq!(d["issuer"], sb.fhir_base_url());
    let o = get(sb.local_addr(), &sb.url(Endpoint::OpenidConfiguration));
    assert_eq!(o.status, 200);
    let o = o.json();
    assert_eq!(o["issuer"], sb.fhir_base_url());
    assert_eq!(o["jwks_uri"], sb.url(Endpoint::Jwks));
    assert_eq!(o["jwks_uri"], d["jwks_uri"]);
    assert_eq!(o["id_token_signing_alg_values_supported"], json!(["RS256"]));
    assert_eq!(o["token_endpoint"], sb.token_url());
    let jwks = get(sb.local_addr(), &sb.url(Endpoint::Jwks)).json();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kid"], "sandbox-rs256-1");
    assert_eq!(sb.requests(Endpoint::Jwks), 1);
}

/// The `kid`s of the sandbox's JWKS, in order.
fn published_kids(sb: &Sandbox) -> Vec<String> {
    let jwks = get(sb.local_addr(), &sb.url(Endpoint::Jwks)).json();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn signing_key_rotation_publishes_the_new_kid_and_keeps_the_old() {
    let sb = start();
    let id = sb.clients().public.client_id.clone();
    let before = token_with_nonce(&sb, &id, "openid patient/*.rs", None);
    let old_kid = sb.signing_kid().unwrap();
    let new_kid = sb.rotate_signing_key().unwrap();
    assert_ne!(old_kid, new_kid);
    assert_eq!(sb.signing_kid().unwrap(), new_kid);
    let kids = published_kids(&sb);
    assert_eq!(kids, [new_kid.as_str(), old_kid.as_str()]);
    let after = token_with_nonce(&sb, &id, "openid patient/*.rs", None);
    let (h, _) = verify(&sb, after["id_token"].as_str().unwrap());
    assert_eq!(h["kid"], new_kid.as_str());
    // The id_token from before the rotation still verifies (old key kept).
    let (h, _) = verify(&sb, before["id_token"].as_str().unwrap());
    assert_eq!(h["kid"], old_kid.as_str());
    // A second rotation drops the oldest key.
    let third = sb.rotate_signing_key_pem(PEM).unwrap();
    let kids = published_kids(&sb);
    assert_eq!(kids, [third.as_str(), new_kid.as_str()]);
    // Bad PEM is a typed error, not a panic.
    assert!(sb.rotate_signing_key_pem("not a key").is_err());
    assert!(
        Sandbox::builder()
            .id_token_signing_key_pem("nope")
            .start()
            .is_err()
    );
}
