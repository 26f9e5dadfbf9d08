//! The shared transport scenario suite (`tests/transport-suite`), run over safire-hyper: each
//! blocking suite call blocks on a multi-thread tokio runtime owned by the wrapper, so pooled
//! connections and their tasks stay on one runtime for the client's lifetime.

#[path = "../../../tests/transport-suite/mod.rs"]
mod suite;

use safire_hyper::SmartClient;
use tokio::runtime::Runtime;

struct Hyper {
    runtime: Runtime,
    client: SmartClient,
}

fn new_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

suite::test_client!(Hyper, SmartClient,
    new: |client| Hyper { runtime: new_runtime(), client },
    client: |this| &this.client,
    wait: |call| this.runtime.block_on(call));

suite::scenarios!(Hyper);

impl suite::sessions::SessionClient for Hyper {
    type Session = safire_hyper::SmartSession;

    fn build_session(
        &self,
        spec: suite::sessions::SessionSpec,
    ) -> Result<Self::Session, safire_hyper::Error> {
        let mut builder = match (&spec.store, spec.resume) {
            (Some((store, key)), true) => self.client.resume_session(store.clone(), key.clone()),
            (Some((store, key)), false) => self
                .client
                .session(spec.value)
                .store(store.clone(), key.clone()),
            (None, _) => self.client.session(spec.value),
        };
        builder = builder.refresh_margin(spec.margin);
        if let Some(hook) = spec.on_change {
            builder = builder.on_change(move |s| hook(s));
        }
        self.runtime.block_on(builder.build())
    }

    fn access_token(
        &self,
        session: &Self::Session,
    ) -> Result<safire_hyper::SecretString, safire_hyper::Error> {
        self.runtime.block_on(session.access_token())
    }

    fn send(
        &self,
        session: &Self::Session,
        request: safire_core::HttpRequest,
    ) -> Result<safire_core::HttpResponse, safire_hyper::Error> {
        self.runtime.block_on(session.send(request))
    }

    fn current(&self, session: &Self::Session) -> safire_hyper::Session {
        session.session()
    }
}

/// The session futures are `Send` (they live in axum handlers and spawned tasks).
#[test]
fn session_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    fn check(session: &safire_hyper::SmartSession) {
        assert_send(&session.access_token());
        assert_send(&session.renew());
        assert_send(&session.get("Patient/1"));
        assert_send(&session.send(safire_core::http::Request::new(Vec::new())));
    }
    let _ = check;
}

suite::session_scenarios!(Hyper);
