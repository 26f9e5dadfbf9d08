//! Hostile input: oversized and garbage requests get OAuth errors, never a crash.

use super::*;

#[test]
fn hostile_input_gets_oauth_errors_not_crashes() {
    let sb = start();
    let addr = sb.local_addr();
    // Oversized body.
    let big = vec![b'a'; 100 * 1024];
    let r = http(
        addr,
        "POST",
        &path_of(&sb.token_url()),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &big,
    );
    assert_eq!(r.status, 413);
    // Deterministic garbage (xorshift) into every endpoint, GET and POST.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet = b"=&%+.:-_~ abcXYZ019/?\xff\x00\"{}[]";
    for i in 0..120 {
        let len = (next() % 200) as usize;
        let body: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let endpoint = Endpoint::ALL[i % Endpoint::ALL.len()];
        let ct = if i % 3 == 0 {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        let auth = match i % 4 {
            0 => "Basic Og==".to_string(),
            1 => format!(
                "Basic {}",
                <base64ct::Base64 as base64ct::Encoding>::encode_string(&body)
            ),
            2 => "Bearer x".to_string(),
            _ => "Basic".to_string(),
        };
        let r = http(
            addr,
            "POST",
            &path_of(&sb.url(endpoint)),
            &[("Content-Type", ct), ("Authorization", &auth)],
            &body,
        );
        assert!(r.status < 500, "{endpoint:?} {i}: {} {}", r.status, r.body);
        let q = String::from_utf8_lossy(&body)
            .replace([' ', '\u{fffd}', '\0', '"', '{', '}', '[', ']'], "");
        let r = http(
            addr,
            "GET",
            &format!("{}?{q}", path_of(&sb.authorize_url())),
            &[],
            b"",
        );
        assert!(
            r.status == 400 || r.status == 302,
            "{i}: {} {}",
            r.status,
            r.body
        );
        // The oddest JWS-looking assertions.
        let jws = format!("{}.{}.{}", q, q, q);
        let r = post_form(
            addr,
            &sb.token_url(),
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &jws),
            ],
            None,
        );
        assert_eq!((r.status, r.error().as_str()), (401, "invalid_client"));
    }
    // Still serving.
    assert_eq!(get(addr, &sb.url(Endpoint::SmartConfiguration)).status, 200);
}
