//! Unit tests of the scope and parsing helpers.

use super::*;

#[test]
fn scope_coverage() {
    assert!(scope_covers("system/*.rs", "system/Patient.rs"));
    assert!(scope_covers("system/*.rs", "system/Patient.r"));
    assert!(scope_covers("system/*.read", "system/Observation.rs"));
    assert!(!scope_covers("system/*.rs", "system/Patient.c"));
    assert!(!scope_covers("patient/*.rs", "user/Patient.rs"));
    assert!(!scope_covers("system/Patient.rs", "system/Observation.rs"));
    assert!(scope_covers("offline_access", "offline_access"));
    assert!(!scope_covers("launch", "launch/patient"));
}

#[test]
fn scope_syntax() {
    assert!(parse_resource_scope("patient/Observation.rs?category=laboratory").is_some());
    assert!(parse_resource_scope("patient/*.cruds").is_some());
    assert!(parse_resource_scope("patient/*.read").is_some());
    assert!(parse_resource_scope("patient/*.sr").is_none());
    assert!(parse_resource_scope("patient/*.").is_none());
    assert!(parse_resource_scope("admin/*.rs").is_none());
    assert!(parse_resource_scope("patient/observation.rs").is_none());
}

#[test]
fn form_decoding() {
    assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
    assert_eq!(form_decode("%zz"), None);
    assert_eq!(form_decode("%4"), None);
}

#[test]
fn redirect_uri_rules() {
    assert!(validate_redirect_uri("https://app.example/cb").is_ok());
    assert!(validate_redirect_uri("http://127.0.0.1:8080/cb").is_ok());
    assert!(validate_redirect_uri("http://localhost/cb").is_ok());
    assert!(validate_redirect_uri("http://[::1]/cb").is_ok());
    assert!(validate_redirect_uri("http://app.example/cb").is_err());
    assert!(validate_redirect_uri("https://app.example/cb#frag").is_err());
    assert!(validate_redirect_uri("not a url").is_err());
}
