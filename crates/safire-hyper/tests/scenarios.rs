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
