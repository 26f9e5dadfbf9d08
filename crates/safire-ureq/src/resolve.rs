//! Name resolution at connection time, not per request.
//!
//! ureq 3 resolves the host of every request *before* it looks in its connection pool, so a
//! request on a kept-alive connection still pays a lookup whose result is thrown away. With a
//! timeout configured (safire-ureq always sets the whole-request one), ureq's
//! `DefaultResolver` runs each lookup on a freshly spawned thread so it can give up at the
//! deadline: one thread spawn, a futex hand-off and a `getaddrinfo` per request, ~50–400 µs,
//! 2–20× a whole loopback round trip.
//!
//! Here the agent's resolver only returns a marker ([`DeferredResolver`]), and the connector
//! ([`ResolvingConnector`]) resolves when the pool really has to open a connection, under the
//! connection's own deadline (the connect timeout, capped by what is left of the request's),
//! like hyper's connector does. IP literals are parsed on the spot, without a thread. Pooled
//! requests do no lookup at all.
//!
//! Uses ureq's `unversioned` traits (see the note on the `ureq` dependency in Cargo.toml).

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    ConnectionDetails, Connector, DefaultConnector, NextTimeout, Transport,
};

/// "Resolve when connecting": `[::]:0` with a scope id no interface has. Never connected to:
/// [`ResolvingConnector`] replaces it before the TCP connector sees it.
const DEFERRED: SocketAddr =
    SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0x5AF1_DEFE));

/// The agent's resolver: defers every lookup to [`ResolvingConnector`].
#[derive(Debug, Default)]
pub(crate) struct DeferredResolver;

impl Resolver for DeferredResolver {
    fn resolve(
        &self,
        _uri: &Uri,
        _config: &Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut addrs = self.empty();
        addrs.push(DEFERRED);
        Ok(addrs)
    }
}

fn is_deferred(addrs: &ResolvedSocketAddrs) -> bool {
    addrs.len() == 1 && addrs[0] == DEFERRED
}

/// `Some` when the URI's host is an IP literal (`127.0.0.1`, `[::1]`).
fn ip_literal(uri: &Uri) -> Option<IpAddr> {
    let host = uri.host()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

/// ureq's default connector chain (proxies, TCP, rustls), resolving deferred addresses first.
#[derive(Debug)]
pub(crate) struct ResolvingConnector<R = DefaultResolver> {
    inner: DefaultConnector,
    resolver: R,
}

impl Default for ResolvingConnector {
    fn default() -> Self {
        Self::with_resolver(DefaultResolver::default())
    }
}

impl<R: Resolver> ResolvingConnector<R> {
    pub(crate) fn with_resolver(resolver: R) -> Self {
        Self {
            inner: DefaultConnector::new(),
            resolver,
        }
    }

    fn resolve(&self, details: &ConnectionDetails) -> Result<ResolvedSocketAddrs, ureq::Error> {
        if !is_deferred(&details.addrs) {
            // Already resolved (a proxy's address) or left empty for a proxy to resolve.
            return Ok(details.addrs.clone());
        }
        // The lookup counts against the connection's deadline: the TCP connector measures its
        // timeout from `details.now`, before this lookup. An IP literal needs no thread to
        // honour it (std parses it without a system call).
        let timeout = if ip_literal(details.uri).is_some() {
            NextTimeout::default()
        } else {
            details.timeout
        };
        self.resolver.resolve(details.uri, details.config, timeout)
    }
}

impl<R: Resolver> Connector for ResolvingConnector<R> {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let details = ConnectionDetails {
            uri: details.uri,
            addrs: self.resolve(details)?,
            config: details.config,
            request_level: details.request_level,
            // Connectors further down (CONNECT and SOCKS proxies) resolve the proxy's own
            // address through this field: give them the real resolver.
            resolver: &self.resolver,
            now: details.now,
            timeout: details.timeout,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: details.register_shutdown.clone(),
        };
        self.inner.connect(&details, chained)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// ureq's resolver, counting its lookups.
    #[derive(Debug, Default)]
    struct Counting(Arc<AtomicUsize>);

    impl Resolver for Counting {
        fn resolve(
            &self,
            uri: &Uri,
            config: &Config,
            timeout: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            self.0.fetch_add(1, Ordering::SeqCst);
            DefaultResolver::default().resolve(uri, config, timeout)
        }
    }

    /// A keep-alive HTTP/1.1 server answering `ok` to bodiless requests; counts connections.
    fn keep_alive_server() -> (u16, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => {
                                let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                                if stream.write_all(reply).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                        }
                    }
                });
            }
        });
        (port, accepted)
    }

    fn agent(lookups: &Arc<AtomicUsize>) -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .build();
        let connector = ResolvingConnector::with_resolver(Counting(lookups.clone()));
        ureq::Agent::with_parts(config, connector, DeferredResolver)
    }

    #[test]
    fn names_are_resolved_once_per_connection_not_per_request() {
        let (port, accepted) = keep_alive_server();
        let lookups = Arc::new(AtomicUsize::new(0));
        let agent = agent(&lookups);
        for _ in 0..3 {
            let body = agent
                .get(format!("http://localhost:{port}/"))
                .call()
                .unwrap()
                .body_mut()
                .read_to_string()
                .unwrap();
            assert_eq!(body, "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one pooled connection");
        assert_eq!(
            lookups.load(Ordering::SeqCst),
            1,
            "one lookup, when connecting"
        );
    }

    #[test]
    fn unknown_names_fail_when_connecting() {
        let lookups = Arc::new(AtomicUsize::new(0));
        let err = agent(&lookups)
            .get("http://safire-test.invalid/")
            .call()
            .unwrap_err();
        assert!(
            matches!(err, ureq::Error::HostNotFound | ureq::Error::Io(_)),
            "{err:?}"
        );
        assert_eq!(lookups.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn ip_literals_are_recognised() {
        let literal = |s: &str| ip_literal(&s.parse::<Uri>().unwrap());
        assert_eq!(
            literal("http://127.0.0.1:8080/token"),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(literal("https://[::1]/fhir"), Some("::1".parse().unwrap()));
        assert_eq!(literal("https://localhost/fhir"), None);
        assert_eq!(literal("https://ehr.example/fhir"), None);
        assert_eq!(literal("https://127.0.0.1.nip.io/fhir"), None);
    }

    #[test]
    fn the_marker_is_recognised_only_alone() {
        let uri: Uri = "https://ehr.example/fhir".parse().unwrap();
        let deferred = DeferredResolver
            .resolve(&uri, &Config::default(), NextTimeout::default())
            .unwrap();
        assert!(is_deferred(&deferred));
        let mut real = DeferredResolver.empty();
        real.push("[::1]:443".parse().unwrap());
        assert!(!is_deferred(&real));
        assert!(!is_deferred(&DeferredResolver.empty()));
    }
}
