//! Property tests for the builders: PKCE, form and query encoding, Basic credentials, and
//! client assertion claims.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use proptest::prelude::*;
use safire_core::protocol::{Pkce, basic_authorization, s256_challenge, validate_verifier};
use safire_core::{
    AuthorizeFlow, AuthorizeParams, BasicAuthEncoding, CallOptions, ClientAssertion, ClientConfig,
    Env, Error, Flow, JwsAlgorithm, SecretString, SeededRandom, Signer, Step, TokenFlow,
};
use sha2::{Digest, Sha256};

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

proptest! {
    #[test]
    fn generated_pkce_is_valid(seed in any::<u64>()) {
        let pkce = Pkce::generate(&mut SeededRandom::new(seed)).unwrap();
        let verifier = pkce.verifier().expose();
        prop_assert!((43..=128).contains(&verifier.len()));
        prop_assert!(verifier.bytes().all(is_unreserved));
        let expected = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
        prop_assert_eq!(pkce.challenge(), expected.as_str());
    }

    #[test]
    fn any_valid_verifier_is_accepted(verifier in "[A-Za-z0-9._~-]{43,128}") {
        let pkce = Pkce::from_verifier(verifier.clone()).unwrap();
        let expected = s256_challenge(&verifier);
        prop_assert_eq!(pkce.challenge(), expected.as_str());
    }

    #[test]
    fn invalid_verifiers_are_rejected(verifier in "\\PC{0,200}") {
        let valid = (43..=128).contains(&verifier.chars().count()) && verifier.bytes().all(is_unreserved);
        prop_assert_eq!(validate_verifier(&verifier).is_ok(), valid);
    }

    #[test]
    fn token_form_round_trips_arbitrary_unicode(
        refresh in "\\PC{1,40}",
        scopes in proptest::collection::vec("[^ \\p{C}]{1,20}", 1..5),
    ) {
        let config = Arc::new(
            ClientConfig::builder("https://ehr.example/fhir")
                .client_id("app")
                .token_endpoint("https://ehr.example/token")
                .build()
                .unwrap(),
        );
        let mut flow = TokenFlow::refresh(config, refresh.clone())
            .with_options(CallOptions::new().scopes(scopes.clone()));
        let mut random = SeededRandom::new(1);
        let Step::Send(request) = flow.start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random)).unwrap() else {
            panic!("token flows send");
        };
        let form: HashMap<String, String> = url::form_urlencoded::parse(request.body())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        prop_assert_eq!(&form["refresh_token"], &refresh);
        prop_assert_eq!(&form["scope"], &scopes.join(" "));
    }

    #[test]
    fn authorization_query_round_trips(
        scopes in proptest::collection::vec("[^ \\p{C}]{1,20}", 1..5),
        path in "[a-zA-Z0-9/é ü-]{0,20}",
        launch in "\\PC{1,30}",
    ) {
        let redirect = format!("https://app.example/{}", url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>());
        let config = Arc::new(
            ClientConfig::builder("https://ehr.example/fhir")
                .client_id("app")
                .redirect_uri(redirect.clone())
                .scopes(scopes.clone())
                .authorization_endpoint("https://ehr.example/authorize")
                .build()
                .unwrap(),
        );
        let mut flow = AuthorizeFlow::new(config, AuthorizeParams::ehr_launch(launch.clone()));
        let mut random = SeededRandom::new(2);
        let Step::Done(request) = flow.start(&mut Env::new(SystemTime::UNIX_EPOCH, &mut random)).unwrap() else {
            panic!("endpoint configured");
        };
        let query: HashMap<String, String> = request.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        prop_assert_eq!(&query["scope"], &scopes.join(" "));
        prop_assert_eq!(&query["redirect_uri"], &redirect);
        prop_assert_eq!(&query["launch"], &launch);
    }

    #[test]
    fn basic_credentials_decode_back(id in "[^:\\p{C}]{1,30}", secret in "\\PC{1,40}") {
        for encoding in [BasicAuthEncoding::FormUrlEncoded, BasicAuthEncoding::Raw] {
            let header = basic_authorization(&id, &SecretString::new(secret.clone()), encoding).unwrap();
            let b64 = header.to_str().unwrap().strip_prefix("Basic ").unwrap().to_owned();
            let decoded = String::from_utf8(Base64::decode_vec(&b64).unwrap()).unwrap();
            let (raw_id, raw_secret) = decoded.split_once(':').unwrap();
            let (got_id, got_secret) = match encoding {
                BasicAuthEncoding::Raw => (raw_id.to_owned(), raw_secret.to_owned()),
                _ => (form_decode(raw_id), form_decode(raw_secret)),
            };
            prop_assert_eq!(&got_id, &id);
            prop_assert_eq!(&got_secret, &secret);
        }
    }

    #[test]
    fn assertion_claims_hold(now_secs in 1_000_000u64..4_000_000_000, lifetime in 1u64..10_000, path in "[a-z]{1,10}") {
        let audience = format!("https://ehr.example/{path}/token");
        let now = UNIX_EPOCH + Duration::from_secs(now_secs);
        let assertion = ClientAssertion {
            signer: &NullSigner,
            kid: "k1",
            jku: None,
            client_id: "svc",
            audience: &audience,
            lifetime: Duration::from_secs(lifetime),
        };
        let jwt = assertion.sign(now, &mut SeededRandom::new(now_secs)).unwrap();
        let claims = claims(jwt.expose());
        let exp = claims["exp"].as_u64().unwrap();
        prop_assert!(exp >= now_secs);
        prop_assert!(exp - now_secs <= 300);
        prop_assert_eq!(claims["aud"].as_str().unwrap(), audience.as_str());
        prop_assert_eq!(claims["iss"].as_str().unwrap(), "svc");
        prop_assert_eq!(claims["sub"].as_str().unwrap(), "svc");
    }
}

fn form_decode(value: &str) -> String {
    url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A signer that signs nothing: claims are what is under test, not cryptography.
#[derive(Debug)]
struct NullSigner;

impl Signer for NullSigner {
    fn algorithm(&self) -> JwsAlgorithm {
        JwsAlgorithm::ES384
    }
    fn sign(&self, _signing_input: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(vec![0; 96])
    }
    fn public_jwk(&self) -> Option<safire_core::Jwk> {
        None
    }
}

fn claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(payload).unwrap()).unwrap()
}

#[test]
fn jti_is_unique_across_100k_assertions() {
    let mut random = SeededRandom::new(77);
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut seen = HashSet::with_capacity(100_000);
    for _ in 0..100_000 {
        let jwt = ClientAssertion {
            signer: &NullSigner,
            kid: "k1",
            jku: None,
            client_id: "svc",
            audience: "https://ehr.example/token",
            lifetime: Duration::from_secs(300),
        }
        .sign(now, &mut random)
        .unwrap();
        let jti = claims(jwt.expose())["jti"].as_str().unwrap().to_owned();
        assert!(seen.insert(jti), "duplicate jti");
    }
}
