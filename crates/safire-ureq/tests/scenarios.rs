//! The shared transport scenario suite (`tests/transport-suite`), run over safire-ureq.

#[path = "../../../tests/transport-suite/mod.rs"]
mod suite;

/// The blocking client as the suite's `TestClient`: every call returns its `Result` directly.
struct Ureq(safire_ureq::SmartClient);

suite::test_client!(Ureq, safire_ureq::SmartClient,
    new: |client| Ureq(client),
    client: |this| &this.0,
    wait: |call| call);

suite::scenarios!(Ureq);

impl suite::sessions::SessionClient for Ureq {
    type Session = safire_ureq::SmartSession;

    fn build_session(
        &self,
        spec: suite::sessions::SessionSpec,
    ) -> Result<Self::Session, safire_ureq::Error> {
        let mut builder = match (&spec.store, spec.resume) {
            (Some((store, key)), true) => self.0.resume_session(store.clone(), key.clone()),
            (Some((store, key)), false) => {
                self.0.session(spec.value).store(store.clone(), key.clone())
            }
            (None, _) => self.0.session(spec.value),
        };
        builder = builder.refresh_margin(spec.margin);
        if let Some(hook) = spec.on_change {
            builder = builder.on_change(move |s| hook(s));
        }
        builder.build()
    }

    fn access_token(
        &self,
        session: &Self::Session,
    ) -> Result<safire_ureq::SecretString, safire_ureq::Error> {
        session.access_token()
    }

    fn send(
        &self,
        session: &Self::Session,
        request: safire_core::HttpRequest,
    ) -> Result<safire_core::HttpResponse, safire_ureq::Error> {
        session.send(request)
    }

    fn current(&self, session: &Self::Session) -> safire_ureq::Session {
        session.session()
    }
}

suite::session_scenarios!(Ureq);
