//! Commands that come before any token: server metadata (`discover`), client registration
//! (`register`) and keys (`jwks`, `keygen`).

use super::{kid_for, load_key, split_scopes};
use crate::CliError;
use crate::args::{Alg, AuthKind, DiscoverArgs, JwksArgs, KeygenArgs, RegisterArgs};
use crate::flows::{self, KeyAlgorithm, Registration, RegistrationAuth, Server};
use crate::progress::with_spinner;
use crate::{files, output};

pub(crate) fn discover(server: &Server, args: &DiscoverArgs) -> Result<(), CliError> {
    let metadata = with_spinner(
        format!("Fetching the SMART configuration of {}", server.base),
        || flows::discover(server),
    )?;
    let findings = flows::compliance_findings(&metadata);
    if args.json {
        let json = serde_json::to_string_pretty(&*metadata)
            .map_err(|e| CliError::msg(format!("cannot encode the configuration: {e}")))?;
        println!("{json}");
    } else {
        print!("{}", output::discovery(&server.base, &metadata, &findings));
    }
    let errors = findings.iter().filter(|f| f.is_error()).count();
    if args.strict && errors > 0 {
        return Err(CliError::msg(format!(
            "the SMART configuration has {errors} compliance error(s)"
        )));
    }
    Ok(())
}

pub(crate) fn register(server: &Server, args: RegisterArgs) -> Result<(), CliError> {
    let auth = args.auth.unwrap_or(if args.key.is_some() || args.backend {
        AuthKind::Asymmetric
    } else {
        AuthKind::Public
    });
    if args.backend && auth != AuthKind::Asymmetric {
        return Err(CliError::msg(
            "a backend service authenticates with a key: use --auth asymmetric --key key.pem",
        ));
    }
    if auth != AuthKind::Asymmetric && (args.key.is_some() || args.kid.is_some()) {
        return Err(CliError::msg("--key and --kid are for --auth asymmetric"));
    }
    if !args.backend && args.redirect_uris.is_empty() {
        return Err(CliError::msg(
            "an app needs at least one --redirect-uri (for `safire launch --port 8765`: \
             http://127.0.0.1:8765/callback); pass --backend for a backend service",
        ));
    }
    let auth = match auth {
        AuthKind::Public => RegistrationAuth::Public,
        AuthKind::Symmetric => RegistrationAuth::Symmetric,
        AuthKind::Asymmetric => {
            let path = args.key.as_deref().ok_or_else(|| {
                CliError::msg(
                    "--auth asymmetric needs --key key.pem (make one with `safire keygen`)",
                )
            })?;
            let key = load_key(path)?;
            let kid = kid_for(&key, args.kid.clone())?;
            let jwk = flows::named_jwk(flows::public_jwk(&key)?, &kid);
            RegistrationAuth::Asymmetric(flows::jwks_of(jwk))
        }
    };
    let scopes = split_scopes(&args.scopes);
    let request = Registration {
        name: args.name,
        auth,
        backend: args.backend,
        redirect_uris: args.redirect_uris,
        scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
        endpoint: args.endpoint,
        initial_access_token: args.initial_access_token,
    };
    let client = with_spinner("Registering the client", || {
        flows::register(server, request)
    })?;
    if let Some(out) = &args.out {
        files::write_secret_json(out, &client, true)?;
    }
    println!("Registered client {}", client.client_id);
    print!("{}", output::registration(&client, args.show_secrets));
    match &args.out {
        Some(out) => println!("Registration written to {} (mode 0600)", out.display()),
        None if client.client_secret.is_some() && !args.show_secrets => eprintln!(
            "warning: the server issued a client secret that was neither saved nor shown; \
             pass --out FILE next time"
        ),
        None => {}
    }
    Ok(())
}

pub(crate) fn jwks(args: JwksArgs) -> Result<(), CliError> {
    let key = load_key(&args.key)?;
    let kid = kid_for(&key, args.kid)?;
    let jwks = flows::jwks_of(flows::named_jwk(flows::public_jwk(&key)?, &kid));
    let json = serde_json::to_string_pretty(&jwks)
        .map_err(|e| CliError::msg(format!("cannot encode the JWKS: {e}")))?;
    println!("{json}");
    Ok(())
}

pub(crate) fn keygen(args: KeygenArgs) -> Result<(), CliError> {
    if !args.force && args.out.exists() {
        return Err(CliError::msg(format!(
            "{} already exists; pass --force to replace it",
            args.out.display()
        )));
    }
    let algorithm = match args.alg {
        Alg::Es384 => KeyAlgorithm::Es384,
        Alg::Rs384 => KeyAlgorithm::Rs384 { bits: args.bits },
    };
    let key = with_spinner("Generating the key", || flows::generate_key(algorithm))?;
    let pem = flows::key_to_pem(&key)?;
    files::write_secret(&args.out, flows::expose(&pem).as_bytes(), args.force)?;
    let kid = kid_for(&key, None)?;
    println!(
        "Wrote a new {} private key to {} (mode 0600)",
        flows::key_algorithm(&key),
        args.out.display()
    );
    println!("kid (RFC 7638 thumbprint): {kid}");
    println!(
        "Public JWKS for registration: safire jwks {}",
        args.out.display()
    );
    Ok(())
}
