//! `cargo run -p safire-sandbox -- [--port N] [--rs384] [--redirect-uri URI]...
//! [--initial-access-token T] [--quirk NAME]... [--access-token-lifetime SECONDS]
//! [--interactive]`
//!
//! Starts a sandbox, prints its FHIR base URL, its EHR launcher URL and the
//! pre-registered clients (private keys written as PEM files to a temp
//! directory), runs until Ctrl-C.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use std::time::Duration;

use safire_sandbox::{ClientInfo, Endpoint, Quirk, Sandbox};

fn usage() -> ExitCode {
    eprintln!(
        "usage: safire-sandbox [--port N] [--rs384] [--redirect-uri URI]... \
         [--initial-access-token T] [--quirk NAME]... [--access-token-lifetime SECONDS] \
         [--interactive]"
    );
    let names: Vec<&str> = Quirk::ALL.iter().map(|q| q.name()).collect();
    eprintln!("quirks (off unless named): {}", names.join(", "));
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut builder = Sandbox::builder();
    let mut redirect_uris = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => match args.next().and_then(|p| p.parse::<u16>().ok()) {
                Some(p) => builder = builder.port(p),
                None => return usage(),
            },
            "--rs384" => builder = builder.rs384_client(true),
            "--interactive" => builder = builder.interactive(true),
            "--redirect-uri" => match args.next() {
                Some(u) => redirect_uris.push(u),
                None => return usage(),
            },
            "--initial-access-token" => match args.next() {
                Some(t) => builder = builder.initial_access_token(t),
                None => return usage(),
            },
            "--quirk" => match args.next().as_deref().and_then(Quirk::from_name) {
                Some(q) => builder = builder.quirk(q),
                None => return usage(),
            },
            "--access-token-lifetime" => match args.next().and_then(|s| s.parse::<u64>().ok()) {
                Some(secs) if secs > 0 => {
                    builder = builder.access_token_lifetime(Duration::from_secs(secs));
                }
                _ => return usage(),
            },
            "-h" | "--help" => {
                usage();
                return ExitCode::SUCCESS;
            }
            _ => return usage(),
        }
    }
    if !redirect_uris.is_empty() {
        builder = builder.redirect_uris(redirect_uris);
    }
    let sandbox = match builder.start() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("safire-sandbox: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dir = std::env::temp_dir().join(format!("safire-sandbox-{}", sandbox.local_addr().port()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("safire-sandbox: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    println!("FHIR base URL: {}", sandbox.fhir_base_url());
    println!(
        "discovery:     {}/.well-known/smart-configuration",
        sandbox.fhir_base_url()
    );
    println!(
        "EHR launcher:  {}?client_id=CLIENT_ID&launch_uri=APP_LAUNCH_URL",
        sandbox.url(Endpoint::Launch)
    );
    println!(
        "launcher page: {}  (HTML; with --interactive, authorize shows login/consent pages)",
        sandbox.url(Endpoint::Launcher)
    );
    println!();
    for c in sandbox.clients().all() {
        if let Err(e) = print_client(c, &dir) {
            eprintln!("safire-sandbox: cannot write key file: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!("Press Ctrl-C to stop.");
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("safire-sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    let _ = rt.block_on(tokio::signal::ctrl_c());
    drop(sandbox);
    ExitCode::SUCCESS
}

fn print_client(c: &ClientInfo, dir: &std::path::Path) -> std::io::Result<()> {
    println!("{:?} client", c.kind);
    println!("  client_id:     {}", c.client_id);
    if let Some(s) = &c.client_secret {
        println!("  client_secret: {s}  (client_secret_basic)");
    }
    if let (Some(pem), Some(kid), Some(alg)) = (&c.private_key_pem, &c.kid, c.alg) {
        let path = dir.join(format!("{}.pem", c.client_id));
        std::fs::write(&path, pem)?;
        println!("  private_key_jwt: alg {alg}, kid {kid}");
        println!("  private key:   {}", path.display());
    }
    if !c.redirect_uris.is_empty() {
        println!("  redirect_uris: {}", c.redirect_uris.join(" "));
    }
    if !c.scope.is_empty() {
        println!("  scope:         {}", c.scope);
    }
    println!();
    Ok(())
}
