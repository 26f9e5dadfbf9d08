//! Client configuration management (RFC 7592): read, update and delete a dynamically
//! registered client at its `registration_client_uri`, with its `registration_access_token`
//! as a bearer token.
//!
//! The URI comes from the server (the registration response), so it is checked like a
//! discovered endpoint (https, http loopback only with the opt-in) and must not carry
//! `user:password@`. The request carries a bearer token, so the driver never follows a
//! redirect from it.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use http::{HeaderValue, Method};
use serde_json::Value;

use crate::config::ClientConfig;
use crate::error::{ConfigurationError, Error, OAuthErrorFields, RegistrationError};
use crate::flow::{Env, Flow, Step};
use crate::json::parse_object;
use crate::oauth_error::{
    field_names_scrubbed, oauth_error_from_object_scrubbed, parse_oauth_error_scrubbed, scrub,
};
use crate::registration::ClientMetadata;
use crate::registration_response::RegisteredClient;
use crate::requests::{self, HttpRequest, HttpResponse, Operation};
use crate::secret::SecretString;

/// Members of a registration that an update request must not send (RFC 7592 §2.2).
const NOT_IN_UPDATE: &[&str] = &[
    "registration_access_token",
    "registration_client_uri",
    "client_id_issued_at",
    "client_secret_expires_at",
];

/// What is done to the registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Read,
    Update,
    Delete,
}

impl Action {
    fn method(self) -> Method {
        match self {
            Action::Read => Method::GET,
            Action::Update => Method::PUT,
            Action::Delete => Method::DELETE,
        }
    }

    fn doing(self) -> &'static str {
        match self {
            Action::Read => "reading the registration (RFC 7592)",
            Action::Update => "updating the registration (RFC 7592)",
            Action::Delete => "deleting the registration (RFC 7592)",
        }
    }
}

/// Parses the response to reading or updating a registration: like
/// [`RegisteredClient::parse`], with every exact occurrence of one of `secrets` (the
/// registration access token, the client secret) scrubbed from the server text and field
/// names an error keeps.
///
/// ```
/// use safire_core::protocol::parse_registration_management_response;
/// let body = br#"{"error":"invalid_token","error_description":"rat-123 is unknown"}"#;
/// let err = parse_registration_management_response(401, body, &["rat-123"]).unwrap_err();
/// assert_eq!(err.oauth.error_description.as_deref(), Some("[REDACTED] is unknown"));
/// let client = parse_registration_management_response(200, br#"{"client_id":"c1"}"#, &[])?;
/// assert_eq!(client.client_id, "c1");
/// # Ok::<(), safire_core::RegistrationError>(())
/// ```
pub fn parse_registration_management_response(
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> Result<RegisteredClient, RegistrationError> {
    RegisteredClient::parse(status, body).map_err(|mut error| {
        error.oauth = scrubbed_oauth(status, body, secrets);
        let leaks = |name: &String| secrets.iter().any(|s| !s.is_empty() && name.contains(s));
        if error.received_fields.iter().any(leaks) {
            error.received_fields = match parse_object(body) {
                Some(map) => field_names_scrubbed(&map, secrets),
                None => error
                    .received_fields
                    .iter()
                    .map(|name| scrub(name, secrets))
                    .collect(),
            };
        }
        error
    })
}

/// The OAuth error fields of any response, with `secrets` scrubbed.
fn scrubbed_oauth(status: u16, body: &[u8], secrets: &[&str]) -> OAuthErrorFields {
    if (200..300).contains(&status) {
        match parse_object(body) {
            Some(map) => oauth_error_from_object_scrubbed(status, map, secrets),
            None => OAuthErrorFields {
                status: Some(status),
                ..OAuthErrorFields::default()
            },
        }
    } else {
        parse_oauth_error_scrubbed(status, body, secrets)
    }
}

/// Reads, updates or deletes a registration (RFC 7592). Output: the [`RegisteredClient`] the
/// server returns (read, update) or `()` (delete).
///
/// A read or update response without `registration_access_token` or
/// `registration_client_uri` keeps the ones the flow was given, so the output can manage the
/// registration again.
///
/// ```
/// # use safire_core::*;
/// # use std::time::SystemTime;
/// let config = ClientConfig::builder("https://ehr.example/fhir").build()?;
/// let registered = RegisteredClient::parse(201, br#"{"client_id":"c1",
///   "registration_client_uri":"https://ehr.example/reg/c1","registration_access_token":"rat-1"}"#)?;
/// let mut flow = RegistrationManagementFlow::delete(config.into(), &registered);
/// let mut random = SeededRandom::new(1);
/// let mut env = Env::new(SystemTime::UNIX_EPOCH, &mut random);
/// let Step::Send(request) = flow.start(&mut env)? else { unreachable!() };
/// assert_eq!(request.method(), "DELETE");
/// assert_eq!(request.uri(), "https://ehr.example/reg/c1");
/// assert_eq!(request.headers()["authorization"], "Bearer rat-1");
/// # Ok::<(), safire_core::Error>(())
/// ```
pub struct RegistrationManagementFlow<T> {
    config: Arc<ClientConfig>,
    action: Action,
    uri: Option<String>,
    token: Option<SecretString>,
    client_secret: Option<SecretString>,
    body: Result<Vec<u8>, String>,
    output: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for RegistrationManagementFlow<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationManagementFlow")
            .field("action", &self.action)
            .field(
                "uri",
                &self.uri.as_deref().map(crate::error::url_for_message),
            )
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl<T> RegistrationManagementFlow<T> {
    fn new(config: Arc<ClientConfig>, client: &RegisteredClient, action: Action) -> Self {
        Self {
            config,
            action,
            uri: client
                .registration_client_uri
                .clone()
                .filter(|uri| !uri.trim().is_empty()),
            token: client
                .registration_access_token
                .clone()
                .filter(|token| !token.is_blank()),
            client_secret: client.client_secret.clone(),
            body: Ok(Vec::new()),
            output: PhantomData,
        }
    }

    fn secrets(&self) -> Vec<&str> {
        [self.token.as_ref(), self.client_secret.as_ref()]
            .into_iter()
            .flatten()
            .map(SecretString::expose)
            .filter(|s| !s.trim().is_empty())
            .collect()
    }

    /// Every problem found without the network, all at once.
    fn check(&self) -> Result<(&str, &SecretString), Error> {
        let mut missing = Vec::new();
        if self.uri.is_none() {
            missing.push("registration_client_uri");
        }
        if self.token.is_none() {
            missing.push("registration_access_token");
        }
        let (Some(uri), Some(token)) = (self.uri.as_deref(), self.token.as_ref()) else {
            return Err(ConfigurationError::missing(missing).into());
        };
        // The server handed out this URI (the registration response): a refusal is its fault.
        if let Some(why) = self
            .config
            .refuse_server_endpoint("registration_client_uri", uri)
        {
            return Err(RegistrationError {
                oauth: OAuthErrorFields::default(),
                received_fields: Vec::new(),
                detail: Some(
                    format!(
                        "the server's registration_client_uri {} cannot be used, {why}",
                        crate::error::url_for_message(uri)
                    )
                    .into(),
                ),
            }
            .into());
        }
        if let Err(reason) = &self.body {
            return Err(ConfigurationError::invalid(
                "client metadata",
                format!("cannot be serialized: {reason}"),
            )
            .into());
        }
        Ok((uri, token))
    }

    fn request(&self) -> Result<HttpRequest, Error> {
        let (uri, token) = self.check()?;
        let authorization = HeaderValue::try_from(format!("Bearer {}", token.expose().trim()))
            .map_err(|_| {
                ConfigurationError::invalid(
                    "registration_access_token",
                    "contains characters that cannot be sent in a header",
                )
            })?;
        let (content_type, body) = match (&self.action, &self.body) {
            (Action::Update, Ok(body)) => (Some("application/json"), body.clone()),
            _ => (None, Vec::new()),
        };
        requests::build(
            self.action.method(),
            uri,
            Operation::RegistrationManagement,
            content_type,
            Some(authorization),
            body,
        )
    }

    /// The error for a failed response, scrubbed, saying what was being done.
    fn failure(&self, response: &HttpResponse) -> RegistrationError {
        let status = response.status().as_u16();
        RegistrationError {
            oauth: scrubbed_oauth(status, response.body(), &self.secrets()),
            received_fields: Vec::new(),
            detail: Some(self.action.doing().into()),
        }
    }

    fn client(&self, response: &HttpResponse) -> Result<RegisteredClient, Error> {
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(self.failure(response).into());
        }
        let mut client =
            parse_registration_management_response(status, response.body(), &self.secrets())?;
        if client.registration_access_token.is_none() {
            client.registration_access_token = self.token.clone();
        }
        if client.registration_client_uri.is_none() {
            client.registration_client_uri = self.uri.clone();
        }
        Ok(client)
    }
}

impl RegistrationManagementFlow<RegisteredClient> {
    /// Reads the registration (`GET`).
    pub fn read(config: Arc<ClientConfig>, client: &RegisteredClient) -> Self {
        Self::new(config, client, Action::Read)
    }

    /// Replaces the registration's metadata with `metadata` (`PUT`, RFC 7592 §2.2): send the
    /// full metadata, not only what changes. `client_id` is set from `client`; the members an
    /// update must not carry (`registration_access_token`, `registration_client_uri`,
    /// `client_id_issued_at`, `client_secret_expires_at`) are left out; the client secret, if
    /// `client` has one, is included (the server checks it matches).
    pub fn update(
        config: Arc<ClientConfig>,
        client: &RegisteredClient,
        metadata: &ClientMetadata,
    ) -> Self {
        let mut flow = Self::new(config, client, Action::Update);
        flow.body = update_body(client, metadata);
        flow
    }
}

impl RegistrationManagementFlow<()> {
    /// Deletes the registration (`DELETE`; the server answers 204).
    pub fn delete(config: Arc<ClientConfig>, client: &RegisteredClient) -> Self {
        Self::new(config, client, Action::Delete)
    }
}

/// The JSON body of an update.
fn update_body(client: &RegisteredClient, metadata: &ClientMetadata) -> Result<Vec<u8>, String> {
    let Value::Object(mut object) = serde_json::to_value(metadata).map_err(|e| e.to_string())?
    else {
        return Err("client metadata is not a JSON object".to_owned());
    };
    for name in NOT_IN_UPDATE {
        object.remove(*name);
    }
    object.insert(
        "client_id".to_owned(),
        Value::String(client.client_id.clone()),
    );
    if let Some(secret) = &client.client_secret {
        object
            .entry("client_secret")
            .or_insert_with(|| Value::String(secret.expose().to_owned()));
    }
    serde_json::to_vec(&Value::Object(object)).map_err(|e| e.to_string())
}

impl Flow for RegistrationManagementFlow<RegisteredClient> {
    type Output = RegisteredClient;

    fn config(&self) -> Option<&ClientConfig> {
        Some(&self.config)
    }

    fn preflight(&self) -> Result<(), Error> {
        self.check().map(|_| ())
    }

    fn start(&mut self, _env: &mut Env<'_>) -> Result<Step<RegisteredClient>, Error> {
        Ok(Step::Send(self.request()?))
    }

    fn on_response(
        &mut self,
        response: HttpResponse,
        _env: &mut Env<'_>,
    ) -> Result<Step<RegisteredClient>, Error> {
        Ok(Step::Done(self.client(&response)?))
    }
}

impl Flow for RegistrationManagementFlow<()> {
    type Output = ();

    fn config(&self) -> Option<&ClientConfig> {
        Some(&self.config)
    }

    fn preflight(&self) -> Result<(), Error> {
        self.check().map(|_| ())
    }

    fn start(&mut self, _env: &mut Env<'_>) -> Result<Step<()>, Error> {
        Ok(Step::Send(self.request()?))
    }

    fn on_response(
        &mut self,
        response: HttpResponse,
        _env: &mut Env<'_>,
    ) -> Result<Step<()>, Error> {
        if response.status().is_success() {
            Ok(Step::Done(()))
        } else {
            Err(self.failure(&response).into())
        }
    }
}

#[cfg(test)]
mod tests;
