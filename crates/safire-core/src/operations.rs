//! The one list of client operations. Both transports' `SmartClient`s (and the transport
//! scenario suite) generate their methods from it, so a new flow is one entry here.
//!
//! [`client_operations!`](crate::client_operations) hands the list to a generator macro:
//! [`blocking_client_methods!`](crate::blocking_client_methods) or
//! [`async_client_methods!`](crate::async_client_methods) write `pub fn` methods on a type
//! that has `fn flows(&self) -> &FlowFactory` and a `run(flow)` (blocking or async).
//! Each entry reads: doc, `fn name(args) -> Output = |factory| flow expression;`.

/// Hands the list of client operations to `$generator!`, with any `$extra` tokens first.
///
/// ```
/// use safire_core::{Error, Flow, FlowFactory, ClientConfig};
///
/// /// A toy transport whose `run` only reports what it was asked to run.
/// struct Client(FlowFactory);
/// impl Client {
///     fn flows(&self) -> &FlowFactory { &self.0 }
///     fn run<F: Flow>(&self, _flow: F) -> Result<F::Output, Error> {
///         Err(Error::Usage("toy transport"))
///     }
///     safire_core::client_operations!(safire_core::blocking_client_methods);
/// }
/// let client = Client(FlowFactory::new(ClientConfig::builder("https://ehr.example/fhir").build()?));
/// assert!(client.request_backend_token(safire_core::CallOptions::new()).is_err());
/// # Ok::<(), safire_core::Error>(())
/// ```
#[macro_export]
macro_rules! client_operations {
    ($generator:path $(, $($extra:tt)*)?) => {
        $generator! {
            [$($($extra)*)?]

            /// Builds the authorization URL to send the browser to (discovering the
            /// authorization endpoint first when it is not configured). Keep the returned
            /// `pending` server-side: the callback needs it.
            fn authorization_url(params: $crate::AuthorizeParams) -> $crate::AuthorizationRequest
                = |flows| flows.authorize(params);

            /// An EHR launch in one call: takes the URL (or path and query, or query) the EHR
            /// opened the app with, refuses it unless its `iss` is this client's FHIR base or a
            /// declared `launch_issuer` (`AuthErrorKind::LaunchIssuerNotAllowed`, naming both),
            /// and builds the authorization URL with its `launch` value, as
            /// `authorization_url` does. A launch from server X is never authorized with a
            /// client for server Y.
            fn ehr_launch_authorization(
                launch_url: &str,
                params: $crate::AuthorizeParams
            ) -> $crate::AuthorizationRequest
                = |flows| flows.ehr_launch(launch_url, params)?;

            /// Verifies the callback URL against `pending` (state, RFC 9207 `iss`, errors),
            /// then exchanges the code with its PKCE verifier. The pending authorization is
            /// consumed (a code is redeemed once; delete it from your session store too), and
            /// one older than the configured maximum age is refused. An `id_token` in the
            /// response is verified (signature with the server's JWK Set, `iss`, `aud`,
            /// times, `nonce`) and its identity put in `TokenResponse::identity`.
            fn request_access_token(
                pending: $crate::PendingAuthorization,
                callback_url: &str,
                options: $crate::CallOptions
            ) -> $crate::TokenResponse
                = |flows| flows.exchange_code(pending, callback_url, options)?;

            /// [`request_access_token`](Self::request_access_token), producing a
            /// [`Session`]($crate::Session) (granted scopes typed, absolute expiry, launch
            /// context) for a session type to keep valid.
            fn request_session(
                pending: $crate::PendingAuthorization,
                callback_url: &str,
                options: $crate::CallOptions
            ) -> $crate::Session
                = |flows| flows.start_session(pending, callback_url, options)?;

            /// A backend services token as a [`Session`]($crate::Session) (renewed with a new
            /// assertion when it runs out).
            fn request_backend_session(options: $crate::CallOptions) -> $crate::Session
                = |flows| flows.backend_session(options);

            /// Renews a session once, now: a refresh (user session; `invalid_grant` means
            /// re-authorization required) or a new assertion (backend session), merged into
            /// the session per the documented rules. Session types call this for you.
            fn renew_session(
                session: &$crate::Session,
                options: $crate::CallOptions
            ) -> $crate::Session
                = |flows| flows.renew_session(session, options)?;

            /// Exchanges a refresh token for a new access token (optionally narrower scopes).
            fn refresh_token(
                refresh_token: impl Into<$crate::SecretString>,
                options: $crate::CallOptions
            ) -> $crate::TokenResponse
                = |flows| flows.refresh(refresh_token.into(), options);

            /// A SMART Backend Services token (`client_credentials`, with a fresh signed
            /// assertion, or the client secret for servers whose system accounts use one).
            fn request_backend_token(options: $crate::CallOptions) -> $crate::TokenResponse
                = |flows| flows.backend_token(options);

            /// The authorization server's JWK Set (`jwks_uri`): fetched once, parsed once and
            /// cached for the client's JWK Set lifetime.
            fn server_keys() -> ::std::sync::Arc<$crate::ServerJwks>
                = |flows| flows.server_keys();

            /// Dynamic client registration (RFC 7591) at `endpoint`, else the discovered
            /// `registration_endpoint`, with an optional initial access token.
            fn register_client(
                metadata: &$crate::ClientMetadata,
                endpoint: Option<&str>,
                initial_access_token: Option<$crate::SecretString>
            ) -> $crate::RegisteredClient
                = |flows| flows.register(metadata, endpoint, initial_access_token);

            /// Token introspection (RFC 7662, SMART 2.2): is `token` active, and what does it
            /// grant? Authenticated like a token request, or with
            /// [`CallOptions::bearer_token`](safire_core::CallOptions::bearer_token) where the
            /// server requires it. `active: false` is a normal result.
            fn introspect_token(
                token: impl Into<$crate::SecretString>,
                token_type_hint: Option<$crate::TokenTypeHint>,
                options: $crate::CallOptions
            ) -> $crate::Introspection
                = |flows| flows.introspect(token.into(), token_type_hint, options);

            /// Token revocation (RFC 7009), e.g. of the refresh token at logout. Success
            /// whatever the body of a 2xx; a server that cannot revoke this kind of token
            /// answers [`RevocationErrorKind::UnsupportedTokenType`](safire_core::RevocationErrorKind::UnsupportedTokenType).
            fn revoke_token(
                token: impl Into<$crate::SecretString>,
                token_type_hint: Option<$crate::TokenTypeHint>,
                options: $crate::CallOptions
            ) -> ()
                = |flows| flows.revoke(token.into(), token_type_hint, options);

            /// Reads a dynamically registered client's current registration (RFC 7592) at its
            /// `registration_client_uri`, with its `registration_access_token`.
            fn read_registration(client: &$crate::RegisteredClient) -> $crate::RegisteredClient
                = |flows| flows.read_registration(client);

            /// Replaces a registration's metadata (RFC 7592): send the full metadata.
            fn update_registration(
                client: &$crate::RegisteredClient,
                metadata: &$crate::ClientMetadata
            ) -> $crate::RegisteredClient
                = |flows| flows.update_registration(client, metadata);

            /// Deletes a registration (RFC 7592): the client can no longer be used.
            fn delete_registration(client: &$crate::RegisteredClient) -> ()
                = |flows| flows.delete_registration(client);
        }
    };
}

/// Writes the operations as blocking methods calling `self.run(flow)`.
#[macro_export]
macro_rules! blocking_client_methods {
    ([$($extra:tt)*] $(
        $(#[$meta:meta])*
        fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $output:ty = |$flows:ident| $make:expr;
    )*) => {
        $(
            $(#[$meta])*
            pub fn $name(&self, $($arg: $ty),*) -> Result<$output, $crate::Error> {
                let $flows = self.flows();
                self.run($make)
            }
        )*
    };
}

/// Writes the operations as async methods awaiting `self.run(flow)`.
#[macro_export]
macro_rules! async_client_methods {
    ([$($extra:tt)*] $(
        $(#[$meta:meta])*
        fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $output:ty = |$flows:ident| $make:expr;
    )*) => {
        $(
            $(#[$meta])*
            pub async fn $name(&self, $($arg: $ty),*) -> Result<$output, $crate::Error> {
                let $flows = self.flows();
                let flow = $make;
                self.run(flow).await
            }
        )*
    };
}
