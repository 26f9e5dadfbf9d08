//! Fault injection: scripted failures and redirects on the endpoints.

use super::*;

#[test]
fn fault_injection() {
    let sb = Sandbox::builder()
        .fault(Endpoint::SmartConfiguration, 1, Fault::MalformedJson)
        .start()
        .unwrap();
    let disc = sb.url(Endpoint::SmartConfiguration);
    let r = get(sb.local_addr(), &disc);
    assert_eq!(r.status, 200);
    assert!(serde_json::from_str::<Value>(&r.body).is_err());
    assert_eq!(get(sb.local_addr(), &disc).status, 200);
    assert!(serde_json::from_str::<Value>(&get(sb.local_addr(), &disc).body).is_ok());

    let backend = sb.clients().backend.clone();
    sb.faults()
        .fail_next(
            Endpoint::Token,
            2,
            Fault::OAuth {
                status: 400,
                error: "invalid_grant",
            },
        )
        .fail_next(Endpoint::Token, 1, Fault::Status(503))
        .fail_next(
            Endpoint::Token,
            1,
            Fault::Redirect {
                status: 307,
                location: "http://127.0.0.1:9/elsewhere".into(),
            },
        )
        .fail_next(Endpoint::Token, 1, Fault::Delay(Duration::from_millis(300)));
    assert_eq!(sb.faults().pending(Endpoint::Token), 5);
    for i in 0..2 {
        let r = backend_token(&sb, &backend, "system/*.rs", &format!("f-{i}"));
        assert_eq!((r.status, r.error().as_str()), (400, "invalid_grant"));
    }
    assert_eq!(
        backend_token(&sb, &backend, "system/*.rs", "f-2").status,
        503
    );
    let r = backend_token(&sb, &backend, "system/*.rs", "f-3");
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location"), Some("http://127.0.0.1:9/elsewhere"));
    let t0 = Instant::now();
    let r = backend_token(&sb, &backend, "system/*.rs", "f-4");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status, 200, "delay then a normal answer: {}", r.body);
    assert_eq!(
        backend_token(&sb, &backend, "system/*.rs", "f-5").status,
        200
    );
    assert_eq!(sb.requests(Endpoint::Token), 6);
    assert_eq!(sb.requests(Endpoint::Register), 0);

    sb.faults()
        .fail_next(Endpoint::Token, 3, Fault::Status(500));
    sb.faults().clear();
    assert_eq!(sb.faults().pending(Endpoint::Token), 0);
    sb.reset_requests();
    assert_eq!(sb.requests(Endpoint::Token), 0);
}

#[test]
fn redirect_fault_target_sees_zero_requests() {
    let target = start();
    let sb = start();
    sb.faults().fail_next(
        Endpoint::Token,
        1,
        Fault::Redirect {
            status: 307,
            location: target.token_url(),
        },
    );
    let backend = sb.clients().backend.clone();
    let r = backend_token(&sb, &backend, "system/*.rs", "redir-1");
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location"), Some(target.token_url().as_str()));
    // A strict client must not follow a redirect from the token endpoint.
    assert_eq!(target.requests(Endpoint::Token), 0);
}
