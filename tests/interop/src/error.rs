//! The harness error type.

use std::{fmt, io};

/// Everything that can go wrong while preparing, starting or talking to the test server.
///
/// Messages are written to be read in a failing test's output: they say what was attempted,
/// and include the server's stdout/stderr where that helps. `Debug` prints the same multi-line
/// message (a test returning `Err` shows it readable, not escaped).
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// `node` (or `npm`) could not be run. The message says how to install Node.js
    /// and how to skip the interop tests instead (`SAFIRE_SKIP_INTEROP=1`).
    #[error("{0}")]
    NodeUnavailable(String),

    /// `npm ci` in the server directory failed.
    #[error("`npm ci` in {dir} failed ({status}):\n{output}")]
    NpmCi {
        /// The server directory.
        dir: String,
        /// The exit status, as text.
        status: String,
        /// npm's combined stdout and stderr.
        output: String,
    },

    /// The server process did not print its `READY` line in time, or exited first.
    #[error("oidc-provider test server failed to start: {reason}\n--- server output ---\n{output}")]
    Startup {
        /// What happened (timeout, early exit, malformed READY line).
        reason: String,
        /// Everything the server wrote to stdout and stderr so far.
        output: String,
    },

    /// An I/O error, with what the harness was doing at the time.
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A transport-level HTTP failure (connection refused, timeout, malformed response).
    #[error("HTTP {method} {url} failed: {message}")]
    Http {
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
        /// The transport error, as text.
        message: String,
    },

    /// The server answered, but not as the harness expected (status, headers or body).
    #[error("unexpected response during {step}: HTTP {status}: {body}")]
    UnexpectedResponse {
        /// What the harness was doing (e.g. "authorization hop 2").
        step: String,
        /// HTTP status code.
        status: u16,
        /// Response body (truncated to a few KiB).
        body: String,
    },

    /// Anything else that does not fit above (bad URL, malformed JSON, ...).
    #[error("{0}")]
    Other(String),
}

impl fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl HarnessError {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
