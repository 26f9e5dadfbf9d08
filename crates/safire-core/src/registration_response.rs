//! Dynamic client registration responses (RFC 7591 §3.2).
//!
//! A registration endpoint answers with the client's identifier, perhaps a secret and a
//! registration access token, and echoes the metadata it accepted. [`RegisteredClient`] types
//! the fields a SMART client uses and keeps the rest.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::{OAuthErrorFields, RegistrationError};
use crate::json::{from_body, names, type_name};
use crate::lenient::{self, Int};
use crate::oauth_error::{has_error_member, oauth_error_from_object, parse_oauth_error};
use crate::secret::SecretString;

/// A client the authorization server registered.
///
/// Secrets serialize to their real values (applications must store them) but `Debug`
/// redacts them, prints `jwks` only as its JSON type and prints only the names of other
/// fields. Deserializing uses the same lenient rules as [`RegisteredClient::from_json_object`],
/// so a stored client serializes to the server's JSON and reads back equal. Known fields of the
/// wrong JSON type are absent here and kept, as sent, in [`extra`](Self::extra).
///
/// ```
/// use safire_core::RegisteredClient;
/// let body = br#"{"client_id":"app-123","client_secret":"s3cr3t","client_id_issued_at":1700000000,
///   "client_secret_expires_at":0,"token_endpoint_auth_method":"client_secret_basic",
///   "redirect_uris":["https://app.example/callback"],"client_name":"Example App"}"#;
/// let client = RegisteredClient::parse(201, body)?;
/// assert_eq!(client.client_id, "app-123");
/// assert_eq!(client.client_secret.as_ref().map(|s| s.expose()), Some("s3cr3t"));
/// assert!(!format!("{client:?}").contains("s3cr3t"));
/// # Ok::<(), safire_core::RegistrationError>(())
/// ```
#[derive(Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RegisteredClient {
    /// The issued client identifier (never blank).
    pub client_id: String,
    /// The client secret, for confidential symmetric clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretString>,
    /// Token for the client configuration endpoint (RFC 7592).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_access_token: Option<SecretString>,
    /// The client configuration endpoint (RFC 7592).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_client_uri: Option<String>,
    /// When the identifier was issued (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id_issued_at: Option<u64>,
    /// When the secret expires (Unix seconds; `0` means never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<u64>,
    /// How the client authenticates: `none`, `client_secret_basic`, `private_key_jwt`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// Registered redirect URIs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<String>,
    /// Registered grant types.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_types: Vec<String>,
    /// Registered scopes, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client's public keys as a JWK Set object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// Where the client publishes its public keys.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Human-readable client name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// Every other echoed member, plus known fields of the wrong JSON type, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for RegisteredClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("registration_access_token", &self.registration_access_token)
            .field("registration_client_uri", &self.registration_client_uri)
            .field("client_id_issued_at", &self.client_id_issued_at)
            .field("client_secret_expires_at", &self.client_secret_expires_at)
            .field(
                "token_endpoint_auth_method",
                &self.token_endpoint_auth_method,
            )
            .field("redirect_uris", &self.redirect_uris)
            .field("grant_types", &self.grant_types)
            .field("scope", &self.scope)
            .field("jwks", &self.jwks.as_ref().map(type_name))
            .field("jwks_uri", &self.jwks_uri)
            .field("client_name", &self.client_name)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

lenient::document! {
    /// The members of a registration response, as read (see [`lenient`]).
    struct Members {
        client_id: String,
        client_secret: String,
        registration_access_token: String,
        registration_client_uri: String,
        client_id_issued_at: Int,
        client_secret_expires_at: Int,
        token_endpoint_auth_method: String,
        redirect_uris: Vec<String>,
        grant_types: Vec<String>,
        scope: String,
        jwks: Map<String, Value>,
        jwks_uri: String,
        client_name: String,
    }
}

impl<'de> Deserialize<'de> for RegisteredClient {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let members = Members::deserialize(deserializer)?;
        RegisteredClient::from_members(members).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<Map<String, Value>> for RegisteredClient {
    type Error = RegistrationError;

    fn try_from(map: Map<String, Value>) -> Result<Self, Self::Error> {
        RegisteredClient::from_json_object(map)
    }
}

/// True for a non-blank `client_id`.
fn usable(client_id: &str) -> bool {
    !client_id.trim().is_empty()
}

fn failure(
    oauth: OAuthErrorFields,
    received_fields: Vec<String>,
    detail: &str,
) -> RegistrationError {
    RegistrationError {
        oauth,
        received_fields,
        detail: Some(detail.into()),
    }
}

impl RegisteredClient {
    /// Parses a registration response.
    ///
    /// Success needs a 2xx status, a JSON object (whatever the content type), no `error`
    /// member and a non-blank string `client_id`. Otherwise a [`RegistrationError`] with the
    /// status, the body's OAuth `error`/`error_description` when it has them (a JSON error with
    /// status 200 included), and, when `client_id` is absent, the body's field names (never
    /// values).
    ///
    /// ```
    /// use safire_core::RegisteredClient;
    /// let err = RegisteredClient::parse(400, br#"{"error":"invalid_redirect_uri","error_description":"Redirect URI must use HTTPS"}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "Client registration failed — HTTP 400 — invalid_redirect_uri — Redirect URI must use HTTPS");
    /// let err = RegisteredClient::parse(201, br#"{"client_id": 123}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "Client registration failed — HTTP 201 — response client_id must be a non-blank string");
    /// ```
    pub fn parse(status: u16, body: &[u8]) -> Result<RegisteredClient, RegistrationError> {
        if !(200..300).contains(&status) {
            return Err(RegistrationError {
                oauth: parse_oauth_error(status, body),
                received_fields: Vec::new(),
                detail: None,
            });
        }
        let Some(members) = from_body::<Members>(body) else {
            return Err(failure(
                OAuthErrorFields {
                    status: Some(status),
                    ..OAuthErrorFields::default()
                },
                Vec::new(),
                "response is not a usable JSON object",
            ));
        };
        // `error`, `error_description` and `error_uri` are not known members: all in `extra`.
        let oauth = || oauth_error_from_object(status, &members.extra);
        // An OAuth error in a 2xx body is the server's answer: report it (its description is
        // scrubbed of what the request carried by the driver), whether or not a client_id
        // came with it.
        if has_error_member(&members.extra) {
            return Err(failure(
                oauth(),
                Vec::new(),
                "the server answered with an OAuth error despite the success status",
            ));
        }
        if members.client_id.is_missing() {
            return Err(failure(
                oauth(),
                names(members.sent_names()),
                "response has no client_id",
            ));
        }
        if !members
            .client_id
            .value()
            .map(String::as_str)
            .is_some_and(usable)
        {
            return Err(failure(
                oauth(),
                Vec::new(),
                "response client_id must be a non-blank string",
            ));
        }
        RegisteredClient::from_members(members).map_err(|mut e| {
            e.oauth.status = Some(status);
            e
        })
    }

    /// Builds a client from a registration response object (no status checks, no `error`
    /// check). Fails only when `client_id` is not a non-blank string.
    ///
    /// ```
    /// use safire_core::RegisteredClient;
    /// let json = serde_json::json!({"client_id": "c1", "grant_types": "client_credentials"});
    /// let client = RegisteredClient::from_json_object(json.as_object().unwrap().clone())?;
    /// assert!(client.grant_types.is_empty());
    /// assert_eq!(client.extra["grant_types"], "client_credentials");
    /// # Ok::<(), safire_core::RegistrationError>(())
    /// ```
    pub fn from_json_object(
        map: Map<String, Value>,
    ) -> Result<RegisteredClient, RegistrationError> {
        // Reading a map cannot fail: every member is typed or kept as sent.
        let members = Members::deserialize(map).unwrap_or_default();
        RegisteredClient::from_members(members)
    }

    /// The typed client; wrong-typed members go into `extra` as sent. Fails only without a
    /// non-blank string `client_id` (the error lists the other members' names when it is
    /// missing).
    fn from_members(m: Members) -> Result<RegisteredClient, RegistrationError> {
        if !m.client_id.value().map(String::as_str).is_some_and(usable) {
            let (names, detail) = if m.client_id.is_missing() {
                let mut sent = m.sent_names();
                sent.retain(|name| *name != m.client_id.name());
                (names(sent), "response has no client_id")
            } else {
                (Vec::new(), "response client_id must be a non-blank string")
            };
            return Err(failure(OAuthErrorFields::default(), names, detail));
        }
        let mut extra = m.extra;
        let x = &mut extra;
        Ok(RegisteredClient {
            client_id: m.client_id.keep(x).unwrap_or_default(),
            client_secret: m.client_secret.keep(x).map(SecretString::from),
            registration_access_token: m.registration_access_token.keep(x).map(SecretString::from),
            registration_client_uri: m.registration_client_uri.keep(x),
            client_id_issued_at: m.client_id_issued_at.keep(x).map(Int::value),
            client_secret_expires_at: m.client_secret_expires_at.keep(x).map(Int::value),
            token_endpoint_auth_method: m.token_endpoint_auth_method.keep(x),
            redirect_uris: m.redirect_uris.keep(x).unwrap_or_default(),
            grant_types: m.grant_types.keep(x).unwrap_or_default(),
            scope: m.scope.keep(x),
            jwks: m.jwks.keep(x).map(Value::Object),
            jwks_uri: m.jwks_uri.keep(x),
            client_name: m.client_name.keep(x),
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CONFIDENTIAL_201: &str = r#"{
      "client_id": "ODh-JQF6S8qICqALwwNNNaKUP0M3kbWQSEb_8EhiSxq",
      "client_secret": "CANARY-SECRET-2_A1E8ATq",
      "client_id_issued_at": 1700000000,
      "client_secret_expires_at": 0,
      "registration_access_token": "CANARY-RAT-Y2ZnnE7",
      "registration_client_uri": "https://as.example/reg/ODh",
      "token_endpoint_auth_method": "client_secret_basic",
      "redirect_uris": ["https://app.example/callback"],
      "grant_types": ["authorization_code", "refresh_token"],
      "response_types": ["code"],
      "scope": "launch openid fhirUser patient/*.rs",
      "client_name": "Example SMART App",
      "jwks": {"keys": [{"kty": "RSA", "d": "CANARY-PRIVATE"}]},
      "software_id": "4NRB1-0XZABZI9E6-5SM3R",
      "contacts": ["CANARY-contact@example.org"]
    }"#;

    #[test]
    fn confidential_client_201() {
        let c = RegisteredClient::parse(201, CONFIDENTIAL_201.as_bytes()).unwrap();
        assert_eq!(c.client_id, "ODh-JQF6S8qICqALwwNNNaKUP0M3kbWQSEb_8EhiSxq");
        assert_eq!(
            c.client_secret.as_ref().unwrap().expose(),
            "CANARY-SECRET-2_A1E8ATq"
        );
        assert_eq!(
            c.registration_access_token.as_ref().unwrap().expose(),
            "CANARY-RAT-Y2ZnnE7"
        );
        assert_eq!(
            c.registration_client_uri.as_deref(),
            Some("https://as.example/reg/ODh")
        );
        assert_eq!(c.client_id_issued_at, Some(1_700_000_000));
        assert_eq!(c.client_secret_expires_at, Some(0));
        assert_eq!(
            c.token_endpoint_auth_method.as_deref(),
            Some("client_secret_basic")
        );
        assert_eq!(c.redirect_uris, ["https://app.example/callback"]);
        assert_eq!(c.grant_types, ["authorization_code", "refresh_token"]);
        assert_eq!(
            c.scope.as_deref(),
            Some("launch openid fhirUser patient/*.rs")
        );
        assert_eq!(c.client_name.as_deref(), Some("Example SMART App"));
        assert!(c.jwks.is_some());
        let mut extra: Vec<_> = c.extra.keys().cloned().collect();
        extra.sort();
        assert_eq!(extra, ["contacts", "response_types", "software_id"]);

        let debug = format!("{c:?} {c:#?}");
        assert!(!debug.contains("CANARY"), "{debug}");
        assert!(debug.contains("software_id"));

        let json = serde_json::to_string(&c).unwrap();
        let back: RegisteredClient = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let original: Value = serde_json::from_str(CONFIDENTIAL_201).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), original);
    }

    #[test]
    fn oidc_provider_backend_and_public_200() {
        let backend = br#"{"grant_types":["client_credentials"],"response_types":[],"token_endpoint_auth_method":"private_key_jwt",
            "client_id":"_DgyVAc1","redirect_uris":[],"registration_access_token":"Y2Zn","scope":"system/*.rs system/Patient.r"}"#;
        let c = RegisteredClient::parse(201, backend).unwrap();
        assert!(c.redirect_uris.is_empty());
        assert_eq!(c.client_secret, None);
        let public = RegisteredClient::parse(
            200,
            br#"{"client_id":"NCux","token_endpoint_auth_method":"none"}"#,
        )
        .unwrap();
        assert_eq!(public.token_endpoint_auth_method.as_deref(), Some("none"));
    }

    #[test]
    fn dcr_error_400() {
        let err = RegisteredClient::parse(
            400,
            br#"{"error":"invalid_redirect_uri","error_description":"Redirect URI must use HTTPS"}"#,
        )
        .unwrap_err();
        assert_eq!(err.oauth.status, Some(400));
        assert_eq!(
            err.oauth.error_code.as_deref(),
            Some("invalid_redirect_uri")
        );
        assert!(err.received_fields.is_empty());
        assert_eq!(
            err.to_string(),
            "Client registration failed — HTTP 400 — invalid_redirect_uri — Redirect URI must use HTTPS"
        );
    }

    #[test]
    fn json_error_with_200() {
        let err = RegisteredClient::parse(
            200,
            br#"{"error":"invalid_client_metadata","error_description":"bad scope"}"#,
        )
        .unwrap_err();
        assert_eq!(err.oauth.status, Some(200));
        assert_eq!(
            err.oauth.error_code.as_deref(),
            Some("invalid_client_metadata")
        );
        assert_eq!(err.oauth.error_description.as_deref(), Some("bad scope"));
        // The server's error and description, not "missing client_id".
        assert!(err.received_fields.is_empty());
        assert_eq!(
            err.to_string(),
            "Client registration failed — HTTP 200 — invalid_client_metadata — bad scope — the \
             server answered with an OAuth error despite the success status"
        );
        // With a client_id the error member still wins.
        let err = RegisteredClient::parse(
            201,
            br#"{"client_id":"c","client_secret":"CANARY","error":"invalid_client_metadata"}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.oauth.error_code.as_deref(),
            Some("invalid_client_metadata")
        );
        assert!(err.received_fields.is_empty());
        assert!(!format!("{err} {err:?}").contains("CANARY"));
    }

    #[test]
    fn html_500() {
        let err = RegisteredClient::parse(
            500,
            b"<html><body><h1>500 Internal Server Error</h1></body></html>",
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "Client registration failed — HTTP 500");
        assert_eq!(err.oauth.error_code, None);
    }

    #[test]
    fn client_id_rules() {
        let err = RegisteredClient::parse(
            201,
            br#"{"client_secret":"CANARY","token_endpoint_auth_method":"client_secret_basic"}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.received_fields,
            ["client_secret", "token_endpoint_auth_method"]
        );
        assert!(!format!("{err} {err:?}").contains("CANARY"));
        assert_eq!(
            err.to_string(),
            "Registration response missing client_id; received fields: client_secret, token_endpoint_auth_method"
        );
        for bad in [
            r#"{"client_id":123}"#,
            r#"{"client_id":""}"#,
            r#"{"client_id":"  "}"#,
            r#"{"client_id":["a"]}"#,
        ] {
            let err = RegisteredClient::parse(201, bad.as_bytes()).unwrap_err();
            assert!(err.received_fields.is_empty());
            assert_eq!(
                err.detail.as_deref(),
                Some("response client_id must be a non-blank string")
            );
        }
        let err = RegisteredClient::parse(201, br#"{"client_id":null,"x":1}"#).unwrap_err();
        assert_eq!(err.received_fields, ["client_id", "x"]);
        let err = RegisteredClient::parse(201, b"{}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Client registration failed — HTTP 201 — response has no client_id"
        );
    }

    #[test]
    fn unusable_bodies() {
        let unusable = crate::json::unusable_bodies();
        for body in unusable
            .iter()
            .map(Vec::as_slice)
            .chain([&b"\"client_id\""[..], b"\xc3\x28"])
        {
            let err = RegisteredClient::parse(201, body).unwrap_err();
            assert_eq!(
                err.to_string(),
                "Client registration failed — HTTP 201 — response is not a usable JSON object"
            );
        }
    }

    #[test]
    fn lenient_fields_and_round_trip() {
        let body = json!({
            "client_id": "c1",
            "client_id_issued_at": "1700000000",
            "client_secret_expires_at": -1,
            "redirect_uris": "https://app.example/cb",
            "jwks": "not-an-object",
            "client_secret": 42,
            "scope": null,
        });
        let c = RegisteredClient::parse(201, body.to_string().as_bytes()).unwrap();
        assert_eq!(c.client_id_issued_at, Some(1_700_000_000));
        assert_eq!(c.client_secret_expires_at, None);
        assert!(c.redirect_uris.is_empty());
        assert_eq!(c.jwks, None);
        assert_eq!(c.client_secret, None);
        assert_eq!(c.scope, None);
        let mut extra: Vec<_> = c.extra.keys().cloned().collect();
        extra.sort();
        assert_eq!(
            extra,
            [
                "client_secret",
                "client_secret_expires_at",
                "jwks",
                "redirect_uris"
            ]
        );
        let json = serde_json::to_string(&c).unwrap();
        let back: RegisteredClient = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        assert!(serde_json::from_str::<RegisteredClient>(r#"{"client_secret":"x"}"#).is_err());
    }

    #[test]
    fn property_no_panic_and_round_trip() {
        let mut g = crate::json::testgen::Gen::new(13);
        let mut parsed = 0;
        for _ in 0..4000 {
            let body = g.body(&["client_id"]);
            match RegisteredClient::parse(201, &body) {
                Ok(c) => {
                    parsed += 1;
                    let json = serde_json::to_vec(&c).unwrap();
                    let back: RegisteredClient = serde_json::from_slice(&json).unwrap();
                    assert_eq!(back, c);
                    let _ = format!("{c:?}");
                }
                Err(e) => {
                    let _ = e.to_string();
                }
            }
        }
        assert!(parsed > 500, "generator too weak: {parsed}");
    }
}
