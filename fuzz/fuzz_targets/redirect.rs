//! `redirect::next_hop(sent, response, hops_taken, policy)`.
//!
//! Input: a fixed-size header decoded with `arbitrary` (method, sent URL choice, status, hop
//! count, policy, which credentials the request carries, whether to plant a canary in the
//! query of the `Location` and of the sent URL), then the raw `Location` bytes. When the sent
//! URL choice is odd, the tail is `<sent URL>\n<Location>` instead (a fuzzed sent URL).
//! Invariants:
//! - only 301/302/303/307/308 with a textual `Location` can be anything but `Ok(None)`;
//! - anything but GET/HEAD is never followed;
//! - followed ⇒ target is https, or http to a loopback host with the opt-in; same method,
//!   body and `Operation`; `hops_taken < max_hops`;
//! - followed to a different origin ⇒ no `Authorization`, no `Cookie`; same origin ⇒ kept;
//! - error messages never contain the query or fragment of the `Location` or the sent URL.
#![no_main]

use std::net::IpAddr;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use safire_core::Operation;
use safire_core::http::{self, Method, header};
use safire_core::RedirectPolicy;
use safire_core::transport::next_hop;
use url::Url;

const SENT: [&str; 8] = [
    "https://ehr.example/fhir/.well-known/smart-configuration",
    "https://ehr.example:8443/a/b?x=1",
    "http://127.0.0.1:8080/fhir/.well-known/smart-configuration",
    "http://localhost/fhir",
    "https://[::1]/x",
    "http://ehr.example/a",
    "https://xn--bcher-kva.example/a",
    "http://127.1.2.3:9/a/b/c",
];
const CANARY_LOCATION: &str = "LOCCANARY9f2c";
const CANARY_SENT: &str = "SENTCANARY4b1d";

#[derive(Debug)]
enum SentUrl {
    Fixed(u8),
    Fuzzed(String),
}

/// 12 bytes; integers little-endian, bools are the low bit of one byte.
#[derive(Arbitrary, Debug)]
struct Header {
    method: u8,
    sent: u8,
    status: u16,
    hops_taken: u8,
    max_hops: u8,
    allow_insecure_localhost: bool,
    authorization: bool,
    cookie: bool,
    plant_location_query: bool,
    plant_sent_query: bool,
    operation: u8,
}

fn loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(input) = Header::arbitrary(&mut u) else {
        return;
    };
    let tail = u.take_rest();
    let (sent_choice, location) = if input.sent & 1 == 0 {
        (SentUrl::Fixed(input.sent >> 1), tail)
    } else {
        let Some(nl) = tail.iter().position(|b| *b == b'\n') else {
            return;
        };
        let Ok(s) = std::str::from_utf8(&tail[..nl]) else {
            return;
        };
        (SentUrl::Fuzzed(s.to_owned()), &tail[nl + 1..])
    };
    let method = match input.method % 7 {
        0 | 1 => Method::GET,
        2 => Method::HEAD,
        3 => Method::POST,
        4 => Method::PUT,
        5 => Method::DELETE,
        _ => Method::PATCH,
    };
    let mut sent_url = match &sent_choice {
        SentUrl::Fixed(i) => SENT[usize::from(*i) % SENT.len()].to_owned(),
        SentUrl::Fuzzed(s) => s.clone(),
    };
    if input.plant_sent_query {
        sent_url.push_str(if sent_url.contains('?') { "&t=" } else { "?t=" });
        sent_url.push_str(CANARY_SENT);
    }
    let Ok(uri) = sent_url.parse::<http::Uri>() else {
        return;
    };
    let mut builder = http::Request::builder().method(method.clone()).uri(uri);
    if input.authorization {
        builder = builder.header(header::AUTHORIZATION, "Bearer canary-bearer");
    }
    if input.cookie {
        builder = builder.header(header::COOKIE, "session=canary-cookie");
    }
    let Ok(mut sent) = builder.body(b"grant_type=client_credentials".to_vec()) else {
        return;
    };
    let operation = match input.operation % 4 {
        0 => None,
        1 => Some(Operation::Discovery),
        2 => Some(Operation::Token),
        _ => Some(Operation::Registration),
    };
    if let Some(op) = operation {
        sent.extensions_mut().insert(op);
    }

    let mut location = location.to_vec();
    let fuzzed_location = location.clone();
    if input.plant_location_query {
        location.extend_from_slice(b"?code=");
        location.extend_from_slice(CANARY_LOCATION.as_bytes());
    }
    let Ok(status) = http::StatusCode::from_u16(input.status % 1000) else {
        return;
    };
    let mut response = http::Response::builder().status(status);
    let location_value = http::HeaderValue::from_bytes(&location).ok();
    if let Some(v) = &location_value {
        response = response.header(header::LOCATION, v.clone());
    }
    let response = response.body(Vec::new()).unwrap();
    let mut policy = RedirectPolicy::default();
    policy.max_hops = usize::from(input.max_hops % 8);
    policy.allow_insecure_localhost = input.allow_insecure_localhost;
    let hops = usize::from(input.hops_taken % 10);

    let result = next_hop(&sent, &response, hops, &policy);
    let followable = matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308);
    let textual_location = location_value.as_ref().is_some_and(|v| v.to_str().is_ok());
    if !followable || !textual_location {
        assert!(
            matches!(result, Ok(None)),
            "non-redirect handled: {result:?}"
        );
        return;
    }
    match result {
        Ok(None) => panic!("a followable redirect with a Location passed through"),
        Ok(Some(next)) => {
            assert!(
                method == Method::GET || method == Method::HEAD,
                "{method} followed"
            );
            assert!(hops < policy.max_hops, "followed past the hop limit");
            assert_eq!(next.method(), &method);
            assert_eq!(next.body(), sent.body());
            assert_eq!(next.extensions().get::<Operation>(), operation.as_ref());
            let target = Url::parse(&next.uri().to_string()).expect("followed to a non-URL");
            match target.scheme() {
                "https" => {}
                "http" => assert!(
                    policy.allow_insecure_localhost && loopback(&target),
                    "followed to insecure {target}"
                ),
                other => panic!("followed to scheme {other}"),
            }
            assert!(
                target.username().is_empty() && target.password().is_none(),
                "followed to a URL with userinfo"
            );
            let from = Url::parse(&sent.uri().to_string()).unwrap();
            if operation == Some(Operation::Discovery) {
                // Discovery stays on its origin by default (an http -> https upgrade of the
                // same host is fine).
                let upgrade = from.scheme() == "http"
                    && target.scheme() == "https"
                    && from.host_str() == target.host_str();
                assert!(
                    target.origin() == from.origin() || upgrade,
                    "discovery followed to another origin {target}"
                );
            }
            if target.origin() != from.origin() {
                assert!(
                    !next.headers().contains_key(header::AUTHORIZATION),
                    "Authorization kept cross-origin"
                );
                assert!(
                    !next.headers().contains_key(header::COOKIE),
                    "Cookie kept cross-origin"
                );
            } else {
                assert_eq!(
                    next.headers().get(header::AUTHORIZATION),
                    sent.headers().get(header::AUTHORIZATION)
                );
            }
        }
        Err(e) => {
            let text = format!("{e} | {e:?}");
            // URL parsing drops tabs and newlines anywhere, so "S\tENTCANARY" counts as
            // containing "SENTCANARY".
            let squeezed: Vec<u8> = fuzzed_location
                .iter()
                .copied()
                .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r'))
                .collect();
            let fuzzed_has = |c: &str| {
                squeezed.windows(c.len()).any(|w| w == c.as_bytes())
                    || matches!(&sent_choice, SentUrl::Fuzzed(s) if s.contains(c))
            };
            if input.plant_location_query && !fuzzed_has(CANARY_LOCATION) {
                assert!(
                    !text.contains(CANARY_LOCATION),
                    "Location query in error: {text}"
                );
            }
            if input.plant_sent_query && !fuzzed_has(CANARY_SENT) {
                assert!(!text.contains(CANARY_SENT), "sent query in error: {text}");
            }
            assert!(!text.contains("canary-bearer") && !text.contains("canary-cookie"));
            assert!(
                !text.contains("client_credentials"),
                "request body in error: {text}"
            );
        }
    }
});
