//! SMART discovery metadata (`.well-known/smart-configuration`, SMART App Launch 2.2 §Conformance).
//!
//! [`SmartMetadata`] types every field the specification defines and keeps unknown fields.
//! Parsing is lenient: a field with the wrong JSON type is treated as absent and reported by
//! [`SmartMetadata::compliance_findings`], so one sloppy field never makes a server unusable.

use serde::de::SeqAccess;
use serde::de::value::SeqAccessDeserializer;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::DiscoveryError;
use crate::finding::{Finding, Findings};
use crate::json::{from_body, string_array};
use crate::lenient::{self, Form, Read};

/// The two client-assertion algorithms SMART App Launch 2.2 requires (`private_key_jwt`).
const SMART_ASYMMETRIC_ALGORITHMS: [&str; 2] = ["RS384", "ES384"];

lenient::document! {
    /// The members of a discovery document, as read (see [`lenient`]), in the order
    /// [`SmartMetadata::compliance_findings`] reports wrong-typed ones.
    struct Members {
        issuer: String,
        jwks_uri: String,
        authorization_endpoint: String,
        grant_types_supported: Vec<String>,
        token_endpoint: String,
        token_endpoint_auth_methods_supported: Vec<String>,
        token_endpoint_auth_signing_alg_values_supported: Vec<String>,
        registration_endpoint: String,
        associated_endpoints: Vec<AssociatedEndpoint>,
        user_access_brand_bundle: String,
        user_access_brand_identifier: String,
        scopes_supported: Vec<String>,
        response_types_supported: Vec<String>,
        management_endpoint: String,
        introspection_endpoint: String,
        revocation_endpoint: String,
        capabilities: Vec<String>,
        code_challenge_methods_supported: Vec<String>,
    }
}

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
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
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

impl<'de> Deserialize<'de> for SmartMetadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Members::deserialize(deserializer).map(SmartMetadata::from_members)
    }
}

/// `associated_endpoints`: every entry an object with a string `url` and a `capabilities`
/// array of strings (absent or `null`: none); anything else makes the whole member wrong.
impl Form for Vec<AssociatedEndpoint> {
    const EXPECTED: &'static str =
        "an array of objects with a string url and a capabilities array of strings";

    fn seq<'de, A: SeqAccess<'de>>(seq: A) -> Result<Read<Self>, A::Error> {
        let value = Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(match parse_associated(&value) {
            Some(list) => Read::Ok(list),
            None => Read::Wrong(value),
        })
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
        // Reading a map cannot fail: every member is typed or kept as sent.
        Members::deserialize(map)
            .map(SmartMetadata::from_members)
            .unwrap_or_else(|_| SmartMetadata::from_members(Members::default()))
    }

    /// Parses a discovery body: `from_json_object(parse_object(body)?)`, without the map.
    pub(crate) fn from_body(body: &[u8]) -> Option<SmartMetadata> {
        from_body::<Members>(body).map(SmartMetadata::from_members)
    }

    /// The typed document; wrong-typed members go into `extra` as sent.
    fn from_members(m: Members) -> SmartMetadata {
        let mut extra = m.extra;
        let x = &mut extra;
        SmartMetadata {
            issuer: m.issuer.keep(x),
            jwks_uri: m.jwks_uri.keep(x),
            authorization_endpoint: m.authorization_endpoint.keep(x),
            grant_types_supported: m.grant_types_supported.keep(x).unwrap_or_default(),
            token_endpoint: m.token_endpoint.keep(x),
            token_endpoint_auth_methods_supported: m
                .token_endpoint_auth_methods_supported
                .keep(x)
                .unwrap_or_default(),
            token_endpoint_auth_signing_alg_values_supported: m
                .token_endpoint_auth_signing_alg_values_supported
                .keep(x)
                .unwrap_or_default(),
            registration_endpoint: m.registration_endpoint.keep(x),
            associated_endpoints: m.associated_endpoints.keep(x).unwrap_or_default(),
            user_access_brand_bundle: m.user_access_brand_bundle.keep(x),
            user_access_brand_identifier: m.user_access_brand_identifier.keep(x),
            scopes_supported: m.scopes_supported.keep(x).unwrap_or_default(),
            response_types_supported: m.response_types_supported.keep(x).unwrap_or_default(),
            management_endpoint: m.management_endpoint.keep(x),
            introspection_endpoint: m.introspection_endpoint.keep(x),
            revocation_endpoint: m.revocation_endpoint.keep(x),
            capabilities: m.capabilities.keep(x).unwrap_or_default(),
            code_challenge_methods_supported: m
                .code_challenge_methods_supported
                .keep(x)
                .unwrap_or_default(),
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
        for (name, expected) in Members::FIELDS {
            if let Some(value) = self.extra.get(*name) {
                out.error(name, lenient::wrong_type(PREFIX, name, value, expected));
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

/// The endpoints that flows resolve against the FHIR base when they are relative
/// ([`ServerEndpoint::resolve`](crate::ServerEndpoint::resolve)).
const RESOLVED_RELATIVE: &[&str] = &[
    "jwks_uri",
    "authorization_endpoint",
    "token_endpoint",
    "registration_endpoint",
    "introspection_endpoint",
    "revocation_endpoint",
];

/// A relative reference (`/auth/token`, `token`): no scheme, and nothing a URL cannot hold.
pub(crate) fn is_relative_reference(raw: &str) -> bool {
    matches!(
        url::Url::parse(raw),
        Err(url::ParseError::RelativeUrlWithoutBase)
    ) && !raw.is_empty()
        && !raw.contains(|c: char| c.is_whitespace() || c.is_control() || c == '\\')
}

/// Reports a URL that does not parse, is not https, or is http on a loopback host (warning);
/// a relative endpoint URL is a warning too (it is resolved against the FHIR base).
fn check_url(out: &mut Findings, field: &str, raw: &str) {
    let parsed = match url::Url::parse(raw) {
        Ok(u) if u.host().is_some() => u,
        Err(_) if RESOLVED_RELATIVE.contains(&field) && is_relative_reference(raw) => {
            out.warning(
                field,
                format!(
                    "SMART metadata: {field} is a relative URL; Safire resolves it against the \
                     FHIR base URL (SMART App Launch: clients SHOULD), but servers should \
                     advertise absolute URLs"
                ),
            );
            return;
        }
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
        "http" if crate::config::is_loopback(&parsed) => out.warning(
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

#[cfg(test)]
mod tests;
