//! SMART discovery metadata (`.well-known/smart-configuration`, SMART App Launch 2.2 §Conformance).
//!
//! [`SmartMetadata`] types every field the specification defines and keeps unknown fields.
//! Parsing is lenient: a field with the wrong JSON type is treated as absent and reported by
//! [`SmartMetadata::compliance_findings`], so one sloppy field never makes a server unusable.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::DiscoveryError;
use crate::finding::{Finding, Findings};
use crate::json::{Fields, into_string_array, string_array, type_name};

/// The two client-assertion algorithms SMART App Launch 2.2 requires (`private_key_jwt`).
const SMART_ASYMMETRIC_ALGORITHMS: [&str; 2] = ["RS384", "ES384"];

/// What each known field must be, for wrong-type findings, in document order.
const KNOWN_FIELDS: [(&str, &str); 18] = [
    ("issuer", "a string"),
    ("jwks_uri", "a string"),
    ("authorization_endpoint", "a string"),
    ("grant_types_supported", "an array of strings"),
    ("token_endpoint", "a string"),
    (
        "token_endpoint_auth_methods_supported",
        "an array of strings",
    ),
    (
        "token_endpoint_auth_signing_alg_values_supported",
        "an array of strings",
    ),
    ("registration_endpoint", "a string"),
    (
        "associated_endpoints",
        "an array of objects with a string url and a capabilities array of strings",
    ),
    ("user_access_brand_bundle", "a string"),
    ("user_access_brand_identifier", "a string"),
    ("scopes_supported", "an array of strings"),
    ("response_types_supported", "an array of strings"),
    ("management_endpoint", "a string"),
    ("introspection_endpoint", "a string"),
    ("revocation_endpoint", "a string"),
    ("capabilities", "an array of strings"),
    ("code_challenge_methods_supported", "an array of strings"),
];

const PREFIX: &str = "SMART metadata non-compliance:";

/// A SMART server's discovery document.
///
/// Built leniently with [`SmartMetadata::from_json_object`] (also what `Deserialize` does), so
/// a cached document serializes back to the server's JSON and reads back equal. Lists absent
/// from the document are empty. Fields with the wrong JSON type are absent here and kept, as
/// sent, in [`extra`](Self::extra), where [`compliance_findings`](Self::compliance_findings)
/// reports them.
///
/// ```
/// use safire_core::SmartMetadata;
/// let doc = br#"{
///   "issuer": "https://ehr.example",
///   "jwks_uri": "https://ehr.example/jwks",
///   "authorization_endpoint": "https://ehr.example/authorize",
///   "token_endpoint": "https://ehr.example/token",
///   "grant_types_supported": ["authorization_code", "client_credentials"],
///   "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
///   "capabilities": ["launch-ehr", "client-public", "client-confidential-asymmetric", "sso-openid-connect"],
///   "code_challenge_methods_supported": ["S256"]
/// }"#;
/// let meta = SmartMetadata::from_response("https://ehr.example/.well-known/smart-configuration", 200, doc)?;
/// assert!(meta.supports_ehr_launch());
/// assert!(meta.supports_backend_services());
/// assert!(meta.compliance_findings().is_empty());
/// # Ok::<(), safire_core::DiscoveryError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "Map<String, Value>")]
pub struct SmartMetadata {
    /// `issuer`: required when `sso-openid-connect` is advertised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// `jwks_uri`: the server's public keys; required with `sso-openid-connect`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `authorization_endpoint`: required when `launch-ehr` or `launch-standalone` is advertised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// `grant_types_supported` (required), e.g. `authorization_code`, `client_credentials`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_types_supported: Vec<String>,
    /// `token_endpoint` (required). Absent is a finding; flows that need it report
    /// [`require_token_endpoint`](Self::require_token_endpoint)'s error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// `token_endpoint_auth_methods_supported`, e.g. `client_secret_basic`, `private_key_jwt`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `token_endpoint_auth_signing_alg_values_supported`, e.g. `RS384`, `ES384`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// `registration_endpoint`: dynamic client registration (RFC 7591).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    /// `associated_endpoints`: other endpoints sharing this authorization server.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub associated_endpoints: Vec<AssociatedEndpoint>,
    /// `user_access_brand_bundle`: URL of a FHIR Bundle of brands (patient-facing apps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_access_brand_bundle: Option<String>,
    /// `user_access_brand_identifier`: this endpoint's brand within the bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_access_brand_identifier: Option<String>,
    /// `scopes_supported`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// `response_types_supported`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response_types_supported: Vec<String>,
    /// `management_endpoint`: where users manage their authorizations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub management_endpoint: Option<String>,
    /// `introspection_endpoint` (RFC 7662).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// `revocation_endpoint` (RFC 7009).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// `capabilities` (required), e.g. `launch-ehr`, `client-public`, `permission-v2`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// `code_challenge_methods_supported` (required; must contain `S256`, never `plain`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub code_challenge_methods_supported: Vec<String>,
    /// Every other member of the document, plus known fields whose JSON type was wrong (kept
    /// as sent, so a finding can report them and serialization reproduces the document).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One entry of `associated_endpoints`: another endpoint served by the same authorization
/// server, and what it can do.
///
/// ```
/// use safire_core::AssociatedEndpoint;
/// let ep = AssociatedEndpoint {
///     url: "https://imaging.example/dicom-web".into(),
///     capabilities: vec!["smart-imaging-access".into()],
/// };
/// assert_eq!(ep.capabilities.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssociatedEndpoint {
    /// The endpoint's base URL.
    pub url: String,
    /// What it supports.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

impl From<Map<String, Value>> for SmartMetadata {
    fn from(map: Map<String, Value>) -> Self {
        SmartMetadata::from_json_object(map)
    }
}

/// The index of a known field in [`KNOWN_FIELDS`].
fn key_index(key: &str) -> Option<usize> {
    Some(match key {
        "issuer" => 0,
        "jwks_uri" => 1,
        "authorization_endpoint" => 2,
        "grant_types_supported" => 3,
        "token_endpoint" => 4,
        "token_endpoint_auth_methods_supported" => 5,
        "token_endpoint_auth_signing_alg_values_supported" => 6,
        "registration_endpoint" => 7,
        "associated_endpoints" => 8,
        "user_access_brand_bundle" => 9,
        "user_access_brand_identifier" => 10,
        "scopes_supported" => 11,
        "response_types_supported" => 12,
        "management_endpoint" => 13,
        "introspection_endpoint" => 14,
        "revocation_endpoint" => 15,
        "capabilities" => 16,
        "code_challenge_methods_supported" => 17,
        _ => return None,
    })
}

/// Moves known fields out of the document, in [`KNOWN_FIELDS`] order, parking wrong-typed
/// values in `wrong`.
struct Taker {
    fields: Fields<18>,
    next: usize,
    wrong: Map<String, Value>,
}

impl Taker {
    /// The next known field (absent or `null`: `None`) and its name.
    fn take(&mut self) -> (Option<Value>, &'static str) {
        let i = self.next;
        self.next += 1;
        let name = KNOWN_FIELDS.get(i).map_or("", |(name, _)| name);
        (self.fields.take(i), name)
    }

    fn string(&mut self) -> Option<String> {
        match self.take() {
            (None, _) => None,
            (Some(Value::String(s)), _) => Some(s),
            (Some(other), name) => {
                self.wrong.insert(name.to_owned(), other);
                None
            }
        }
    }

    fn strings(&mut self) -> Vec<String> {
        let (Some(value), name) = self.take() else {
            return Vec::new();
        };
        match into_string_array(value) {
            Ok(list) => list,
            Err(value) => {
                self.wrong.insert(name.to_owned(), value);
                Vec::new()
            }
        }
    }

    fn associated_endpoints(&mut self) -> Vec<AssociatedEndpoint> {
        let (Some(value), name) = self.take() else {
            return Vec::new();
        };
        match parse_associated(&value) {
            Some(list) => list,
            None => {
                self.wrong.insert(name.to_owned(), value);
                Vec::new()
            }
        }
    }
}

fn parse_associated(value: &Value) -> Option<Vec<AssociatedEndpoint>> {
    let Value::Array(items) = value else {
        return None;
    };
    items
        .iter()
        .map(|item| {
            let obj = item.as_object()?;
            let url = obj.get("url")?.as_str()?.to_owned();
            let capabilities = match obj.get("capabilities") {
                None | Some(Value::Null) => Vec::new(),
                Some(c) => string_array(c)?,
            };
            Some(AssociatedEndpoint { url, capabilities })
        })
        .collect()
}

fn present(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|s| !s.trim().is_empty())
}

impl SmartMetadata {
    /// Builds metadata from a discovery JSON object. Never fails.
    ///
    /// A known field of the wrong JSON type (or an array with a wrong-typed element) is treated
    /// as absent and kept in [`extra`](Self::extra) so that
    /// [`compliance_findings`](Self::compliance_findings) reports it; `null` counts as absent.
    ///
    /// ```
    /// use safire_core::SmartMetadata;
    /// let json = serde_json::json!({"capabilities": "launch-ehr", "token_endpoint": "https://ehr.example/token"});
    /// let meta = SmartMetadata::from_json_object(json.as_object().unwrap().clone());
    /// assert!(meta.capabilities.is_empty());
    /// assert!(meta.compliance_findings().iter().any(|f| f.field.as_deref() == Some("capabilities")));
    /// ```
    pub fn from_json_object(map: Map<String, Value>) -> SmartMetadata {
        SmartMetadata::from_fields(Fields::from_map(map, key_index))
    }

    /// Parses a discovery body: `from_json_object(parse_object(body)?)`, without the map.
    pub(crate) fn from_body(body: &[u8]) -> Option<SmartMetadata> {
        Fields::parse(body, key_index).map(SmartMetadata::from_fields)
    }

    fn from_fields(fields: Fields<18>) -> SmartMetadata {
        let mut t = Taker {
            fields,
            next: 0,
            wrong: Map::new(),
        };
        // In KNOWN_FIELDS order.
        let issuer = t.string();
        let jwks_uri = t.string();
        let authorization_endpoint = t.string();
        let grant_types_supported = t.strings();
        let token_endpoint = t.string();
        let token_endpoint_auth_methods_supported = t.strings();
        let token_endpoint_auth_signing_alg_values_supported = t.strings();
        let registration_endpoint = t.string();
        let associated_endpoints = t.associated_endpoints();
        let user_access_brand_bundle = t.string();
        let user_access_brand_identifier = t.string();
        let scopes_supported = t.strings();
        let response_types_supported = t.strings();
        let management_endpoint = t.string();
        let introspection_endpoint = t.string();
        let revocation_endpoint = t.string();
        let capabilities = t.strings();
        let code_challenge_methods_supported = t.strings();
        let Taker {
            fields, mut wrong, ..
        } = t;
        let mut extra = fields.extra;
        extra.append(&mut wrong);
        SmartMetadata {
            issuer,
            jwks_uri,
            authorization_endpoint,
            grant_types_supported,
            token_endpoint,
            token_endpoint_auth_methods_supported,
            token_endpoint_auth_signing_alg_values_supported,
            registration_endpoint,
            associated_endpoints,
            user_access_brand_bundle,
            user_access_brand_identifier,
            scopes_supported,
            response_types_supported,
            management_endpoint,
            introspection_endpoint,
            revocation_endpoint,
            capabilities,
            code_challenge_methods_supported,
            extra,
        }
    }

    /// Parses a discovery response: a 2xx status and a JSON object body (whatever the content
    /// type). `endpoint` is the well-known URL, used in the error.
    ///
    /// Errors: non-2xx → [`DiscoveryError`] with the status; any other body → description
    /// `response is not a usable JSON object`.
    ///
    /// ```
    /// use safire_core::SmartMetadata;
    /// let url = "https://ehr.example/.well-known/smart-configuration";
    /// let err = SmartMetadata::from_response(url, 404, b"Not Found").unwrap_err();
    /// assert_eq!(err.to_string(), format!("Failed to discover SMART configuration from {url} (HTTP 404)"));
    /// ```
    pub fn from_response(
        endpoint: &str,
        status: u16,
        body: &[u8],
    ) -> Result<SmartMetadata, DiscoveryError> {
        if !(200..300).contains(&status) {
            return Err(DiscoveryError::new(endpoint, Some(status), None));
        }
        match SmartMetadata::from_body(body) {
            Some(meta) => Ok(meta),
            None => Err(DiscoveryError::new(
                endpoint,
                Some(status),
                Some("response is not a usable JSON object".to_owned()),
            )),
        }
    }

    /// The token endpoint, or the [`DiscoveryError`] a flow reports when the document lacks it
    /// (`response missing required field 'token_endpoint'`). `discovery_url` names the document.
    ///
    /// ```
    /// use safire_core::SmartMetadata;
    /// let meta = SmartMetadata::from_json_object(serde_json::Map::new());
    /// let err = meta.require_token_endpoint("https://ehr.example/.well-known/smart-configuration").unwrap_err();
    /// assert!(err.to_string().ends_with(": response missing required field 'token_endpoint'"));
    /// ```
    pub fn require_token_endpoint(&self, discovery_url: &str) -> Result<&str, DiscoveryError> {
        match self.token_endpoint.as_deref() {
            Some(endpoint) if !endpoint.trim().is_empty() => Ok(endpoint),
            _ => Err(DiscoveryError::new(
                discovery_url,
                None,
                Some("response missing required field 'token_endpoint'".to_owned()),
            )),
        }
    }

    /// True when `capabilities` lists `capability` (exact match).
    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// EHR launch: `launch-ehr` and an authorization endpoint.
    pub fn supports_ehr_launch(&self) -> bool {
        self.has_capability("launch-ehr") && present(&self.authorization_endpoint)
    }

    /// Standalone launch: `launch-standalone` and an authorization endpoint.
    pub fn supports_standalone_launch(&self) -> bool {
        self.has_capability("launch-standalone") && present(&self.authorization_endpoint)
    }

    /// Public clients: `client-public`.
    pub fn supports_public_auth(&self) -> bool {
        self.has_capability("client-public")
    }

    /// Client secrets: `client-confidential-symmetric`, and auth methods absent or listing
    /// `client_secret_basic` (the method Safire uses).
    pub fn supports_symmetric_auth(&self) -> bool {
        self.has_capability("client-confidential-symmetric")
            && self.auth_method_allowed("client_secret_basic")
    }

    /// `private_key_jwt`: `client-confidential-asymmetric`, auth methods absent or listing
    /// `private_key_jwt`, and RS384 or ES384 usable
    /// (see [`asymmetric_signing_algorithms_supported`](Self::asymmetric_signing_algorithms_supported)).
    pub fn supports_asymmetric_auth(&self) -> bool {
        self.has_capability("client-confidential-asymmetric")
            && self.auth_method_allowed("private_key_jwt")
            && !self.asymmetric_signing_algorithms_supported().is_empty()
    }

    /// The assertion algorithms Safire can use with this server: the server's
    /// `token_endpoint_auth_signing_alg_values_supported` ∩ {RS384, ES384} in the server's
    /// order without duplicates, or both when the server lists none.
    ///
    /// ```
    /// use safire_core::SmartMetadata;
    /// let json = serde_json::json!({"token_endpoint_auth_signing_alg_values_supported": ["ES384", "RS256", "RS384"]});
    /// let meta = SmartMetadata::from_json_object(json.as_object().unwrap().clone());
    /// assert_eq!(meta.asymmetric_signing_algorithms_supported(), ["ES384", "RS384"]);
    /// ```
    pub fn asymmetric_signing_algorithms_supported(&self) -> Vec<&'static str> {
        let server = &self.token_endpoint_auth_signing_alg_values_supported;
        if server.is_empty() {
            return SMART_ASYMMETRIC_ALGORITHMS.to_vec();
        }
        let mut out: Vec<&'static str> = Vec::new();
        for alg in server {
            if let Some(known) = SMART_ASYMMETRIC_ALGORITHMS.iter().find(|k| **k == alg)
                && !out.contains(known)
            {
                out.push(known);
            }
        }
        out
    }

    /// Backend services: `client_credentials` grant and asymmetric client authentication.
    pub fn supports_backend_services(&self) -> bool {
        self.grant_types_supported
            .iter()
            .any(|g| g == "client_credentials")
            && self.supports_asymmetric_auth()
    }

    /// Dynamic client registration: a `registration_endpoint`.
    pub fn supports_dynamic_registration(&self) -> bool {
        present(&self.registration_endpoint)
    }

    /// POST-based authorization requests: `authorize-post`.
    pub fn supports_post_based_authorization(&self) -> bool {
        self.has_capability("authorize-post")
    }

    /// OpenID Connect: `sso-openid-connect`, an `issuer` and a `jwks_uri`.
    pub fn supports_openid_connect(&self) -> bool {
        self.has_capability("sso-openid-connect")
            && present(&self.issuer)
            && present(&self.jwks_uri)
    }

    fn auth_method_allowed(&self, method: &str) -> bool {
        let methods = &self.token_endpoint_auth_methods_supported;
        methods.is_empty() || methods.iter().any(|m| m == method)
    }

    /// Every way the document departs from SMART App Launch 2.2. Never fails (upstream ADR-008).
    ///
    /// Errors: required fields missing (`grant_types_supported`, `token_endpoint`,
    /// `capabilities`, `code_challenge_methods_supported`; `issuer` and `jwks_uri` with
    /// `sso-openid-connect`; `authorization_endpoint` with `launch-ehr`/`launch-standalone`;
    /// empty lists and blank strings count as missing), `S256` absent, `plain` present,
    /// wrong-typed fields, endpoints that are not https URLs, asymmetric client auth advertised
    /// without RS384/ES384 or without `private_key_jwt`. Warnings: http on a loopback host.
    ///
    /// ```
    /// use safire_core::{Severity, SmartMetadata};
    /// let json = serde_json::json!({"capabilities": ["launch-standalone"], "code_challenge_methods_supported": ["S256", "plain"]});
    /// let meta = SmartMetadata::from_json_object(json.as_object().unwrap().clone());
    /// let messages: Vec<String> = meta.compliance_findings().into_iter().map(|f| f.message).collect();
    /// assert!(messages.contains(&"SMART metadata non-compliance: required field 'token_endpoint' is missing".to_string()));
    /// assert!(messages.iter().any(|m| m.contains("'plain' is present")));
    /// ```
    pub fn compliance_findings(&self) -> Vec<Finding> {
        let mut out = Findings::default();
        self.required_findings(&mut out);
        self.pkce_findings(&mut out);
        for (name, expected) in KNOWN_FIELDS {
            if let Some(value) = self.extra.get(name) {
                out.error(
                    name,
                    format!(
                        "{PREFIX} field '{name}' has the wrong JSON type ({}; expected {expected}) and was ignored",
                        type_name(value)
                    ),
                );
            }
        }
        self.url_findings(&mut out);
        if self.has_capability("client-confidential-asymmetric") {
            if !self.auth_method_allowed("private_key_jwt") {
                out.error(
                    "token_endpoint_auth_methods_supported",
                    format!(
                        "{PREFIX} capability 'client-confidential-asymmetric' is advertised but \
                         token_endpoint_auth_methods_supported does not include 'private_key_jwt'"
                    ),
                );
            }
            if self.asymmetric_signing_algorithms_supported().is_empty() {
                out.error(
                    "token_endpoint_auth_signing_alg_values_supported",
                    format!(
                        "{PREFIX} capability 'client-confidential-asymmetric' is advertised but \
                         token_endpoint_auth_signing_alg_values_supported includes neither RS384 \
                         nor ES384 (SMART App Launch 2.2.0 requires them)"
                    ),
                );
            }
        }
        out.into_vec()
    }

    fn required_findings(&self, out: &mut Findings) {
        let mut required: Vec<(&str, bool)> = vec![
            (
                "grant_types_supported",
                !self.grant_types_supported.is_empty(),
            ),
            ("token_endpoint", present(&self.token_endpoint)),
            ("capabilities", !self.capabilities.is_empty()),
            (
                "code_challenge_methods_supported",
                !self.code_challenge_methods_supported.is_empty(),
            ),
        ];
        if self.has_capability("sso-openid-connect") {
            required.push(("issuer", present(&self.issuer)));
            required.push(("jwks_uri", present(&self.jwks_uri)));
        }
        if self.has_capability("launch-ehr") || self.has_capability("launch-standalone") {
            required.push((
                "authorization_endpoint",
                present(&self.authorization_endpoint),
            ));
        }
        for (name, is_present) in required {
            // A wrong-typed value is reported as such, not also as missing.
            if !is_present && !self.extra.contains_key(name) {
                out.error(name, format!("{PREFIX} required field '{name}' is missing"));
            }
        }
    }

    fn pkce_findings(&self, out: &mut Findings) {
        let methods = &self.code_challenge_methods_supported;
        if !methods.iter().any(|m| m == "S256") {
            out.error(
                "code_challenge_methods_supported",
                format!(
                    "{PREFIX} 'S256' is missing from code_challenge_methods_supported \
                     (SMART App Launch 2.2.0 requires S256)"
                ),
            );
        }
        if methods.iter().any(|m| m == "plain") {
            out.error(
                "code_challenge_methods_supported",
                format!(
                    "{PREFIX} 'plain' is present in code_challenge_methods_supported \
                     (SMART App Launch 2.2.0 prohibits plain)"
                ),
            );
        }
    }

    fn url_findings(&self, out: &mut Findings) {
        let singles = [
            ("issuer", &self.issuer),
            ("jwks_uri", &self.jwks_uri),
            ("authorization_endpoint", &self.authorization_endpoint),
            ("token_endpoint", &self.token_endpoint),
            ("registration_endpoint", &self.registration_endpoint),
            ("user_access_brand_bundle", &self.user_access_brand_bundle),
            ("management_endpoint", &self.management_endpoint),
            ("introspection_endpoint", &self.introspection_endpoint),
            ("revocation_endpoint", &self.revocation_endpoint),
        ];
        for (name, value) in singles {
            if let Some(url) = value.as_deref().filter(|s| !s.trim().is_empty()) {
                check_url(out, name, url);
            }
        }
        for (i, ep) in self.associated_endpoints.iter().enumerate() {
            check_url(out, &format!("associated_endpoints[{i}].url"), &ep.url);
        }
    }
}

/// Reports a URL that does not parse, is not https, or is http on a loopback host (warning).
fn check_url(out: &mut Findings, field: &str, raw: &str) {
    let parsed = match url::Url::parse(raw) {
        Ok(u) if u.host().is_some() => u,
        _ => {
            out.error(
                field,
                format!("{PREFIX} {field} is not a valid absolute URL"),
            );
            return;
        }
    };
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(&parsed) => out.warning(
            field,
            format!(
                "SMART metadata: {field} uses http on a loopback host; acceptable for local \
                 testing only (SMART App Launch 2.2.0 requires TLS)"
            ),
        ),
        _ => out.error(
            field,
            format!("{PREFIX} {field} is not an https URL (SMART App Launch 2.2.0 requires TLS)"),
        ),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;
    use serde_json::json;

    const DISCOVERY_URL: &str = "https://ehr.example.org/fhir/.well-known/smart-configuration";

    /// The SMART App Launch 2.2 example discovery document (every field, clean).
    const SPEC_EXAMPLE: &str = r#"{
      "issuer": "https://ehr.example.com",
      "jwks_uri": "https://ehr.example.com/.well-known/jwks.json",
      "authorization_endpoint": "https://ehr.example.com/auth/authorize",
      "grant_types_supported": ["authorization_code", "client_credentials"],
      "token_endpoint": "https://ehr.example.com/auth/token",
      "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
      "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
      "registration_endpoint": "https://ehr.example.com/auth/register",
      "associated_endpoints": [
        {"url": "https://ehr.example.com/dicom", "capabilities": ["smart-imaging-access"]}
      ],
      "user_access_brand_bundle": "https://ehr.example.com/brands.json",
      "user_access_brand_identifier": "example-brand",
      "scopes_supported": ["openid", "profile", "launch", "launch/patient", "patient/*.rs", "user/*.rs", "offline_access"],
      "response_types_supported": ["code"],
      "management_endpoint": "https://ehr.example.com/user/manage",
      "introspection_endpoint": "https://ehr.example.com/user/introspect",
      "revocation_endpoint": "https://ehr.example.com/user/revoke",
      "capabilities": [
        "launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
        "client-confidential-asymmetric", "context-passthrough-banner", "context-passthrough-style",
        "context-ehr-patient", "context-ehr-encounter", "context-standalone-patient",
        "context-standalone-encounter", "permission-offline", "permission-patient", "permission-user",
        "permission-v1", "permission-v2", "authorize-post", "sso-openid-connect"
      ],
      "code_challenge_methods_supported": ["S256"],
      "smart_app_state_endpoint": "https://ehr.example.com/app-state"
    }"#;

    /// What the oidc-provider harness serves (loopback http, oidc-provider's alg list).
    const OIDC_PROVIDER: &str = r#"{
      "issuer": "http://127.0.0.1:8462",
      "jwks_uri": "http://127.0.0.1:8462/jwks",
      "authorization_endpoint": "http://127.0.0.1:8462/auth",
      "token_endpoint": "http://127.0.0.1:8462/token",
      "registration_endpoint": "http://127.0.0.1:8462/reg",
      "introspection_endpoint": "http://127.0.0.1:8462/token/introspection",
      "revocation_endpoint": "http://127.0.0.1:8462/token/revocation",
      "grant_types_supported": ["implicit", "authorization_code", "refresh_token", "client_credentials"],
      "response_types_supported": ["code"],
      "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_jwt", "client_secret_post", "private_key_jwt", "none"],
      "token_endpoint_auth_signing_alg_values_supported": ["HS256", "RS256", "PS256", "ES256", "EdDSA", "RS384", "ES384"],
      "code_challenge_methods_supported": ["S256"],
      "scopes_supported": ["openid", "fhirUser", "launch", "launch/patient", "offline_access", "system/*.rs"],
      "capabilities": [
        "launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
        "client-confidential-asymmetric", "context-ehr-patient", "context-ehr-encounter",
        "context-standalone-patient", "context-standalone-encounter", "context-passthrough-banner",
        "context-passthrough-style", "permission-offline", "permission-online", "permission-patient",
        "permission-user", "permission-v1", "permission-v2", "sso-openid-connect"
      ]
    }"#;

    /// An Epic-like sloppy document: RS256 only, plain PKCE, OIDC without jwks_uri, a
    /// wrong-typed field, an http endpoint and a string `grant_types_supported`.
    const SLOPPY: &str = r#"{
      "issuer": "https://fhir.vendor.example/oauth2",
      "authorization_endpoint": "https://fhir.vendor.example/oauth2/authorize",
      "token_endpoint": "https://fhir.vendor.example/oauth2/token",
      "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "private_key_jwt"],
      "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
      "grant_types_supported": "authorization_code client_credentials",
      "scopes_supported": ["epic.scanning.dmsusername", "fhirUser", "launch", "openid", "profile"],
      "response_types_supported": ["code"],
      "management_endpoint": {"href": "https://fhir.vendor.example/manage"},
      "introspection_endpoint": "http://fhir.vendor.example/oauth2/introspect",
      "capabilities": [
        "launch-ehr", "launch-standalone", "client-public", "client-confidential-symmetric",
        "client-confidential-asymmetric", "sso-openid-connect", "permission-v2"
      ],
      "code_challenge_methods_supported": ["S256", "plain"]
    }"#;

    fn meta(doc: &str) -> SmartMetadata {
        SmartMetadata::from_response(DISCOVERY_URL, 200, doc.as_bytes()).unwrap()
    }

    fn from(value: serde_json::Value) -> SmartMetadata {
        SmartMetadata::from_json_object(value.as_object().unwrap().clone())
    }

    fn messages(m: &SmartMetadata) -> Vec<String> {
        m.compliance_findings()
            .into_iter()
            .map(|f| f.message)
            .collect()
    }

    /// A clean minimal document that the rule tests modify one field at a time.
    fn base() -> serde_json::Value {
        json!({
            "token_endpoint": "https://ehr.example/token",
            "grant_types_supported": ["authorization_code"],
            "capabilities": ["client-public"],
            "code_challenge_methods_supported": ["S256"]
        })
    }

    fn with(key: &str, value: serde_json::Value) -> SmartMetadata {
        let mut doc = base();
        doc.as_object_mut().unwrap().insert(key.into(), value);
        from(doc)
    }

    #[test]
    fn spec_example_is_fully_typed_and_clean() {
        let m = meta(SPEC_EXAMPLE);
        assert_eq!(m.issuer.as_deref(), Some("https://ehr.example.com"));
        assert_eq!(
            m.token_endpoint.as_deref(),
            Some("https://ehr.example.com/auth/token")
        );
        assert_eq!(m.capabilities.len(), 18);
        assert_eq!(
            m.associated_endpoints,
            [AssociatedEndpoint {
                url: "https://ehr.example.com/dicom".into(),
                capabilities: vec!["smart-imaging-access".into()],
            }]
        );
        assert_eq!(
            m.user_access_brand_identifier.as_deref(),
            Some("example-brand")
        );
        assert_eq!(m.extra.len(), 1);
        assert!(m.extra.contains_key("smart_app_state_endpoint"));
        assert_eq!(m.compliance_findings(), []);
        assert!(m.supports_ehr_launch());
        assert!(m.supports_standalone_launch());
        assert!(m.supports_public_auth());
        assert!(m.supports_symmetric_auth());
        assert!(m.supports_asymmetric_auth());
        assert!(m.supports_backend_services());
        assert!(m.supports_dynamic_registration());
        assert!(m.supports_post_based_authorization());
        assert!(m.supports_openid_connect());
        assert_eq!(
            m.asymmetric_signing_algorithms_supported(),
            ["RS384", "ES384"]
        );
    }

    #[test]
    fn oidc_provider_document() {
        let m = meta(OIDC_PROVIDER);
        assert!(m.supports_backend_services());
        assert!(m.supports_openid_connect());
        assert!(!m.supports_post_based_authorization());
        assert_eq!(
            m.asymmetric_signing_algorithms_supported(),
            ["RS384", "ES384"]
        );
        let findings = m.compliance_findings();
        // Only loopback-http warnings, one per endpoint.
        assert_eq!(findings.len(), 7);
        assert!(findings.iter().all(|f| f.severity == Severity::Warning));
        assert!(
            findings
                .iter()
                .any(|f| f.field.as_deref() == Some("token_endpoint"))
        );
    }

    #[test]
    fn sloppy_document_is_usable_and_reported() {
        let m = meta(SLOPPY);
        assert!(m.supports_ehr_launch());
        assert!(m.supports_symmetric_auth());
        assert!(!m.supports_asymmetric_auth(), "RS256 only");
        assert!(m.asymmetric_signing_algorithms_supported().is_empty());
        assert!(!m.supports_backend_services());
        assert!(!m.supports_openid_connect(), "no jwks_uri");
        assert!(m.grant_types_supported.is_empty());
        assert_eq!(m.management_endpoint, None);
        assert!(m.extra.contains_key("management_endpoint"));

        let findings = m.compliance_findings();
        let text: Vec<String> = findings.iter().map(ToString::to_string).collect();
        let expected = [
            "error: SMART metadata non-compliance: required field 'jwks_uri' is missing",
            "error: SMART metadata non-compliance: 'plain' is present in code_challenge_methods_supported (SMART App Launch 2.2.0 prohibits plain)",
            "error: SMART metadata non-compliance: field 'grant_types_supported' has the wrong JSON type (string; expected an array of strings) and was ignored",
            "error: SMART metadata non-compliance: field 'management_endpoint' has the wrong JSON type (object; expected a string) and was ignored",
            "error: SMART metadata non-compliance: introspection_endpoint is not an https URL (SMART App Launch 2.2.0 requires TLS)",
            "error: SMART metadata non-compliance: capability 'client-confidential-asymmetric' is advertised but token_endpoint_auth_signing_alg_values_supported includes neither RS384 nor ES384 (SMART App Launch 2.2.0 requires them)",
        ];
        assert_eq!(text, expected);
    }

    #[test]
    fn clean_base_has_no_findings() {
        assert_eq!(from(base()).compliance_findings(), []);
    }

    #[test]
    fn each_required_field_is_reported_in_order() {
        let m = from(json!({}));
        assert_eq!(
            messages(&m),
            [
                "SMART metadata non-compliance: required field 'grant_types_supported' is missing",
                "SMART metadata non-compliance: required field 'token_endpoint' is missing",
                "SMART metadata non-compliance: required field 'capabilities' is missing",
                "SMART metadata non-compliance: required field 'code_challenge_methods_supported' is missing",
                "SMART metadata non-compliance: 'S256' is missing from code_challenge_methods_supported (SMART App Launch 2.2.0 requires S256)",
            ]
        );
        for (key, value) in [
            ("grant_types_supported", json!([])),
            ("token_endpoint", json!("  ")),
            ("capabilities", json!(null)),
        ] {
            let m = with(key, value);
            assert_eq!(
                messages(&m),
                [format!(
                    "SMART metadata non-compliance: required field '{key}' is missing"
                )]
            );
        }
    }

    #[test]
    fn conditional_requirements() {
        let m = with("capabilities", json!(["sso-openid-connect"]));
        assert_eq!(
            messages(&m),
            [
                "SMART metadata non-compliance: required field 'issuer' is missing",
                "SMART metadata non-compliance: required field 'jwks_uri' is missing",
            ]
        );
        for cap in ["launch-ehr", "launch-standalone"] {
            let m = with("capabilities", json!([cap]));
            assert_eq!(
                messages(&m),
                [
                    "SMART metadata non-compliance: required field 'authorization_endpoint' is missing"
                ]
            );
        }
    }

    #[test]
    fn pkce_rules() {
        let plain_only = with("code_challenge_methods_supported", json!(["plain"]));
        assert_eq!(plain_only.compliance_findings().len(), 2);
        let both = with("code_challenge_methods_supported", json!(["S256", "plain"]));
        assert_eq!(
            messages(&both),
            [
                "SMART metadata non-compliance: 'plain' is present in code_challenge_methods_supported (SMART App Launch 2.2.0 prohibits plain)"
            ]
        );
        let empty = with("code_challenge_methods_supported", json!([]));
        assert_eq!(empty.compliance_findings().len(), 2);
    }

    #[test]
    fn wrong_types_are_absent_and_reported_once() {
        let m = with("capabilities", json!(["launch-ehr", 5]));
        assert!(m.capabilities.is_empty());
        assert!(!m.supports_public_auth());
        let f = m.compliance_findings();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].field.as_deref(), Some("capabilities"));
        assert!(
            f[0].message
                .contains("(array; expected an array of strings)")
        );

        let m = with("token_endpoint", json!(42));
        assert_eq!(m.token_endpoint, None);
        assert_eq!(m.compliance_findings().len(), 1);
        assert!(m.require_token_endpoint(DISCOVERY_URL).is_err());

        for bad in [
            json!({"url": 1}),
            json!("https://x"),
            json!({"capabilities": []}),
        ] {
            let m = with("associated_endpoints", json!([bad]));
            assert!(m.associated_endpoints.is_empty());
            assert_eq!(m.compliance_findings().len(), 1);
        }
    }

    #[test]
    fn url_rules() {
        let cases = [
            ("https://ehr.example/reg", None),
            ("http://localhost:8080/reg", Some(Severity::Warning)),
            ("http://127.0.0.2/reg", Some(Severity::Warning)),
            ("http://[::1]/reg", Some(Severity::Warning)),
            ("http://ehr.example/reg", Some(Severity::Error)),
            ("ftp://ehr.example/reg", Some(Severity::Error)),
            ("/relative/reg", Some(Severity::Error)),
            ("not a url", Some(Severity::Error)),
            ("mailto:a@b.example", Some(Severity::Error)),
        ];
        for (url, expected) in cases {
            let m = with("registration_endpoint", json!(url));
            let f = m.compliance_findings();
            assert_eq!(f.first().map(|f| f.severity), expected, "{url}");
            assert!(f.len() <= 1);
            if let Some(f) = f.first() {
                assert_eq!(f.field.as_deref(), Some("registration_endpoint"));
            }
        }
        let m = with(
            "associated_endpoints",
            json!([{"url": "https://ok.example"}, {"url": "http://bad.example", "capabilities": []}]),
        );
        let f = m.compliance_findings();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].field.as_deref(), Some("associated_endpoints[1].url"));
    }

    #[test]
    fn asymmetric_rules() {
        let mut doc = base();
        let o = doc.as_object_mut().unwrap();
        o.insert(
            "capabilities".into(),
            json!(["client-confidential-asymmetric"]),
        );
        o.insert(
            "token_endpoint_auth_methods_supported".into(),
            json!(["client_secret_basic"]),
        );
        o.insert(
            "token_endpoint_auth_signing_alg_values_supported".into(),
            json!(["RS256"]),
        );
        let m = from(doc);
        let f = m.compliance_findings();
        assert_eq!(f.len(), 2);
        assert_eq!(
            f[0].field.as_deref(),
            Some("token_endpoint_auth_methods_supported")
        );
        assert_eq!(
            f[1].field.as_deref(),
            Some("token_endpoint_auth_signing_alg_values_supported")
        );
    }

    #[test]
    fn predicate_table() {
        // ehr / standalone need both the capability and an authorization endpoint.
        for (caps, auth, ehr, standalone) in [
            (json!(["launch-ehr"]), Some("https://a/auth"), true, false),
            (json!(["launch-ehr"]), None, false, false),
            (json!(["launch-ehr"]), Some(" "), false, false),
            (
                json!(["launch-standalone"]),
                Some("https://a/auth"),
                false,
                true,
            ),
            (json!(["launch-standalone"]), None, false, false),
            (json!([]), Some("https://a/auth"), false, false),
        ] {
            let mut doc = json!({"capabilities": caps});
            if let Some(a) = auth {
                doc["authorization_endpoint"] = json!(a);
            }
            let m = from(doc);
            assert_eq!(m.supports_ehr_launch(), ehr);
            assert_eq!(m.supports_standalone_launch(), standalone);
        }

        assert!(from(json!({"capabilities": ["client-public"]})).supports_public_auth());
        assert!(
            !from(json!({"capabilities": ["client-confidential-symmetric"]}))
                .supports_public_auth()
        );
        assert!(!from(json!({"capabilities": "client-public"})).supports_public_auth());

        // symmetric: blank methods or client_secret_basic.
        for (methods, expected) in [
            (json!(null), true),
            (json!([]), true),
            (json!(["client_secret_basic"]), true),
            (json!(["client_secret_post"]), false),
        ] {
            let m = from(
                json!({"capabilities": ["client-confidential-symmetric"], "token_endpoint_auth_methods_supported": methods}),
            );
            assert_eq!(m.supports_symmetric_auth(), expected, "{methods}");
        }
        assert!(!from(json!({"capabilities": ["client-public"]})).supports_symmetric_auth());

        // asymmetric: methods and algorithms.
        for (methods, algs, expected) in [
            (json!(null), json!(null), true),
            (json!(["private_key_jwt"]), json!(["ES384"]), true),
            (json!(["private_key_jwt"]), json!(["RS256"]), false),
            (json!(["private_key_jwt"]), json!(["RS256", "ES256"]), false),
            (json!(["client_secret_basic"]), json!(["RS384"]), false),
            (json!([]), json!(["RS384"]), true),
        ] {
            let m = from(json!({
                "capabilities": ["client-confidential-asymmetric"],
                "token_endpoint_auth_methods_supported": methods,
                "token_endpoint_auth_signing_alg_values_supported": algs,
            }));
            assert_eq!(m.supports_asymmetric_auth(), expected, "{methods} {algs}");
        }
        assert!(!from(json!({"capabilities": ["client-public"]})).supports_asymmetric_auth());

        // algorithm list: server order, deduplicated, both when absent.
        for (algs, expected) in [
            (json!(null), vec!["RS384", "ES384"]),
            (json!([]), vec!["RS384", "ES384"]),
            (json!(["ES384", "RS384"]), vec!["ES384", "RS384"]),
            (json!(["RS256", "ES384", "ES384", "rs384"]), vec!["ES384"]),
            (json!(["RS256"]), vec![]),
        ] {
            let m = from(json!({"token_endpoint_auth_signing_alg_values_supported": algs}));
            assert_eq!(m.asymmetric_signing_algorithms_supported(), expected);
        }

        // backend services: client_credentials and asymmetric auth.
        let asym = json!(["client-confidential-asymmetric"]);
        for (grants, caps, expected) in [
            (json!(["client_credentials"]), asym.clone(), true),
            (json!(["authorization_code"]), asym.clone(), false),
            (json!(null), asym.clone(), false),
            (
                json!(["client_credentials"]),
                json!(["client-public"]),
                false,
            ),
        ] {
            let m = from(json!({"grant_types_supported": grants, "capabilities": caps}));
            assert_eq!(m.supports_backend_services(), expected);
        }
        let rs256 = from(json!({
            "grant_types_supported": ["client_credentials"],
            "capabilities": ["client-confidential-asymmetric"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
        }));
        assert!(!rs256.supports_backend_services());

        assert!(
            from(json!({"registration_endpoint": "https://a/reg"})).supports_dynamic_registration()
        );
        assert!(!from(json!({"registration_endpoint": ""})).supports_dynamic_registration());
        assert!(!from(json!({})).supports_dynamic_registration());

        assert!(
            from(json!({"capabilities": ["authorize-post"]})).supports_post_based_authorization()
        );
        assert!(!from(json!({"capabilities": ["launch-ehr"]})).supports_post_based_authorization());

        let oidc = json!({"capabilities": ["sso-openid-connect"], "issuer": "https://a", "jwks_uri": "https://a/jwks"});
        assert!(from(oidc.clone()).supports_openid_connect());
        let mut no_jwks = oidc.clone();
        no_jwks.as_object_mut().unwrap().remove("jwks_uri");
        assert!(!from(no_jwks).supports_openid_connect());
        let mut no_issuer = oidc.clone();
        no_issuer.as_object_mut().unwrap().remove("issuer");
        assert!(!from(no_issuer).supports_openid_connect());
        let mut no_cap = oidc;
        no_cap["capabilities"] = json!([]);
        assert!(!from(no_cap).supports_openid_connect());

        let m = from(json!({"capabilities": ["permission-v2"]}));
        assert!(m.has_capability("permission-v2"));
        assert!(!m.has_capability("permission-v1"));
        assert!(!m.has_capability("permission"));
    }

    #[test]
    fn response_errors() {
        let err =
            SmartMetadata::from_response(DISCOVERY_URL, 500, b"<html>oops</html>").unwrap_err();
        assert_eq!(err.status, Some(500));
        assert_eq!(err.description, None);
        let deep = "[".repeat(10_000);
        for body in [
            &b""[..],
            b"null",
            b"[]",
            b"\"x\"",
            b"{",
            deep.as_bytes(),
            b"\xff{}",
        ] {
            let err = SmartMetadata::from_response(DISCOVERY_URL, 200, body).unwrap_err();
            assert_eq!(
                err.description.as_deref(),
                Some("response is not a usable JSON object")
            );
        }
        let ok = SmartMetadata::from_response(DISCOVERY_URL, 200, b"{}").unwrap();
        assert_eq!(
            ok.require_token_endpoint(DISCOVERY_URL)
                .unwrap_err()
                .to_string(),
            format!(
                "Failed to discover SMART configuration from {DISCOVERY_URL}: response missing required field 'token_endpoint'"
            )
        );
        let m = meta(SPEC_EXAMPLE);
        assert_eq!(
            m.require_token_endpoint(DISCOVERY_URL).unwrap(),
            "https://ehr.example.com/auth/token"
        );
    }

    #[test]
    fn serde_round_trip_keeps_everything() {
        for doc in [SPEC_EXAMPLE, OIDC_PROVIDER, SLOPPY, "{}"] {
            let m = meta(doc);
            let json = serde_json::to_string(&m).unwrap();
            let back: SmartMetadata = serde_json::from_str(&json).unwrap();
            assert_eq!(back, m);
            assert_eq!(back.compliance_findings(), m.compliance_findings());
            // The serialized form is the server's document again (minus nulls).
            let original: serde_json::Value = serde_json::from_str(doc).unwrap();
            let reserialized: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(original, reserialized);
        }
    }

    #[test]
    fn key_index_matches_known_fields() {
        for (i, (name, _)) in KNOWN_FIELDS.iter().enumerate() {
            assert_eq!(key_index(name), Some(i));
        }
        assert_eq!(key_index("x-vendor"), None);
    }

    #[test]
    fn property_body_parse_same_as_map_parse() {
        let mut g = crate::json::testgen::Gen::new(23);
        for round in 0..3000 {
            let mut map = g.object(3);
            for _ in 0..(g.next() % 12) {
                let name = KNOWN_FIELDS[(g.next() % 18) as usize].0;
                let value = match g.next() % 4 {
                    0 => json!(["S256", "launch-ehr"]),
                    1 => json!([{"url": "https://a.example", "capabilities": ["x"]}, {"url": 1}]),
                    _ => g.value(3),
                };
                map.insert(name.to_owned(), value);
            }
            let mut body = serde_json::to_vec(&Value::Object(map)).unwrap();
            if round % 7 == 0 && !body.is_empty() {
                let i = (g.next() % body.len() as u64) as usize;
                body[i] = g.next() as u8;
            }
            let via_map = crate::json::parse_object(&body).map(SmartMetadata::from_json_object);
            assert_eq!(SmartMetadata::from_body(&body), via_map);
            if let Some(m) = via_map {
                assert_eq!(
                    SmartMetadata::from_response(DISCOVERY_URL, 200, &body).unwrap(),
                    m
                );
            }
        }
        let dup = br#"{"issuer":1,"issuer":"https://a","capabilities":null,"scopes_supported":["a",2],"x":null}"#;
        let m = SmartMetadata::from_body(dup).unwrap();
        assert_eq!(m.issuer.as_deref(), Some("https://a"));
        assert_eq!(
            m.extra.keys().collect::<Vec<_>>(),
            ["scopes_supported", "x"]
        );
    }

    #[test]
    fn property_no_panic_and_round_trip() {
        let mut g = crate::json::testgen::Gen::new(11);
        for _ in 0..4000 {
            let body = g.body(&["token_endpoint", "issuer"]);
            if let Ok(m) = SmartMetadata::from_response(DISCOVERY_URL, 200, &body) {
                let json = serde_json::to_vec(&m).unwrap();
                let back: SmartMetadata = serde_json::from_slice(&json).unwrap();
                assert_eq!(back, m);
                assert!(m.compliance_findings().len() <= crate::finding::MAX_FINDINGS + 1);
                let _ = (m.supports_backend_services(), m.supports_openid_connect());
            }
        }
    }
}
