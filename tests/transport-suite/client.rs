//! [`TestClient`]: a transport's client behind one blocking trait, generated from the core's
//! one list of client operations, and [`test_client!`], its forwarding implementation for a
//! wrapper around a transport's `SmartClient`. Depends on `safire_core` only, so the interop
//! suite (`tests/interop`) mounts this file too, as its module `suite`: a new flow needs no
//! edit in either suite.
#![allow(dead_code)]

use std::sync::Arc;

use safire_core::{ClientConfig, Error, Flow, Limits, SmartMetadata};

/// Writes [`TestClient`] from the core's one list of client operations
/// (`safire_core::client_operations!`): a new flow needs no edit here.
macro_rules! test_client_trait {
    ([] $(
        $(#[$meta:meta])*
        fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $output:ty = |$flows:ident| $make:expr;
    )*) => {
        /// A transport's client, with blocking calls (an async transport blocks on its runtime).
        pub trait TestClient: Send + Sync + Sized + 'static {
            /// Builds a client with these limits (`builder.limits(limits)`) and, when given, an
            /// extra trusted root CA in PEM (`builder.add_root_certificate_pem(pem)`).
            fn build(
                config: ClientConfig,
                limits: Limits,
                root_ca_pem: Option<&[u8]>,
            ) -> Result<Self, Error>;
            /// `SmartClient::server_metadata`.
            fn server_metadata(&self) -> Result<Arc<SmartMetadata>, Error>;
            $(
                $(#[$meta])*
                fn $name(&self, $($arg: $ty),*) -> Result<$output, Error>;
            )*
            /// `SmartClient::run`.
            fn run<F>(&self, flow: F) -> Result<F::Output, Error>
            where
                F: Flow + Send + 'static,
                F::Output: Send + 'static;
        }
    };
}
safire_core::client_operations!(test_client_trait);

/// Implements [`TestClient`] for a wrapper around a transport's `SmartClient`, so that the
/// transports' test files do not repeat the forwarding code. `client` borrows the
/// `SmartClient` from the wrapper (`this`); `wait` turns one call's value (`call`: a `Result`
/// for a blocking transport, a future for an async one) into its `Result`.
///
/// ```ignore
/// struct Ureq(safire_ureq::SmartClient);
/// suite::test_client!(Ureq, safire_ureq::SmartClient,
///     new: |client| Ureq(client),
///     client: |this| &this.0,
///     wait: |call| call);
///
/// struct Hyper { runtime: tokio::runtime::Runtime, client: safire_hyper::SmartClient }
/// suite::test_client!(Hyper, safire_hyper::SmartClient,
///     new: |client| Hyper { runtime: new_runtime(), client },
///     client: |this| &this.client,
///     wait: |call| this.runtime.block_on(call));
/// ```
macro_rules! test_client {
    (
        $wrapper:ty, $smart_client:ty,
        new: |$new_client:ident| $new:expr,
        client: |$this:ident| $client:expr,
        wait: |$call:ident| $wait:expr $(,)?
    ) => {
        ::safire_core::client_operations!(
            $crate::suite::test_client_impl,
            $wrapper, $smart_client,
            new: |$new_client| $new,
            client: |$this| $client,
            wait: |$call| $wait
        );
    };
}

/// The forwarding `impl TestClient` behind [`test_client!`], one method per core operation.
macro_rules! test_client_impl {
    ([
        $wrapper:ty, $smart_client:ty,
        new: |$new_client:ident| $new:expr,
        client: |$this:ident| $client:expr,
        wait: |$call:ident| $wait:expr
    ] $(
        $(#[$meta:meta])*
        fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) -> $output:ty = |$flows:ident| $make:expr;
    )*) => {
        impl $crate::suite::TestClient for $wrapper {
            fn build(
                config: ::safire_core::ClientConfig,
                limits: ::safire_core::Limits,
                root_ca_pem: Option<&[u8]>,
            ) -> Result<Self, ::safire_core::Error> {
                let mut builder = <$smart_client>::builder(config).limits(limits);
                if let Some(pem) = root_ca_pem {
                    builder = builder.add_root_certificate_pem(pem)?;
                }
                let $new_client = builder.build()?;
                Ok($new)
            }

            fn server_metadata(
                &self,
            ) -> Result<::std::sync::Arc<::safire_core::SmartMetadata>, ::safire_core::Error> {
                let $this = self;
                let $call = $client.server_metadata();
                $wait
            }

            $(
                fn $name(&self, $($arg: $ty),*) -> Result<$output, ::safire_core::Error> {
                    let $this = self;
                    let $call = $client.$name($($arg),*);
                    $wait
                }
            )*

            fn run<F>(&self, flow: F) -> Result<F::Output, ::safire_core::Error>
            where
                F: ::safire_core::Flow + Send + 'static,
                F::Output: Send + 'static,
            {
                let $this = self;
                let $call = $client.run(flow);
                $wait
            }
        }
    };
}
pub(crate) use test_client;
pub(crate) use test_client_impl;
