//! [`ServerKeysFlow`]: the authorization server's JWK Set, from the cache or fetched.

use std::sync::Arc;

use super::{JwksCache, jwks_request, parse_jwks_response};
use crate::config::ClientConfig;
use crate::discovery::ServerEndpoint;
use crate::error::Error;
use crate::flow::{Env, Flow, Step};
use crate::metadata::SmartMetadata;
use crate::oidc::ServerJwks;
use crate::requests::HttpResponse;

/// The authorization server's JWK Set: the cached one while it is fresh, else fetched from
/// `jwks_uri` (configured with
/// [`server_jwks_uri`](crate::ClientConfigBuilder::server_jwks_uri), else discovered), parsed
/// once and cached. Output: the parsed set.
///
/// ```
/// # use safire_core::*;
/// # use std::time::SystemTime;
/// let config = ClientConfig::builder("https://ehr.example/fhir")
///     .server_jwks_uri("https://ehr.example/jwks")
///     .build()?;
/// let cache = JwksCache::default();
/// let mut fetches = 0;
/// for _ in 0..3 {
///     let jwks = run_blocking(
///         ServerKeysFlow::new(config.clone().into(), cache.clone()),
///         &Limits::default(),
///         &mut SeededRandom::new(1),
///         SystemTime::now,
///         |request| {
///             fetches += 1;
///             assert_eq!(request.uri(), "https://ehr.example/jwks");
///             Ok::<_, Error>(http::Response::new(br#"{"keys":[]}"#.to_vec()))
///         },
///     )?;
///     assert!(jwks.keys().is_empty());
/// }
/// assert_eq!(fetches, 1, "fetched once, then cached");
/// # Ok::<(), safire_core::Error>(())
/// ```
#[derive(Debug)]
pub struct ServerKeysFlow {
    config: Arc<ClientConfig>,
    cache: JwksCache,
    metadata: Option<Arc<SmartMetadata>>,
    uri: Option<String>,
}

impl ServerKeysFlow {
    /// The JWK Set of `config`'s authorization server, kept in `cache`.
    pub fn new(config: Arc<ClientConfig>, cache: JwksCache) -> Self {
        Self {
            config,
            cache,
            metadata: None,
            uri: None,
        }
    }
}

impl Flow for ServerKeysFlow {
    type Output = Arc<ServerJwks>;

    fn config(&self) -> Option<&ClientConfig> {
        Some(&self.config)
    }

    fn endpoints(&self) -> &[ServerEndpoint] {
        &[ServerEndpoint::Jwks]
    }

    fn provide_metadata(&mut self, metadata: Arc<SmartMetadata>) {
        self.metadata = Some(metadata);
    }

    fn start(&mut self, env: &mut Env<'_>) -> Result<Step<Arc<ServerJwks>>, Error> {
        let uri = ServerEndpoint::Jwks.resolve(&self.config, self.metadata.as_deref())?;
        if let Some(jwks) = self.cache.get(&uri, env.now) {
            return Ok(Step::Done(jwks));
        }
        let request = jwks_request(&uri)?;
        self.uri = Some(uri);
        Ok(Step::Send(request))
    }

    fn on_response(
        &mut self,
        response: HttpResponse,
        env: &mut Env<'_>,
    ) -> Result<Step<Arc<ServerJwks>>, Error> {
        let Some(uri) = self.uri.take() else {
            return Err(Error::Usage(
                "ServerKeysFlow got a response it did not ask for",
            ));
        };
        let jwks = Arc::new(parse_jwks_response(&uri, &response)?);
        self.cache.store(&uri, jwks.clone(), env.now);
        Ok(Step::Done(jwks))
    }
}
