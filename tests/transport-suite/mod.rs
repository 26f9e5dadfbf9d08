//! The transport scenario suite: every Safire transport runs these end-to-end scenarios
//! against the hermetic servers in `servers.rs`. See `README.md` for how to plug a transport in.
#![allow(dead_code)]
// safire_core::Error is large by design (see safire-core); the suite returns it as the API does.

pub mod cases;
mod client;
pub mod servers;
pub mod sessions;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

pub use client::TestClient;
pub(crate) use client::{test_client, test_client_impl};

/// Expands to one `#[test]` per name, running `$module::$name::<$client>()`.
macro_rules! each_test {
    ($module:ident, $client:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::suite::$module::$name::<$client>();
            }
        )*
    };
}
pub(crate) use each_test;

/// Expands to one `#[test]` per scenario for the client type `$client`. The including module
/// must be named `suite` at the test crate's root.
macro_rules! scenarios {
    ($client:ty) => {
        $crate::suite::each_test!(cases, $client;
            discovery_end_to_end,
            discovery_failure_is_not_cached,
            concurrent_first_discovery_sends_one_request,
            concurrent_callers_share_a_failed_discovery,
            standalone_launch_end_to_end,
            ehr_launch_in_one_call,
            refresh_with_client_secret_basic,
            backend_services_with_es384,
            assertion_key_follows_the_servers_algorithms,
            registration_with_initial_access_token,
            run_custom_flow,
            redirect_https_to_http_is_blocked,
            redirect_https_to_https_is_followed,
            redirect_loop_stops_at_the_limit,
            discovery_redirect_to_another_origin_is_refused,
            redirect_target_with_userinfo_is_refused,
            echoed_secrets_are_scrubbed_from_errors,
            one_deadline_covers_discovery_redirects_and_the_request,
            cross_origin_redirect_drops_authorization,
            token_endpoint_redirects_are_refused,
            registration_endpoint_redirects_are_refused,
            silent_server_times_out,
            trickling_server_times_out,
            huge_body_is_cut_off_at_the_cap,
            body_at_the_cap_is_accepted,
            connection_refused,
            connect_timeout_applies_to_opening_the_connection,
            untrusted_certificate_is_a_tls_error,
            html_500_from_discovery,
            server_advertised_endpoints_are_resolved_or_blamed_on_the_server,
            oauth_errors_from_the_token_endpoint,
            registration_error_with_status_200,
            canaries_never_leak,
            introspection_end_to_end,
            introspection_error_bodies,
            revocation_end_to_end,
            registration_management_end_to_end,
            companion_canaries_never_leak,
            id_token_verified_with_one_jwks_fetch,
            concurrent_cold_code_exchanges_fetch_the_key_set_once,
            rotated_key_is_fetched_once_and_bogus_kids_are_rate_limited,
            id_token_with_another_nonce_is_refused,
        );
    };
}
pub(crate) use scenarios;

/// Expands to one `#[test]` per session scenario (`sessions.rs`) for `$client`, which must
/// implement [`sessions::SessionClient`].
macro_rules! session_scenarios {
    ($client:ty) => {
        $crate::suite::each_test!(sessions, $client;
            session_64_callers_at_expiry_send_one_token_request,
            session_failing_refresh_is_shared_then_retried,
            session_rotation_across_three_refreshes_is_persisted_through_the_hook,
            session_backend_renews_with_a_fresh_assertion,
            session_401_refreshes_once_and_retries_once,
            session_token_never_sent_to_another_origin,
            session_reauthorization_required,
            sessions_sharing_a_store_renew_once,
        );
    };
}
pub(crate) use session_scenarios;

/// Everything written through `tracing` in this test process, at TRACE level. The first call
/// installs the global subscriber; events from every thread (and runtime worker) land here.
pub fn captured_tracing() -> Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER
        .get_or_init(|| {
            let buffer = Arc::new(Mutex::new(Vec::new()));
            let writer = SharedWriter(buffer.clone());
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global tracing subscriber in the suite's test binary");
            buffer
        })
        .clone()
}

/// The captured tracing output as text.
pub fn tracing_text() -> String {
    String::from_utf8_lossy(&captured_tracing().lock().unwrap()).into_owned()
}

#[derive(Clone)]
struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
