//! How the client authenticates: [`ClientAuth`] and the Basic encoding it may use.

use std::fmt;
use std::sync::Arc;

use crate::assertion::Signer;
use crate::secret::SecretString;

/// How `client_secret_basic` encodes the client id and secret before base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BasicAuthEncoding {
    /// RFC 6749 §2.3.1: form-urlencode id and secret, then base64 `id:secret`. The default.
    #[default]
    FormUrlEncoded,
    /// Base64 of the raw `id:secret`, as the Ruby library and the SMART reference server do.
    /// Identical to the default for ids and secrets made of unreserved characters.
    Raw,
}

/// How the client authenticates at the token endpoint.
///
/// Credentials may be left out here and supplied per call with
/// [`CallOptions`](super::CallOptions); a flow that needs a missing one fails with
/// `Configuration missing: …` before any request is built.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client: `client_id` in the request body, no secret.
    #[default]
    Public,
    /// A confidential symmetric client: `Authorization: Basic`.
    ClientSecretBasic {
        /// The client secret (may come per call instead).
        secret: Option<SecretString>,
        /// How id and secret are encoded.
        encoding: BasicAuthEncoding,
    },
    /// A confidential symmetric client sending `client_id` and `client_secret` in the form
    /// body (`client_secret_post`), as many SMART servers also advertise.
    ClientSecretPost {
        /// The client secret (may come per call instead).
        secret: Option<SecretString>,
    },
    /// A confidential asymmetric client: a signed JWT assertion (RS384 or ES384).
    PrivateKeyJwt {
        /// The signing key (may come per call instead).
        signer: Option<Arc<dyn Signer>>,
        /// The key id sent as the JWT `kid` header.
        kid: Option<String>,
    },
    /// A confidential asymmetric client holding several keys (say ES384 and RS384), in order
    /// of preference: each assertion is signed with the first key whose algorithm the server
    /// lists in `token_endpoint_auth_signing_alg_values_supported`. Built with
    /// [`ClientAuth::private_key_jwt_keys`].
    PrivateKeyJwtKeys {
        /// `(signer, kid)` pairs, preferred first.
        keys: Vec<(Arc<dyn Signer>, String)>,
    },
}

impl ClientAuth {
    /// `client_secret_basic` with the RFC 6749 encoding.
    pub fn client_secret_basic(secret: impl Into<SecretString>) -> Self {
        ClientAuth::ClientSecretBasic {
            secret: Some(secret.into()),
            encoding: BasicAuthEncoding::default(),
        }
    }

    /// `client_secret_basic` with the raw `id:secret` in the header (no RFC 6749 §2.3.1
    /// form-encoding first), for servers that do not URL-decode Basic credentials. Identical
    /// to [`ClientAuth::client_secret_basic`] for secrets of unreserved characters.
    ///
    /// ```
    /// use safire_core::ClientAuth;
    /// assert_eq!(ClientAuth::client_secret_basic_raw("a+b").method_name(), "client_secret_basic");
    /// ```
    pub fn client_secret_basic_raw(secret: impl Into<SecretString>) -> Self {
        ClientAuth::ClientSecretBasic {
            secret: Some(secret.into()),
            encoding: BasicAuthEncoding::Raw,
        }
    }

    /// `client_secret_post`: id and secret in the form body.
    ///
    /// ```
    /// use safire_core::ClientAuth;
    /// assert_eq!(ClientAuth::client_secret_post("s").method_name(), "client_secret_post");
    /// ```
    pub fn client_secret_post(secret: impl Into<SecretString>) -> Self {
        ClientAuth::ClientSecretPost {
            secret: Some(secret.into()),
        }
    }

    /// `private_key_jwt` with a key (any [`Signer`]) and its `kid`.
    ///
    /// The flows sign assertions valid for
    /// [`DEFAULT_ASSERTION_LIFETIME`](crate::DEFAULT_ASSERTION_LIFETIME) (four minutes: room
    /// under SMART's five for a server whose clock runs ahead). When the server's metadata is
    /// known and lists its `token_endpoint_auth_signing_alg_values_supported`, a key of
    /// another algorithm fails before anything is sent; for a client holding several keys, see
    /// [`ClientAuth::private_key_jwt_keys`].
    pub fn private_key_jwt(signer: impl Signer + 'static, kid: impl Into<String>) -> Self {
        ClientAuth::PrivateKeyJwt {
            signer: Some(Arc::new(signer)),
            kid: Some(kid.into()),
        }
    }

    /// `private_key_jwt` with several keys, preferred first: each assertion is signed with the
    /// first key whose algorithm the server lists in its metadata
    /// (`token_endpoint_auth_signing_alg_values_supported`). When no key fits, the request
    /// fails before anything is sent, naming both lists.
    ///
    /// A token request with more than one key needs the server's metadata to choose, so it
    /// discovers the server (or uses the metadata given to the driver) even when the token
    /// endpoint is configured. Introspection and revocation use the metadata when they have
    /// it and otherwise sign with the first key. A server whose metadata lists no signing
    /// algorithm gets the first key.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use safire_core::{ClientAuth, PrivateKey, SeededRandom, Signer};
    ///
    /// let mut random = SeededRandom::new(1);
    /// // In practice, say, an ES384 and an RS384 key (PrivateKey::generate_rs384).
    /// let first: Arc<dyn Signer> = Arc::new(PrivateKey::generate_es384(&mut random).unwrap());
    /// let backup: Arc<dyn Signer> = Arc::new(PrivateKey::generate_es384(&mut random).unwrap());
    /// let auth = ClientAuth::private_key_jwt_keys([(first, "es-1"), (backup, "backup")]);
    /// assert_eq!(auth.method_name(), "private_key_jwt");
    /// assert!(format!("{auth:?}").contains("backup"));
    /// ```
    pub fn private_key_jwt_keys<I, K>(keys: I) -> Self
    where
        I: IntoIterator<Item = (Arc<dyn Signer>, K)>,
        K: Into<String>,
    {
        ClientAuth::PrivateKeyJwtKeys {
            keys: keys
                .into_iter()
                .map(|(signer, kid)| (signer, kid.into()))
                .collect(),
        }
    }

    /// The name SMART and RFC 7591 use for this method.
    pub fn method_name(&self) -> &'static str {
        match self {
            ClientAuth::Public => "none",
            ClientAuth::ClientSecretBasic { .. } => "client_secret_basic",
            ClientAuth::ClientSecretPost { .. } => "client_secret_post",
            ClientAuth::PrivateKeyJwt { .. } | ClientAuth::PrivateKeyJwtKeys { .. } => {
                "private_key_jwt"
            }
        }
    }

    /// More than one configured signing key: choosing among them needs the server's
    /// signing algorithms.
    pub(crate) fn has_several_keys(&self) -> bool {
        matches!(self, ClientAuth::PrivateKeyJwtKeys { keys } if keys.len() > 1)
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAuth::Public => f.write_str("Public"),
            ClientAuth::ClientSecretBasic { secret, encoding } => f
                .debug_struct("ClientSecretBasic")
                .field("secret", secret)
                .field("encoding", encoding)
                .finish(),
            ClientAuth::ClientSecretPost { secret } => f
                .debug_struct("ClientSecretPost")
                .field("secret", secret)
                .finish(),
            ClientAuth::PrivateKeyJwt { signer, kid } => f
                .debug_struct("PrivateKeyJwt")
                .field("signer", &signer.as_ref().map(|s| s.algorithm()))
                .field("kid", kid)
                .finish(),
            ClientAuth::PrivateKeyJwtKeys { keys } => f
                .debug_struct("PrivateKeyJwtKeys")
                .field(
                    "keys",
                    &keys
                        .iter()
                        .map(|(signer, kid)| (signer.algorithm(), kid))
                        .collect::<Vec<_>>(),
                )
                .finish(),
        }
    }
}
