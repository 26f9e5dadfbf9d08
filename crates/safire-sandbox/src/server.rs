//! hyper 1 plumbing: a current-thread tokio runtime on a background thread.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::sync::oneshot;

use crate::oauth::{Req, Resp, Shared};
use crate::types::Fault;

const MAX_BODY: usize = 64 * 1024;

/// Start serving `listener` on a new thread; returns the shutdown trigger and the thread.
pub(crate) fn spawn(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
) -> io::Result<(oneshot::Sender<()>, JoinHandle<()>)> {
    listener.set_nonblocking(true)?;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
    let thread = std::thread::Builder::new()
        .name("safire-sandbox".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                serve(listener, shared, stop_rx).await;
            });
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok((stop_tx, thread)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::other("sandbox thread died during start")),
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(shared, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => c.to_bytes().to_vec(),
        Err(_) => {
            return to_hyper(Resp::json(
                413,
                &json!({"error": "invalid_request", "error_description": "body too large or unreadable"}),
            ));
        }
    };
    let path = parts.uri.path().to_string();
    let Some(endpoint) = shared.route(&path) else {
        return to_hyper(Resp::json(
            404,
            &json!({"error": "not_found", "error_description": format!("no endpoint at {path}")}),
        ));
    };
    *shared.counters().entry(endpoint).or_insert(0) += 1;
    if let Some(fault) = shared.take_fault(endpoint) {
        match fault {
            Fault::Delay(d) => tokio::time::sleep(d).await,
            other => {
                if let Some(r) = Resp::fault(&other) {
                    return to_hyper(r);
                }
            }
        }
    }
    let below_base = path
        .strip_prefix(shared.cfg.base_path.as_str())
        .unwrap_or_default()
        .to_string();
    let req = Req {
        method: parts.method.as_str().to_string(),
        path: below_base,
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
    };
    to_hyper(shared.dispatch(endpoint, &req))
}

fn to_hyper(r: Resp) -> Response<Full<Bytes>> {
    let mut b = Response::builder().status(r.status);
    for (k, v) in &r.headers {
        b = b.header(*k, v.as_str());
    }
    b.body(Full::new(Bytes::from(r.body))).unwrap_or_else(|_| {
        let mut resp = Response::new(Full::new(Bytes::from_static(
            b"{\"error\":\"server_error\",\"error_description\":\"invalid injected response\"}",
        )));
        *resp.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
        resp
    })
}
