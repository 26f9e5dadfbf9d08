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
