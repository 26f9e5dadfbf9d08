use super::parse::{QUOTE_MAX, quote};
use super::*;
use crate::finding::{MAX_FINDINGS, Severity};

fn resource(text: &str) -> ResourceScope {
    match Scope::parse(text) {
        Scope::Resource(s) => s,
        other => panic!("{text:?} parsed as {other:?}"),
    }
}

fn other_error(text: &str, needle: &str) {
    let scope = Scope::parse(text);
    assert_eq!(scope, Scope::Other(text.to_owned()), "{text:?}");
    let finding = scope.finding().expect("a finding");
    assert_eq!(finding.severity, Severity::Error, "{text:?}: {finding}");
    assert_eq!(finding.field.as_deref(), Some("scope"));
    assert!(
        finding.message.contains(needle),
        "{text:?}: {:?} lacks {needle:?}",
        finding.message
    );
}

// --- the specification's examples ----------------------------------------------------------

#[test]
fn v2_with_query() {
    let s = resource("patient/Observation.rs?category=laboratory");
    assert_eq!(s.context(), Context::Patient);
    assert_eq!(s.resource(), ResourceType::Named("Observation"));
    assert_eq!(s.permissions(), Permissions::RS);
    assert_eq!(s.query(), Some("category=laboratory"));
    assert!(s.is_restricted());
    assert_eq!(s.version(), ScopeVersion::V2);
    assert_eq!(s.as_str(), "patient/Observation.rs?category=laboratory");
}

#[test]
fn spec_query_with_system_and_code() {
    // The specification's own example: a token system URL with '|' and '.' in the value.
    let text = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory";
    let s = resource(text);
    assert_eq!(s.resource(), ResourceType::Named("Observation"));
    assert_eq!(
        s.query(),
        Some("category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory")
    );
    let s = resource(
        "patient/Observation.rs?code:in=http://valueset.example.org/ValueSet/diabetes-codes&patient.birthdate=1990",
    );
    assert_eq!(
        s.query(),
        Some("code:in=http://valueset.example.org/ValueSet/diabetes-codes&patient.birthdate=1990")
    );
}

#[test]
fn user_wildcard_cruds() {
    let s = resource("user/*.cruds");
    assert_eq!(s.context(), Context::User);
    assert_eq!(s.resource(), ResourceType::Any);
    assert_eq!(s.permissions(), Permissions::CRUDS);
    assert_eq!(s.query(), None);
    assert_eq!(s.version(), ScopeVersion::V2);
}

#[test]
fn system_single_letter() {
    let s = resource("system/Patient.r");
    assert_eq!(s.context(), Context::System);
    assert_eq!(s.resource(), ResourceType::Named("Patient"));
    assert_eq!(s.permissions(), Permissions::R);
    let s = resource("system/Encounter.cud");
    assert_eq!(s.permissions(), Permissions::CUD);
    let s = resource("patient/Observation.c");
    assert_eq!(s.permissions(), Permissions::C);
}

#[test]
fn v1_scopes_have_their_v2_meaning() {
    let s = resource("patient/*.read");
    assert_eq!(
        (s.context(), s.resource(), s.permissions(), s.version()),
        (
            Context::Patient,
            ResourceType::Any,
            Permissions::RS,
            ScopeVersion::V1
        )
    );
    let s = resource("user/Observation.write");
    assert_eq!(
        (s.resource(), s.permissions(), s.version()),
        (
            ResourceType::Named("Observation"),
            Permissions::CUD,
            ScopeVersion::V1
        )
    );
    let s = resource("user/*.*");
    assert_eq!(
        (s.resource(), s.permissions(), s.version()),
        (ResourceType::Any, Permissions::CRUDS, ScopeVersion::V1)
    );
    // Printing keeps the v1 spelling.
    assert_eq!(s.to_string(), "user/*.*");
}

#[test]
fn launch_and_identity_scopes() {
    for (text, scope) in [
        ("launch", Scope::Launch),
        ("launch/patient", Scope::LaunchPatient),
        ("launch/encounter", Scope::LaunchEncounter),
        ("openid", Scope::OpenId),
        ("fhirUser", Scope::FhirUser),
        ("profile", Scope::Profile),
        ("offline_access", Scope::OfflineAccess),
        ("online_access", Scope::OnlineAccess),
    ] {
        let parsed = Scope::parse(text);
        assert_eq!(parsed, scope);
        assert_eq!(parsed.as_str(), text);
        assert_eq!(parsed.finding(), None);
    }
    let s = Scope::parse("launch/imagingstudy");
    assert_eq!(s, Scope::LaunchContext("launch/imagingstudy".into()));
    assert_eq!(s.launch_context(), Some("imagingstudy"));
    assert_eq!(s.finding(), None);
    let s = Scope::parse("launch/list?role=https://example.org/med-list-at-home");
    assert_eq!(
        s.launch_context(),
        Some("list?role=https://example.org/med-list-at-home")
    );
    assert_eq!(s.finding(), None);
    // Launch context scopes are lower case: kept, with a warning.
    let s = Scope::parse("launch/ImagingStudy");
    assert!(matches!(s, Scope::LaunchContext(_)));
    let f = s.finding().expect("warning");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("lower case"));
    // Case matters for the identity scopes.
    assert!(matches!(Scope::parse("OpenID"), Scope::Other(_)));
    assert!(matches!(Scope::parse("fhiruser"), Scope::Other(_)));
}

#[test]
fn extension_scopes_have_no_finding() {
    for text in [
        "__profilePhoto.manage",
        "https://ehr.example.org/scopes/profilePhoto.manage",
        "urn:example:scope",
    ] {
        let s = Scope::parse(text);
        assert_eq!(s, Scope::Extension(text.into()));
        assert_eq!(s.finding(), None);
    }
}

// --- malformed scopes ----------------------------------------------------------------------

#[test]
fn malformed_resource_scopes_are_kept_with_an_error() {
    other_error("patient/.rs", "resource type");
    other_error("patient/Observation.xyz", "'cruds'");
    other_error("patient/Observation.sr", "in the order c, r, u, d, s");
    other_error("patient/Observation.dus", "in the order");
    other_error("patient/Observation.rrs", "at most once");
    other_error("patient/Observation.ss", "at most once");
    other_error("patient/Observation.", "no permissions");
    other_error("patient/Observation", "no '.'");
    other_error("patient/observation.rs", "resource type");
    other_error("patient/Obs-ervation.rs", "resource type");
    other_error("patient/Observation.RS", "'cruds'");
    other_error("patient/Observation.Read", "'cruds'");
    other_error("patient/Observation.rs?", "'param=value'");
    other_error("patient/Observation.rs?category", "'param=value'");
    other_error("patient/Observation.rs?=x", "'param=value'");
    other_error("patient/Observation.rs?a=1&&b=2", "'param=value'");
    other_error("patient/Observation.read?category=laboratory", "v1 scopes");
    other_error("patient/*.*?a=b", "v1 scopes");
    other_error("Patient/Observation.rs", "context is lower case");
    other_error("USER/*.cruds", "context is lower case");
    other_error("launch/", "launch context");
    other_error("launch/list?role", "launch context");
    other_error("launch/my-list", "launch context");
    other_error("patient/Observation.rs\u{7}", "not a valid OAuth scope");
    other_error("patient/Obsérvation.rs", "not a valid OAuth scope");
    other_error("say\"hi\"", "not a valid OAuth scope");
    other_error("back\\slash", "not a valid OAuth scope");
}

#[test]
fn unknown_scopes_are_kept_with_a_warning() {
    for text in [
        "email",
        "phone",
        "patient",
        "smart/orchestrate_launch",
        "read:all",
    ] {
        let s = Scope::parse(text);
        // "read:all" has a URI-like scheme: it is an extension by the SMART convention.
        if text == "read:all" {
            assert_eq!(s, Scope::Extension(text.into()));
            continue;
        }
        assert_eq!(s, Scope::Other(text.into()), "{text}");
        let f = s.finding().expect("warning");
        assert_eq!(f.severity, Severity::Warning, "{text}");
        assert!(f.message.contains("not a scope SMART App Launch defines"));
    }
}

#[test]
fn finding_quotes_are_bounded_and_escaped() {
    let long = format!("patient/{}.rs", "A".repeat(10_000)) + "\u{1}";
    let f = Scope::parse(&long).finding().expect("finding");
    assert!(f.message.len() < 400, "{}", f.message.len());
    assert!(f.message.contains('…'));
    let quoted = quote(&"\u{1}".repeat(1_000));
    assert_eq!(
        quoted.chars().count(),
        QUOTE_MAX + 1,
        "20 escapes of 5 and the ellipsis"
    );
    assert_eq!(quote("abc"), "abc");
    assert_eq!(quote(&"a".repeat(QUOTE_MAX)), "a".repeat(QUOTE_MAX));
    assert_eq!(
        quote(&"a".repeat(QUOTE_MAX + 1)),
        "a".repeat(QUOTE_MAX) + "…"
    );
    let f = Scope::parse("x\u{1b}[31my").finding().expect("finding");
    assert!(!f.message.chars().any(char::is_control), "{:?}", f.message);
    assert!(f.message.contains("\\u{1b}"));
}

#[test]
fn fuzz_regression_long_escaped_quote_is_bounded() {
    // fuzz/regressions/scope/long-escaped-quote: a token of control characters made a
    // 605-character message (the quote was bounded in input characters, not in output).
    let token = format!("offi\u{0}al~n_ecc{}", "\u{12}".repeat(40));
    let f = Scope::parse(&token).finding().expect("finding");
    assert!(f.message.chars().count() < 300, "{}", f.message);
    assert!(!f.message.chars().any(char::is_control));
}

// --- lists ---------------------------------------------------------------------------------

#[test]
fn empty_and_blank_strings() {
    let s = Scopes::parse("");
    assert!(s.is_empty());
    assert_eq!(s.to_string(), "");
    assert!(s.findings().is_empty());
    let s = Scopes::parse("   ");
    assert!(s.is_empty());
    assert_eq!(s.findings().len(), 1);
}

#[test]
fn multiple_spaces_and_other_separators() {
    for text in [
        "openid  launch",
        " openid launch",
        "openid launch ",
        "openid\tlaunch",
        "openid\nlaunch",
        "openid \r\nlaunch",
    ] {
        let s = Scopes::parse(text);
        assert_eq!(s.to_string(), "openid launch", "{text:?}");
        let findings = s.findings();
        assert_eq!(findings.len(), 1, "{text:?}");
        assert!(findings[0].message.contains("single spaces"));
        assert_eq!(s, Scopes::parse("openid launch"));
    }
    assert!(Scopes::parse("openid launch").findings().is_empty());
    // A non-ASCII space is not a separator: it makes an invalid token.
    let s = Scopes::parse("openid\u{a0}launch");
    assert_eq!(s.len(), 1);
    assert!(s.findings()[0].is_error());
}

#[test]
fn print_parse_identity_on_the_spec_examples() {
    let text = "launch/patient openid fhirUser offline_access patient/*.rs user/*.cruds \
                system/Patient.r patient/Observation.rs?category=laboratory patient/*.read \
                user/Observation.write launch/list?role=https://example.org/x __custom \
                patient/.rs patient/Observation.sr email";
    let scopes = Scopes::parse(text);
    assert_eq!(scopes.len(), 15);
    assert_eq!(scopes.to_string(), text);
    assert_eq!(Scopes::parse(&scopes.to_string()), scopes);
    let json = serde_json::to_string(&scopes).expect("json");
    assert_eq!(json, format!("\"{text}\""));
    let back: Scopes = serde_json::from_str(&json).expect("back");
    assert_eq!(back, scopes);
    assert_eq!(back.to_string(), text);
    let findings = scopes.findings();
    assert_eq!(findings.len(), 3, "{findings:?}");
    assert!(findings[0].is_error() && findings[1].is_error() && !findings[2].is_error());
}

#[test]
fn scope_serde_is_a_string() {
    let s = Scope::parse("patient/*.rs");
    assert_eq!(serde_json::to_string(&s).expect("json"), "\"patient/*.rs\"");
    let back: Scope = serde_json::from_str("\"launch/patient\"").expect("back");
    assert_eq!(back, Scope::LaunchPatient);
    assert!(serde_json::from_str::<Scopes>("3").is_err());
}

#[test]
fn every_repeat_is_reported() {
    let s = Scopes::parse("openid openid openid patient/*.rs patient/*.rs");
    let findings = s.findings();
    assert_eq!(findings.len(), 3);
    assert!(
        findings
            .iter()
            .all(|f| f.message.contains("more than once"))
    );
}

#[test]
fn findings_are_bounded() {
    let text = vec!["patient/.rs"; 5_000].join(" ");
    let findings = Scopes::parse(&text).findings();
    assert_eq!(findings.len(), MAX_FINDINGS + 1);
    assert!(
        findings
            .last()
            .is_some_and(|f| f.message.contains("omitted"))
    );
    let a = Scopes::parse(
        &(0..5_000)
            .map(|i| format!("patient/T{i}.r"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    assert_eq!(
        Scopes::difference(&a, &Scopes::new()).len(),
        MAX_FINDINGS + 1
    );
}

// --- constructors and builder --------------------------------------------------------------

#[test]
fn constructors() {
    assert_eq!(
        Scope::patient("Observation", Permissions::RS),
        Scope::parse("patient/Observation.rs")
    );
    assert_eq!(
        Scope::user("*", Permissions::CRUDS),
        Scope::parse("user/*.cruds")
    );
    assert_eq!(Scope::system_all_read(), Scope::parse("system/*.rs"));
    assert_eq!(Scope::patient_all_read(), Scope::parse("patient/*.rs"));
    assert_eq!(Scope::user_all_read(), Scope::parse("user/*.rs"));
    // Permissions print in order whatever order they were combined in.
    assert_eq!(
        Scope::system(
            "Encounter",
            Permissions::D | Permissions::C | Permissions::U
        )
        .to_string(),
        "system/Encounter.cud"
    );
    // Invalid input: kept as Other with a finding, no panic.
    let s = Scope::patient("Observation", Permissions::NONE);
    assert_eq!(s, Scope::Other("patient/Observation.".into()));
    assert!(s.finding().is_some_and(|f| f.is_error()));
    let s = Scope::patient("", Permissions::R);
    assert!(matches!(s, Scope::Other(_)));
}

#[test]
fn with_query() {
    let s = Scope::patient("Observation", Permissions::RS).with_query("category=laboratory");
    let r = s.as_resource().expect("resource");
    assert_eq!(r.query(), Some("category=laboratory"));
    assert_eq!(r.resource(), ResourceType::Named("Observation"));
    let s = s.with_query("category=vital-signs&date=ge2020");
    assert_eq!(
        s.to_string(),
        "patient/Observation.rs?category=vital-signs&date=ge2020"
    );
    assert_eq!(
        s.with_query("").to_string(),
        "patient/Observation.rs",
        "an empty query removes the restriction"
    );
    // v1 scopes take no query.
    let s = Scope::parse("patient/*.read").with_query("a=b");
    assert!(matches!(s, Scope::Other(_)));
    // Malformed query.
    let s = Scope::patient("Observation", Permissions::R).with_query("nonsense");
    assert!(matches!(s, Scope::Other(_)));
    // launch/<type> roles.
    let s = Scope::parse("launch/list").with_query("role=https://example.org/home");
    assert_eq!(
        s,
        Scope::LaunchContext("launch/list?role=https://example.org/home".into())
    );
}

#[test]
fn builder_skips_duplicates_and_keeps_order() {
    let scopes = Scopes::builder()
        .launch_encounter()
        .online_access()
        .user("Appointment", Permissions::CRUDS)
        .system("Patient", Permissions::R)
        .scopes([Scope::OpenId, Scope::FhirUser, Scope::OpenId])
        .launch_encounter()
        .build();
    assert_eq!(
        scopes.to_string(),
        "launch/encounter online_access user/Appointment.cruds system/Patient.r openid fhirUser"
    );
    let collected: Scopes = scopes.clone().into_iter().collect();
    assert_eq!(collected, scopes);
    let strings: Vec<String> = scopes.iter().map(String::from).collect();
    assert_eq!(strings.len(), 6);
}

// --- allows / access -----------------------------------------------------------------------

#[test]
fn allows_wildcards_v1_v2_and_unions() {
    let g = Scopes::parse(
        "patient/*.read user/Observation.write system/Patient.r system/Patient.s \
         patient/AllergyIntolerance.cud",
    );
    assert!(g.allows(Context::Patient, "Observation", Permissions::RS));
    assert!(g.allows(Context::Patient, "Anything", Permission::Search));
    assert!(!g.allows(Context::Patient, "Observation", Permission::Create));
    // v1 write is cud, not r.
    assert!(g.allows(Context::User, "Observation", Permissions::CUD));
    assert!(!g.allows(Context::User, "Observation", Permission::Read));
    // Permissions add up across scopes.
    assert!(g.allows(Context::System, "Patient", Permissions::RS));
    assert!(g.allows(Context::Patient, "AllergyIntolerance", Permissions::CRUDS));
    // Contexts do not mix.
    assert!(!g.allows(Context::System, "Observation", Permission::Read));
    assert!(!g.allows(Context::User, "Patient", Permission::Read));
    // Asking for nothing is allowed.
    assert!(Scopes::new().allows(Context::User, "Patient", Permissions::NONE));
    // A named scope does not answer for '*'; a wildcard does.
    assert!(!Scopes::parse("user/Patient.r").allows(Context::User, "*", Permission::Read));
    assert!(Scopes::parse("user/*.r").allows(Context::User, "*", Permission::Read));
}

#[test]
fn restricted_scopes_never_allow_but_show_in_access() {
    let g = Scopes::parse("patient/Observation.rs?category=laboratory");
    assert!(!g.allows(Context::Patient, "Observation", Permission::Read));
    assert_eq!(
        g.access(Context::Patient, "Observation", Permission::Read),
        Access::Restricted(vec!["category=laboratory"])
    );
    assert_eq!(
        g.access(Context::Patient, "Observation", Permission::Create),
        Access::Denied
    );
    let g = Scopes::parse("patient/Observation.rs?category=laboratory patient/*.r");
    assert!(g.allows(Context::Patient, "Observation", Permission::Read));
    assert_eq!(
        g.access(Context::Patient, "Observation", Permission::Read),
        Access::Full
    );
    assert_eq!(
        g.access(Context::Patient, "Observation", Permission::Search),
        Access::Restricted(vec!["category=laboratory"])
    );
    assert!(!Access::Denied.is_granted());
}

#[test]
fn malformed_scopes_grant_nothing() {
    let g = Scopes::parse("patient/Observation.sr patient/.rs Patient/Observation.rs");
    for p in Permission::ALL {
        assert!(!g.allows(Context::Patient, "Observation", p));
        assert_eq!(g.access(Context::Patient, "Observation", p), Access::Denied);
    }
}

// --- difference ----------------------------------------------------------------------------

#[test]
fn difference_follows_the_spec_allergy_table() {
    let requested = Scopes::parse("patient/AllergyIntolerance.cruds");
    let cases: [(&str, &[&str]); 8] = [
        ("patient/AllergyIntolerance.cruds", &[]),
        (
            "patient/AllergyIntolerance.rs patient/AllergyIntolerance.cud",
            &[],
        ),
        (
            "patient/AllergyIntolerance.rs",
            &[
                "requested scope 'patient/AllergyIntolerance.cruds' was only partly granted: missing 'cud'",
            ],
        ),
        (
            "patient/AllergyIntolerance.cud",
            &[
                "requested scope 'patient/AllergyIntolerance.cruds' was only partly granted: missing 'rs'",
            ],
        ),
        (
            "patient/*.rs",
            &[
                "requested scope 'patient/AllergyIntolerance.cruds' was only partly granted: missing 'cud'",
                "scope 'patient/*.rs' was granted but not requested",
            ],
        ),
        (
            "patient/*.cruds",
            &["scope 'patient/*.cruds' was granted but not requested"],
        ),
        (
            "patient/Observation.rs",
            &[
                "requested scope 'patient/AllergyIntolerance.cruds' was not granted",
                "scope 'patient/Observation.rs' was granted but not requested",
            ],
        ),
        (
            "",
            &["requested scope 'patient/AllergyIntolerance.cruds' was not granted"],
        ),
    ];
    for (granted, expected) in cases {
        let findings = Scopes::difference(&requested, &Scopes::parse(granted));
        let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(messages, expected, "granted {granted:?}");
        assert!(findings.iter().all(|f| f.severity == Severity::Warning));
    }
}

#[test]
fn difference_v1_v2_queries_and_other_scopes() {
    // v1 and v2 spellings of the same grant are equal.
    for (a, b) in [
        ("patient/*.read", "patient/*.rs"),
        ("user/Observation.write", "user/Observation.cud"),
        ("system/*.*", "system/*.cruds"),
        ("system/*.*", "system/*.r system/*.s system/*.cud"),
    ] {
        let (a, b) = (Scopes::parse(a), Scopes::parse(b));
        assert!(Scopes::difference(&a, &b).is_empty());
        assert!(Scopes::difference(&b, &a).is_empty());
    }
    // Granted more than requested within one scope.
    let f = Scopes::difference(
        &Scopes::parse("user/Observation.r"),
        &Scopes::parse("user/Observation.rs"),
    );
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].message,
        "scope 'user/Observation.rs' was granted with more than requested: 's'"
    );
    // Queries: an unrestricted grant covers a restricted request, not the other way round.
    let lab = Scopes::parse("patient/Observation.rs?category=laboratory");
    let all = Scopes::parse("patient/Observation.rs");
    assert_eq!(Scopes::difference(&lab, &all).len(), 1); // granted broader than requested
    // Requested unrestricted, granted only the laboratory part: one finding (the grant is
    // covered by the request).
    assert_eq!(Scopes::difference(&all, &lab).len(), 1);
    let vitals = Scopes::parse("patient/Observation.rs?category=vital-signs");
    assert_eq!(Scopes::difference(&lab, &vitals).len(), 2);
    assert!(Scopes::difference(&lab, &lab).is_empty());
    // Non-resource scopes compare as written.
    let f = Scopes::difference(
        &Scopes::parse("launch openid fhirUser offline_access"),
        &Scopes::parse("launch openid online_access"),
    );
    let messages: Vec<&str> = f.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "requested scope 'fhirUser' was not granted",
            "requested scope 'offline_access' was not granted",
            "scope 'online_access' was granted but not requested",
        ]
    );
    // Contexts do not cover each other.
    assert_eq!(
        Scopes::difference(&Scopes::parse("patient/*.rs"), &Scopes::parse("user/*.rs")).len(),
        2
    );
}

// --- small pieces --------------------------------------------------------------------------

#[test]
fn permissions_letters() {
    assert_eq!(Permissions::from_letters("cruds"), Some(Permissions::CRUDS));
    assert_eq!(
        Permissions::from_letters("cs"),
        Some(Permissions::C | Permissions::S)
    );
    for bad in ["", "sr", "rr", "x", "CRUDS", "crudsx"] {
        assert_eq!(Permissions::from_letters(bad), None, "{bad:?}");
    }
    for bits in 1..32u8 {
        let p = Permissions(bits);
        assert_eq!(Permissions::from_letters(&p.to_string()), Some(p));
    }
    assert_eq!(format!("{:?}", Permissions::RS), "Permissions(rs)");
    assert_eq!(
        Permissions::CRUDS.without(Permissions::RS),
        Permissions::CUD
    );
    assert_eq!(
        Permissions::CRUDS.intersection(Permissions::R),
        Permissions::R
    );
    assert_eq!(Permission::Read | Permission::Search, Permissions::RS);
    assert_eq!(Permissions::R | Permission::Search, Permissions::RS);
}

#[test]
fn debug_is_the_text() {
    let s = Scopes::parse("patient/*.rs openid");
    assert_eq!(format!("{s:?}"), r#"["patient/*.rs", "openid"]"#);
    assert_eq!(
        format!("{:?}", Scope::parse("patient/*.rs")),
        r#"Resource(ResourceScope("patient/*.rs"))"#
    );
}
