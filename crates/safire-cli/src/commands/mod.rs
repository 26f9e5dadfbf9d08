//! The commands, one module per family, and the helpers they share (scope lists, keys).
//!
//! * `setup`: what comes before any token: `discover`, `register`, `jwks`, `keygen`.
//! * `obtain`: getting tokens: `token backend`, `launch`, `refresh`.
//! * `existing`: acting on a token already held: `introspect`, `revoke`.

mod existing;
mod obtain;
mod setup;

use std::path::Path;

use crate::flows::{self, PrivateKey};
use crate::{CliError, files};

pub(crate) use existing::{introspect, revoke};
pub(crate) use obtain::{backend, launch, refresh};
pub(crate) use setup::{discover, jwks, keygen, register};

/// The names a token file uses for its two tokens (also the `token_type_hint` values).
const ACCESS_TOKEN: &str = "access_token";
const REFRESH_TOKEN: &str = "refresh_token";

/// Scopes given space-separated, repeated, or both.
pub(crate) fn split_scopes(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split_whitespace())
        .map(str::to_owned)
        .collect()
}

fn load_key(path: &Path) -> Result<PrivateKey, CliError> {
    let pem = files::read_text(path)?;
    flows::load_key(&pem)
        .map_err(|e| CliError::msg(format!("cannot use the key in {}: {e}", path.display())))
}

/// The given kid, or the key's thumbprint.
fn kid_for(key: &PrivateKey, kid: Option<String>) -> Result<String, CliError> {
    match kid {
        Some(kid) => Ok(kid),
        None => flows::public_jwk(key)?
            .thumbprint()
            .ok_or_else(|| CliError::msg("cannot compute a kid for this key; pass --kid")),
    }
}
