//! Per-call overrides of the configuration: [`CallOptions`].

use std::fmt;
use std::sync::Arc;

use crate::assertion::Signer;
use crate::secret::SecretString;

/// Per-call overrides, as in the Ruby library: a rotated secret, another key, narrower scopes.
///
/// ```
/// use safire_core::CallOptions;
/// let options = CallOptions::new().client_secret("rotated").scopes(["patient/*.rs"]);
/// assert!(format!("{options:?}").contains("[REDACTED]"));
/// ```
#[derive(Clone, Default)]
pub struct CallOptions {
    pub(crate) client_secret: Option<SecretString>,
    pub(crate) signer: Option<Arc<dyn Signer>>,
    pub(crate) kid: Option<String>,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) extra_params: Vec<(String, String)>,
    pub(crate) bearer_token: Option<SecretString>,
}

impl CallOptions {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Use this secret instead of the configured one (secret rotation). A blank value is ignored.
    pub fn client_secret(mut self, secret: impl Into<SecretString>) -> Self {
        let secret = secret.into();
        if !secret.is_blank() {
            self.client_secret = Some(secret);
        }
        self
    }

    /// Sign with this key and `kid` instead of the configured ones.
    pub fn private_key(mut self, signer: Arc<dyn Signer>, kid: impl Into<String>) -> Self {
        self.signer = Some(signer);
        self.kid = Some(kid.into());
        self
    }

    /// Request these scopes (refresh: a narrower set; backend: instead of the configured ones).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }
}

impl CallOptions {
    /// Token introspection only: authenticate with `Authorization: Bearer <token>` instead of
    /// the client credentials, for servers that protect introspection with an access token
    /// (RFC 7662 §2.1). Other operations refuse it. A blank value is ignored.
    ///
    /// ```
    /// use safire_core::CallOptions;
    /// let options = CallOptions::new().bearer_token("rs-token");
    /// assert!(!format!("{options:?}").contains("rs-token"));
    /// ```
    pub fn bearer_token(mut self, token: impl Into<SecretString>) -> Self {
        let token = token.into();
        if !token.is_blank() {
            self.bearer_token = Some(token);
        }
        self
    }

    /// Adds a form parameter the server needs beyond the standard ones, such as an RFC 8707
    /// `resource`. Parameters Safire sets itself (`grant_type`, `client_id`, …) are refused
    /// when the request is built.
    pub fn extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }
}

impl fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallOptions")
            .field("client_secret", &self.client_secret)
            .field("signer", &self.signer.as_ref().map(|s| s.algorithm()))
            .field("kid", &self.kid)
            .field("scopes", &self.scopes)
            .field(
                "extra_params",
                &self.extra_params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("bearer_token", &self.bearer_token)
            .finish()
    }
}
