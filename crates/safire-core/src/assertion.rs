//! STUB.
use crate::error::Error;
use crate::random::RandomSource;
use crate::secret::SecretString;
use std::time::{Duration, SystemTime};
/// stub
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsAlgorithm {
    /** a */
    RS384,
    /** b */
    ES384,
}
/// stub
pub trait Signer: Send + Sync + std::fmt::Debug {
    /// stub
    fn algorithm(&self) -> JwsAlgorithm;
    /// stub
    fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, Error>;
}
/// stub
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::from_secs(300);
/// stub
pub struct ClientAssertion<'a> {
    /// stub
    pub signer: &'a dyn Signer,
    /// stub
    pub kid: &'a str,
    /// stub
    pub jku: Option<&'a str>,
    /// stub
    pub client_id: &'a str,
    /// stub
    pub audience: &'a str,
    /// stub
    pub lifetime: Duration,
}
impl ClientAssertion<'_> {
    /// stub
    pub fn sign(&self, _now: SystemTime, _r: &mut dyn RandomSource) -> Result<SecretString, Error> {
        Ok(SecretString::new("stub.jwt.sig"))
    }
}
