//! Unit tests of the scope and parsing helpers.

use super::*;

#[test]
fn scope_coverage() {
    for (held, wanted, covered) in [
        ("system/*.rs", "system/Patient.rs", true),
        ("system/*.rs", "system/Patient.r", true),
        ("system/*.read", "system/Observation.rs", true),
        ("system/*.rs", "system/Patient.c", false),
        ("patient/*.rs", "user/Patient.rs", false),
        ("system/Patient.rs", "system/Observation.rs", false),
        ("offline_access", "offline_access", true),
        ("launch", "launch/patient", false),
    ] {
        assert_eq!(
            scope_covers(held, wanted),
            covered,
            "{held} covers {wanted}"
        );
    }
}

#[test]
fn scope_syntax() {
    for (scope, valid) in [
        ("patient/Observation.rs?category=laboratory", true),
        ("patient/*.cruds", true),
        ("patient/*.read", true),
        ("patient/*.sr", false),
        ("patient/*.", false),
        ("admin/*.rs", false),
        ("patient/observation.rs", false),
    ] {
        assert_eq!(parse_resource_scope(scope).is_some(), valid, "{scope}");
    }
}

#[test]
fn form_decoding() {
    assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
    assert_eq!(form_decode("%zz"), None);
    assert_eq!(form_decode("%4"), None);
}

#[test]
fn redirect_uri_rules() {
    for (uri, valid) in [
        ("https://app.example/cb", true),
        ("http://127.0.0.1:8080/cb", true),
        ("http://localhost/cb", true),
        ("http://[::1]/cb", true),
        ("http://app.example/cb", false),
        ("https://app.example/cb#frag", false),
        ("not a url", false),
    ] {
        assert_eq!(validate_redirect_uri(uri).is_ok(), valid, "{uri}");
    }
}
