//! `EhrLaunch::from_url(url, allow_list)`.
//!
//! Input: UTF-8. If it contains a newline, the first line is one more allow-list entry
//! (beside three fixed ones) and the rest is the launch URL.
//! Invariants:
//! - Ok ⇒ the returned `iss` (minus one trailing slash) equals an allow-list entry (minus one
//!   trailing slash), and `iss`/`launch` are the values of the `iss`/`launch` parameters of the
//!   URL's query (each present exactly once);
//! - Err texts are bounded quotes of the input: no control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use safire_core::EhrLaunch;

const FIXED: [&str; 3] = [
    "https://ehr.example/fhir",
    "https://ehr2.example/r4/",
    "http://localhost:8080/fhir",
];

fn norm(s: &str) -> &str {
    s.strip_suffix('/').unwrap_or(s)
}

fn model_query(launch_url: &str) -> Option<String> {
    let trimmed = launch_url.trim();
    if let Some(q) = trimmed.strip_prefix('?') {
        return Some(q.to_owned());
    }
    let head = trimmed.split(['?', '#']).next().unwrap_or("");
    if head.contains("://") {
        return Some(
            url::Url::parse(trimmed)
                .ok()?
                .query()
                .unwrap_or("")
                .to_owned(),
        );
    }
    Some(trimmed.to_owned())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (extra, launch_url) = match text.split_once('\n') {
        Some((first, rest)) => (Some(first), rest),
        None => (None, text),
    };
    let mut allow: Vec<&str> = FIXED.to_vec();
    allow.extend(extra);

    match EhrLaunch::from_url(launch_url, &allow) {
        Ok(launch) => {
            assert!(
                allow.iter().any(|a| norm(a) == norm(&launch.iss)),
                "iss {:?} not on the allow-list {allow:?}",
                launch.iss
            );
            let query = model_query(launch_url).expect("Ok for an unparsable URL");
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let values = |name: &str| {
                pairs
                    .iter()
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(values("iss"), [launch.iss.clone()]);
            assert_eq!(values("launch"), [launch.launch.clone()]);
        }
        Err(e) => {
            let detail = e.detail.clone().unwrap_or_default();
            // The quoted iss passes through server_text: at most 300 chars + "…" of the input.
            assert!(!detail.chars().any(char::is_control), "{detail:?}");
            assert!(
                detail.chars().count() <= 300 + 200,
                "{} chars",
                detail.chars().count()
            );
            let _ = format!("{e} {e:?}");
        }
    }
});
