//! Fixtures and hand-written baselines shared by Safire's benchmarks (see `BENCHMARKS.md`).
//!
//! Every Safire figure is measured next to a baseline that does the same work with the bare
//! libraries, so the report can give ratios that do not depend on the machine:
//!
//! * [`RawSigner`]: the signature alone, straight from RustCrypto or aws-lc-rs;
//! * [`pkce_baseline`], [`authorize_baseline`], [`token_form_baseline`]: PKCE, the authorization
//!   URL and the token request built by hand with `sha2`, `base64ct`, `url` and `http`;
//! * `serde_json::Value` parsing for the discovery and token documents.
//!
//! [`paired`] measures each Safire operation and its baseline interleaved (the `paired` bench
//! target); the criterion targets give absolute times.

pub mod paired;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use safire_core::{
    AuthorizationCode, AuthorizeFlow, AuthorizeParams, ClientAssertion, ClientConfig, Env, Error,
    Flow, Jwk, JwsAlgorithm, PrivateKey, RandomSource, Signer, SmartMetadata, Step, TokenFlow,
    TokenResponse,
};
use sha2::{Digest, Sha256, Sha384};

/// P-384 key for ES384 (the safire-core test fixture).
pub const P384_PEM: &str = include_str!("../data/p384.pkcs8.pem");
/// RSA-2048 key for RS384 (the safire-core test fixture).
pub const RSA2048_PEM: &str = include_str!("../data/rsa2048.pkcs8.pem");
/// RSA-3072 key for RS384 (`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072`).
pub const RSA3072_PEM: &str = include_str!("../data/rsa3072.pkcs8.pem");

/// The benchmarked keys: label and PKCS#8 PEM.
pub const KEYS: [(&str, &str); 3] = [
    ("ES384", P384_PEM),
    ("RS384-2048", RSA2048_PEM),
    ("RS384-3072", RSA3072_PEM),
];

/// A realistic 1.6 KB `.well-known/smart-configuration`.
pub const SMART_CONFIGURATION: &[u8] = include_bytes!("../data/smart-configuration.json");
/// A realistic 2.2 KB token response (JWT access and id tokens, refresh token, launch context).
pub const TOKEN_RESPONSE: &[u8] = include_bytes!("../data/token-response.json");

/// Token endpoint, client id and key id used in every assertion (the peer scripts use the same).
pub const TOKEN_URL: &str = "https://ehr.example.com/oauth2/token";
/// The Backend Services client id.
pub const CLIENT_ID: &str = "bench-backend-service";
/// The registered key id.
pub const KID: &str = "bench-key-1";

/// A fixed `now` so every assertion has the same length.
pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// The SMART Backend Services assertion Safire sends, for `signer`.
pub fn assertion(signer: &dyn Signer) -> ClientAssertion<'_> {
    ClientAssertion {
        signer,
        kid: KID,
        jku: None,
        client_id: CLIENT_ID,
        audience: TOKEN_URL,
        lifetime: Duration::from_secs(300),
    }
}

/// The `header.claims` signing input of a real assertion made with `signer`: the bytes the raw
/// baselines sign.
pub fn signing_input(signer: &dyn Signer, random: &mut dyn RandomSource) -> Vec<u8> {
    let jwt = assertion(signer).sign(now(), random).expect("assertion");
    let text = jwt.expose();
    let end = text.rfind('.').expect("three parts");
    text.as_bytes()[..end].to_vec()
}

/// One key on one signing backend, with the raw signer of the same key and the signing input
/// of a real assertion: what the signing benchmarks compare.
pub struct Backend {
    /// `rustcrypto` or `aws-lc`.
    pub name: &'static str,
    /// Safire's key on that backend.
    pub key: PrivateKey,
    /// The same key in the bare library.
    pub raw: RawSigner,
    /// The `header.claims` bytes both sign.
    pub input: Vec<u8>,
}

/// The key in `pem` on both backends: RustCrypto, then aws-lc.
pub fn backends(pem: &str) -> [Backend; 2] {
    let backend = |name: &'static str, key: PrivateKey, raw: RawSigner| {
        assert_eq!(key.backend().as_str(), name);
        let input = signing_input(&key, &mut safire_core::SeededRandom::new(1));
        Backend {
            name,
            key,
            raw,
            input,
        }
    };
    let key = || PrivateKey::from_pem(pem).expect("key");
    [
        backend(
            "rustcrypto",
            key().into_rust_crypto(),
            RawSigner::rustcrypto(pem),
        ),
        backend("aws-lc", key(), RawSigner::aws_lc(pem)),
    ]
}

/// A signer that returns a constant: the assertion minus the signature.
#[derive(Debug)]
pub struct NullSigner;

impl Signer for NullSigner {
    fn algorithm(&self) -> JwsAlgorithm {
        JwsAlgorithm::ES384
    }
    fn sign(&self, _: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(vec![7u8; 96])
    }
    fn public_jwk(&self) -> Option<Jwk> {
        None
    }
}

/// DER from the first PEM block.
pub fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .flat_map(|line| line.trim().chars())
        .collect();
    Base64::decode_vec(&body).expect("PEM body")
}

/// A signature straight from the cryptography library, with nothing of Safire around it.
pub enum RawSigner {
    /// `rsa` 0.10: PKCS#1 v1.5 + SHA-384, blinded with OS randomness (as Safire does).
    RustCryptoRsa(Box<rsa::pkcs1v15::SigningKey<Sha384>>),
    /// `p384` 0.14: ECDSA, RFC 6979 nonces.
    RustCryptoEc(Box<p384::ecdsa::SigningKey>),
    /// aws-lc-rs `RsaKeyPair` with `RSA_PKCS1_SHA384`.
    AwsLcRsa(aws_lc_rs::rsa::KeyPair),
    /// aws-lc-rs `EcdsaKeyPair` with `ECDSA_P384_SHA384_FIXED_SIGNING`.
    AwsLcEc(aws_lc_rs::signature::EcdsaKeyPair),
}

impl RawSigner {
    /// The RustCrypto key for a PKCS#8 PEM.
    pub fn rustcrypto(pem: &str) -> Self {
        use rsa::pkcs8::DecodePrivateKey;
        let der = pem_der(pem);
        match rsa::RsaPrivateKey::from_pkcs8_der(&der) {
            Ok(key) => Self::RustCryptoRsa(Box::new(rsa::pkcs1v15::SigningKey::new(key))),
            Err(_) => Self::RustCryptoEc(Box::new(
                p384::ecdsa::SigningKey::from_pkcs8_der(&der).expect("P-384 PKCS#8"),
            )),
        }
    }

    /// The aws-lc-rs key for a PKCS#8 PEM.
    pub fn aws_lc(pem: &str) -> Self {
        use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, RsaKeyPair};
        let der = pem_der(pem);
        match RsaKeyPair::from_pkcs8(&der) {
            Ok(key) => Self::AwsLcRsa(key),
            Err(_) => Self::AwsLcEc(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &der)
                    .expect("P-384 PKCS#8"),
            ),
        }
    }

    /// Signs `message`; returns the signature length (the signature itself goes to waste, as
    /// little work as possible happens around the library call).
    pub fn sign(&self, message: &[u8]) -> usize {
        use signature::SignatureEncoding;
        match self {
            Self::RustCryptoRsa(key) => {
                use signature::RandomizedSigner;
                // The OS generator (getrandom's `SysRng`), as safire-core blinds with by default.
                key.try_sign_with_rng(&mut getrandom::SysRng, message)
                    .expect("RSA")
                    .encoded_len()
            }
            Self::RustCryptoEc(key) => {
                use signature::Signer as _;
                let signature: p384::ecdsa::Signature = key.try_sign(message).expect("ECDSA");
                signature.to_bytes().len()
            }
            Self::AwsLcRsa(key) => {
                let mut out = vec![0u8; key.public_modulus_len()];
                key.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA384,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    message,
                    &mut out,
                )
                .expect("RSA");
                out.len()
            }
            Self::AwsLcEc(key) => key
                .sign(&aws_lc_rs::rand::SystemRandom::new(), message)
                .expect("ECDSA")
                .as_ref()
                .len(),
        }
    }
}

/// PKCE by hand: 96 random bytes (a 128-character verifier, as Safire makes), base64url
/// verifier, base64url SHA-256 challenge.
pub fn pkce_baseline(random: &mut dyn RandomSource) -> (String, String) {
    let mut bytes = [0u8; 96];
    random.fill_bytes(&mut bytes).expect("random");
    let verifier = Base64UrlUnpadded::encode_string(&bytes);
    let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Authorization request parameters for [`authorize_baseline`] and the Safire config.
pub struct AuthorizeInputs {
    /// Authorization endpoint.
    pub endpoint: &'static str,
    /// `client_id`.
    pub client_id: &'static str,
    /// `redirect_uri`.
    pub redirect_uri: &'static str,
    /// Requested scopes.
    pub scopes: [&'static str; 4],
    /// `aud`: the FHIR base URL.
    pub aud: &'static str,
}

/// The standalone launch used by the authorize benchmark.
pub const AUTHORIZE: AuthorizeInputs = AuthorizeInputs {
    endpoint: "https://ehr.example.com/oauth2/authorize",
    client_id: "bench-app",
    redirect_uri: "https://app.example.com/callback",
    scopes: ["launch/patient", "openid", "fhirUser", "patient/*.rs"],
    aud: "https://ehr.example.com/fhir/r4",
};

/// `N` random bytes as lowercase hex by table lookup: the state and the nonce.
fn random_hex_baseline<const N: usize>(random: &mut dyn RandomSource) -> String {
    let mut bytes = [0u8; N];
    random.fill_bytes(&mut bytes).expect("random");
    let mut hex = String::with_capacity(2 * N);
    for byte in bytes {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    hex
}

/// The authorization URL by hand: state (16 random bytes, hex), PKCE, `url` query encoding,
/// and (with `openid` among the scopes) an OpenID Connect nonce made like the state.
/// Returns the URL, the state and the verifier (what an app must keep).
pub fn authorize_baseline(
    inputs: &AuthorizeInputs,
    random: &mut dyn RandomSource,
) -> (url::Url, String, String) {
    let state = random_hex_baseline::<16>(random);
    let (verifier, challenge) = pkce_baseline(random);
    let nonce = inputs
        .scopes
        .contains(&"openid")
        .then(|| random_hex_baseline::<16>(random));
    let mut url = url::Url::parse(inputs.endpoint).expect("endpoint");
    let mut query = url.query_pairs_mut();
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", inputs.client_id)
        .append_pair("redirect_uri", inputs.redirect_uri)
        .append_pair("scope", &inputs.scopes.join(" "))
        .append_pair("state", &state)
        .append_pair("aud", inputs.aud)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    if let Some(nonce) = &nonce {
        query.append_pair("nonce", nonce);
    }
    drop(query);
    (url, state, verifier)
}

/// The authorization-code token request by hand: form body and headers as Safire sends them.
pub fn token_form_baseline(
    endpoint: &str,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
    client_id: &str,
) -> http::Request<Vec<u8>> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_verifier", verifier)
        .append_pair("client_id", client_id)
        .finish()
        .into_bytes();
    http::Request::post(endpoint)
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .expect("request")
}

/// The discovery URL the parse benchmarks pretend the document came from.
pub const DISCOVERY_URL: &str = "https://ehr.example.com/fhir/r4/.well-known/smart-configuration";
/// The authorization code of the token request benchmark.
pub const CODE: &str = "SplxlOBeZQQYbYS6WxSbIA.eyJ0aWQiOiI4ZjE0In0";
/// The PKCE verifier of the token request benchmark.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K6ZW3bD7TCrrUeXs3WAwcVbq8M";

/// The client of the authorize and token benchmarks: endpoints configured, so no discovery.
pub fn protocol_config() -> Arc<ClientConfig> {
    Arc::new(
        ClientConfig::builder(AUTHORIZE.aud)
            .client_id(AUTHORIZE.client_id)
            .redirect_uri(AUTHORIZE.redirect_uri)
            .scopes(AUTHORIZE.scopes)
            .authorization_endpoint(AUTHORIZE.endpoint)
            .token_endpoint(TOKEN_URL)
            .build()
            .expect("config"),
    )
}

/// The verified callback the token request benchmark exchanges.
pub fn authorization_code() -> AuthorizationCode {
    AuthorizationCode::new(CODE, VERIFIER, AUTHORIZE.redirect_uri)
}

/// Safire's side of the authorize start and token request benchmarks: `flow.start` at the
/// fixed [`now`] on a fresh [`AuthorizeFlow`] or authorization-code [`TokenFlow`] (no
/// discovery needed). The flow is borrowed, as `start` borrows it: a flow outlives the
/// request it makes, so the benchmarks drop it with the outputs, after timing. Never inlined,
/// so that a profile can name it (`safire_benches::start<safire_core::token::TokenFlow>`).
#[inline(never)]
pub fn start<F: Flow>(flow: &mut F, random: &mut dyn RandomSource) -> Step<F::Output> {
    flow.start(&mut Env::new(now(), random))
        .expect("the benchmark's configuration is complete")
}

/// The hand-written token request for the benchmark's inputs.
pub fn baseline_token_request() -> http::Request<Vec<u8>> {
    token_form_baseline(
        std::hint::black_box(TOKEN_URL),
        CODE,
        AUTHORIZE.redirect_uri,
        VERIFIER,
        AUTHORIZE.client_id,
    )
}

/// Panics unless Safire and the baselines produce the same URL, state, verifier, token request
/// and parse results (checked once, before anything is timed).
pub fn check_same_output() {
    let mut random = safire_core::SeededRandom::new(1);
    let mut flow = AuthorizeFlow::new(protocol_config(), AuthorizeParams::default());
    let Step::Done(request) = start(&mut flow, &mut random) else {
        panic!("the authorize start needs no discovery")
    };
    let mut random = safire_core::SeededRandom::new(1);
    let (url, state, verifier) = authorize_baseline(&AUTHORIZE, &mut random);
    assert_eq!(request.url, url);
    assert_eq!(request.pending.state(), state);
    assert_eq!(request.pending.code_verifier().expose(), verifier);

    let mut flow = TokenFlow::authorization_code(protocol_config(), authorization_code());
    let Step::Send(ours) = start(&mut flow, &mut random) else {
        panic!("the token flow sends a request")
    };
    let theirs = baseline_token_request();
    assert_eq!(ours.body(), theirs.body());
    assert_eq!(ours.uri(), theirs.uri());
    assert_eq!(ours.headers(), theirs.headers());
    assert!(SmartMetadata::from_response(DISCOVERY_URL, 200, SMART_CONFIGURATION).is_ok());
    assert!(TokenResponse::parse(200, TOKEN_RESPONSE, now()).is_ok());
}
