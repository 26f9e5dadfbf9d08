//! `EhrLaunch::from_url(url, allow_list)`.
//!
//! Input: UTF-8. If it contains a newline, the first line is one more allow-list entry
//! (beside three fixed ones) and the rest is the launch URL.
//! Invariants:
//! - Ok ⇒ the returned `iss` (minus one trailing slash) equals an allow-list entry (minus one
//!   trailing slash), and some reading of the URL's query has exactly that `iss` and `launch`
//!   (each present once);
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

/// Every plausible reading of the launch URL's query (the query of the text parsed as a URL,
/// the text after a leading `?` or after the first `?` of a path and query, the whole text), so the check does not depend on exactly how
/// `from_url` tells a URL from a bare query.
fn candidate_queries(launch_url: &str) -> Vec<String> {
    let trimmed = launch_url.trim();
    let mut queries = vec![trimmed.to_owned()];
    if let Some(q) = trimmed.strip_prefix('?') {
        queries.push(q.to_owned());
    }
    // A path and its query (`/launch?iss=…`): the text after the first `?`, without fragment.
    if let Some((_, q)) = trimmed.split_once('?') {
        queries.push(q.split_once('#').map_or(q, |(q, _)| q).to_owned());
    }
    if let Ok(url) = url::Url::parse(trimmed) {
        queries.push(url.query().unwrap_or("").to_owned());
    }
    queries
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
            let justified = candidate_queries(launch_url).iter().any(|query| {
                let values = |name: &str| {
                    url::form_urlencoded::parse(query.as_bytes())
                        .filter(|(k, _)| k == name)
                        .map(|(_, v)| v.into_owned())
                        .collect::<Vec<_>>()
                };
                values("iss") == [launch.iss.clone()] && values("launch") == [launch.launch.clone()]
            });
            assert!(
                justified,
                "no reading of the URL has exactly this iss and launch"
            );
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
