//! Property tests for SMART scopes: print∘parse is the identity on normalized scope strings,
//! parsing never panics, and `allows`/`access`/`difference` agree with a small independent
//! model built from the generated parts (not from the parser's output).

use proptest::prelude::*;
use safire_core::scope::{Access, Context, Permission, Permissions, ResourceType, Scope, Scopes};

const CONTEXTS: [Context; 3] = [Context::Patient, Context::User, Context::System];
const TYPES: [&str; 4] = ["Observation", "Patient", "Condition", "Zz9"];

/// One generated FHIR resource scope, kept as parts so the model does not use the parser.
#[derive(Debug, Clone)]
struct Spec {
    context: Context,
    /// `*` or a type name.
    resource: String,
    /// Bits in c, r, u, d, s order (1, 2, 4, 8, 16).
    bits: u8,
    /// Written as v1 `read`/`write`/`*` (only when the bits have a v1 spelling).
    v1: bool,
    query: Option<String>,
}

impl Spec {
    fn text(&self) -> String {
        let perms = if self.v1 {
            match self.bits {
                18 => "read".to_owned(),
                13 => "write".to_owned(),
                31 => "*".to_owned(),
                _ => unreachable!("v1 only for rs, cud, cruds"),
            }
        } else {
            "cruds"
                .chars()
                .enumerate()
                .filter(|(i, _)| self.bits & (1 << i) != 0)
                .map(|(_, c)| c)
                .collect()
        };
        let mut text = format!("{}/{}.{perms}", self.context.as_str(), self.resource);
        if let Some(query) = &self.query {
            text.push('?');
            text.push_str(query);
        }
        text
    }

    /// Model: does this scope grant `bit` on `resource_type` in `context`, unrestricted?
    fn grants(&self, context: Context, resource_type: &str, bit: u8) -> bool {
        self.context == context
            && (self.resource == "*" || self.resource == resource_type)
            && self.bits & bit != 0
    }
}

fn context() -> impl Strategy<Value = Context> {
    prop::sample::select(CONTEXTS.to_vec())
}

fn spec(types: impl Strategy<Value = String>) -> impl Strategy<Value = Spec> {
    (
        context(),
        prop_oneof![1 => Just("*".to_owned()), 3 => types],
        1u8..32,
        any::<bool>(),
        prop::option::weighted(
            0.3,
            "[a-z_]{1,8}(:[a-z]{1,4})?=[A-Za-z0-9|:/._-]{0,16}(&[a-z.]{1,6}=[a-z0-9]{0,6}){0,2}",
        ),
    )
        .prop_map(|(context, resource, bits, v1, query)| {
            let v1 = v1 && matches!(bits, 18 | 13 | 31) && query.is_none();
            Spec {
                context,
                resource,
                bits,
                v1,
                query,
            }
        })
}

fn small_types() -> impl Strategy<Value = String> {
    prop::sample::select(TYPES.to_vec()).prop_map(str::to_owned)
}

fn any_type() -> impl Strategy<Value = String> {
    "[A-Z][A-Za-z0-9]{0,15}"
}

/// Any valid scope token that is not a resource scope (fixed, launch, extension, unknown).
fn other_token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "launch",
            "launch/patient",
            "launch/encounter",
            "openid",
            "fhirUser",
            "profile",
            "offline_access",
            "online_access",
        ])
        .prop_map(str::to_owned),
        "launch/[a-z]{1,12}(\\?role=https://[a-z]{1,8}\\.example/[a-z-]{1,10})?",
        "__[A-Za-z.]{1,12}",
        "https://ehr\\.example/scopes/[a-zA-Z.]{1,12}",
        // Printable ASCII without space, '"' and '\': every RFC 6749 scope-token.
        "[!#-\\[\\]-~]{1,24}",
    ]
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => spec(any_type()).prop_map(|s| s.text()),
        1 => other_token(),
    ]
}

fn permission() -> impl Strategy<Value = Permission> {
    prop::sample::select(Permission::ALL.to_vec())
}

fn bit(p: Permission) -> u8 {
    match p {
        Permission::Create => 1,
        Permission::Read => 2,
        Permission::Update => 4,
        Permission::Delete => 8,
        Permission::Search => 16,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// print∘parse is the identity on normalized scope strings, token by token.
    #[test]
    fn print_parse_is_identity(tokens in prop::collection::vec(token(), 0..24)) {
        let text = tokens.join(" ");
        let scopes = Scopes::parse(&text);
        prop_assert_eq!(scopes.to_string(), text.as_str());
        prop_assert_eq!(scopes.len(), tokens.len());
        for (scope, token) in scopes.iter().zip(&tokens) {
            prop_assert_eq!(scope.as_str(), token.as_str());
            prop_assert_eq!(&Scope::parse(token), scope);
            prop_assert_eq!(&token.parse::<Scope>().unwrap(), scope);
        }
        // Idempotent, serde as a string.
        prop_assert_eq!(&Scopes::parse(&scopes.to_string()), &scopes);
        let json = serde_json::to_string(&scopes).unwrap();
        let back: Scopes = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back.to_string(), text.as_str());
        // No spacing finding for a normalized string.
        prop_assert!(scopes.findings().iter().all(|f| !f.message.contains("single spaces")));
    }

    /// Every generated resource scope parses to exactly its parts.
    #[test]
    fn resource_scopes_parse_to_their_parts(spec in spec(any_type())) {
        let text = spec.text();
        let scope = Scope::parse(&text);
        let Some(parsed) = scope.as_resource() else {
            return Err(TestCaseError::fail(format!("{text:?} gave {scope:?}")));
        };
        prop_assert_eq!(parsed.context(), spec.context);
        let expected = if spec.resource == "*" {
            ResourceType::Any
        } else {
            ResourceType::Named(&spec.resource)
        };
        prop_assert_eq!(parsed.resource(), expected);
        for p in Permission::ALL {
            prop_assert_eq!(parsed.permissions().contains(p), spec.bits & bit(p) != 0);
        }
        prop_assert_eq!(parsed.query(), spec.query.as_deref());
        prop_assert_eq!(scope.finding(), None);
        prop_assert_eq!(scope.to_string(), text);
    }

    /// Letters out of order or repeated are never a resource scope.
    #[test]
    fn out_of_order_permissions_are_malformed(
        context in context(),
        letters in "[cruds]{2,6}",
    ) {
        let order = |c: char| "cruds".find(c).unwrap();
        let in_order = letters.chars().zip(letters.chars().skip(1)).all(|(a, b)| order(a) < order(b));
        let text = format!("{}/Observation.{letters}", context.as_str());
        let scope = Scope::parse(&text);
        prop_assert_eq!(scope.as_resource().is_some(), in_order, "{}", text);
        if !in_order {
            prop_assert!(scope.finding().is_some_and(|f| f.is_error()));
        }
    }

    /// Parsing never panics; the list is the whitespace-separated tokens; findings are bounded
    /// and carry no control characters.
    #[test]
    fn parse_never_panics(text in prop_oneof![
        any::<String>(),
        "[ \\t\\n!-~]{0,80}",
        "((patient|user|system|launch|Patient)/[A-Za-z*]{0,8}\\.[cruds*readwit]{0,6}(\\?[a-z=&]{0,6})?[ \\t]{1,2}){0,6}",
        prop::collection::vec(any::<u8>(), 0..200).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ]) {
        let scopes = Scopes::parse(&text);
        let tokens: Vec<&str> = text.split_ascii_whitespace().collect();
        prop_assert_eq!(scopes.to_string(), tokens.join(" "));
        let findings = scopes.findings();
        prop_assert!(findings.len() <= 65);
        for f in &findings {
            prop_assert!(!f.message.chars().any(char::is_control), "{:?}", f.message);
        }
        for scope in &scopes {
            // Every Other has a finding; typed scopes print their token.
            if matches!(scope, Scope::Other(_)) {
                prop_assert!(scope.finding().is_some());
            }
            let _ = scopes.allows(Context::Patient, scope.as_str(), Permissions::CRUDS);
        }
        prop_assert!(Scopes::difference(&scopes, &scopes).is_empty());
    }

    /// `allows` and `access` agree with the model over the generated parts.
    #[test]
    fn allows_agrees_with_model(
        specs in prop::collection::vec(spec(small_types()), 0..8),
        noise in prop::collection::vec(other_token(), 0..4),
        context in context(),
        resource_type in prop_oneof![small_types(), Just("*".to_owned()), Just("Fresh".to_owned())],
        permission in permission(),
        extra in permission(),
    ) {
        let mut tokens: Vec<String> = specs.iter().map(Spec::text).collect();
        tokens.extend(noise);
        let scopes = Scopes::parse(&tokens.join(" "));

        let unrestricted = |p: Permission| {
            specs.iter().any(|s| s.query.is_none() && s.grants(context, &resource_type, bit(p)))
        };
        prop_assert_eq!(scopes.allows(context, &resource_type, permission), unrestricted(permission));
        prop_assert_eq!(
            scopes.allows(context, &resource_type, permission | extra),
            unrestricted(permission) && unrestricted(extra)
        );
        prop_assert!(scopes.allows(context, &resource_type, Permissions::NONE));

        let restricted: Vec<&str> = specs
            .iter()
            .filter(|s| s.grants(context, &resource_type, bit(permission)))
            .filter_map(|s| s.query.as_deref())
            .collect();
        let expected = if unrestricted(permission) {
            Access::Full
        } else if restricted.is_empty() {
            Access::Denied
        } else {
            Access::Restricted(restricted)
        };
        prop_assert_eq!(scopes.access(context, &resource_type, permission), expected);
    }

    /// When `difference` finds nothing between two unrestricted lists, they allow the same.
    #[test]
    fn no_difference_means_same_access(
        a in prop::collection::vec(spec(small_types()), 0..6),
        b in prop::collection::vec(spec(small_types()), 0..6),
    ) {
        let parse = |specs: &[Spec]| {
            Scopes::parse(
                &specs
                    .iter()
                    .map(|s| Spec { query: None, ..s.clone() }.text())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        };
        let (a, b) = (parse(&a), parse(&b));
        prop_assert!(Scopes::difference(&a, &a).is_empty());
        if Scopes::difference(&a, &b).is_empty() {
            for context in CONTEXTS {
                for resource_type in TYPES.iter().copied().chain(["*", "Fresh"]) {
                    for p in Permission::ALL {
                        prop_assert_eq!(
                            a.allows(context, resource_type, p),
                            b.allows(context, resource_type, p)
                        );
                    }
                }
            }
        }
        // Adding the other list's scopes to a list leaves nothing "not granted".
        let union: Scopes = a.iter().cloned().chain(b.iter().cloned()).collect();
        prop_assert!(
            Scopes::difference(&a, &union)
                .iter()
                .all(|f| !f.message.starts_with("requested"))
        );
    }
}
