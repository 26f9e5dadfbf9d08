//! `safire`: SMART on FHIR from the command line, on Safire's blocking client.
//!
//! See the crate README for every command. Module map: `main.rs` runs the parsed command and
//! defines the error type, `args.rs` is the command line (clap types), `commands/` runs each
//! command family, `flows.rs` is the only module that calls the library, `output.rs` formats,
//! `files.rs` reads and writes (secret files 0600), `loopback.rs` is the RFC 8252 redirect
//! listener, `progress.rs` the stderr spinner.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod args;
mod commands;
mod files;
mod flows;
mod loopback;
mod output;
mod progress;

use std::fmt;
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command, TokenCommand};
use crate::commands::{
    backend, discover, introspect, jwks, keygen, launch, refresh, register, revoke,
};
use crate::flows::Server;

/// A failure: the library's error verbatim, or a message about files and arguments.
#[derive(Debug)]
pub enum CliError {
    /// From Safire; displayed as the library words it.
    Safire(flows::Error),
    /// Anything else.
    Message(String),
}

impl CliError {
    /// A plain message.
    pub fn msg(message: impl Into<String>) -> Self {
        CliError::Message(message.into())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Safire(e) => e.fmt(f),
            CliError::Message(m) => f.write_str(m),
        }
    }
}

impl From<flows::Error> for CliError {
    fn from(e: flows::Error) -> Self {
        CliError::Safire(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let global = cli.global;
    let ca_cert_pem = match &global.ca_cert {
        Some(path) => Some(
            std::fs::read(path)
                .map_err(|e| CliError::msg(format!("cannot read {}: {e}", path.display())))?,
        ),
        None => None,
    };
    let server = |base: &str| Server {
        base: base.to_owned(),
        insecure_localhost: global.insecure_localhost,
        ca_cert_pem: ca_cert_pem.clone(),
    };
    match cli.command {
        Command::Discover(args) => discover(&server(&args.fhir_base), &args),
        Command::Register(args) => register(&server(&args.fhir_base), args),
        Command::Token(TokenCommand::Backend(args)) => backend(&server(&args.fhir_base), args),
        Command::Launch(args) => launch(&server(&args.fhir_base), args),
        Command::Refresh(args) => refresh(&global, ca_cert_pem.clone(), args),
        Command::Introspect(args) => introspect(&server(&args.fhir_base), args),
        Command::Revoke(args) => revoke(&server(&args.fhir_base), args),
        Command::Jwks(args) => jwks(args),
        Command::Keygen(args) => keygen(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::split_scopes;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn scopes_split_on_whitespace_and_repeat() {
        let given = ["a b".to_owned(), " c ".to_owned()];
        assert_eq!(split_scopes(&given), ["a", "b", "c"]);
    }
}
