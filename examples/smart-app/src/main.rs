//! `cargo run -p smart-app`: the app against a sandbox started in this process (interactive
//! mode: login, patient picker, consent pages). `cargo run -p smart-app -- --config FILE`: the
//! app against the EHRs in FILE (see the README).
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use smart_app::{App, AppConfig};

const USAGE: &str = "usage: smart-app [--config FILE.toml|FILE.json] [--port PORT]\n\
  without --config: starts an interactive sandbox EHR in-process and the app on 127.0.0.1:PORT (8080)";

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "smart_app=info".into()),
        )
        .init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("smart-app: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut config_path: Option<PathBuf> = None;
    let mut port: u16 = 8080;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config_path = Some(args.next().ok_or(USAGE)?.into()),
            "--port" => port = args.next().ok_or(USAGE)?.parse().map_err(|_| USAGE)?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => return Err(USAGE.into()),
        }
    }
    // The sandbox (demo mode) lives as long as the app; its client key file goes with it.
    let mut _sandbox = None;
    let mut demo_key_dir = None;
    let config = match config_path {
        Some(path) => AppConfig::load(&path)?,
        None => {
            let sandbox = safire_sandbox::Sandbox::builder()
                .interactive(true)
                .start()?;
            let listen = SocketAddr::from(([127, 0, 0, 1], port));
            let key_dir = std::env::temp_dir().join(format!("smart-app-{}", std::process::id()));
            let config = smart_app::demo::sandbox_config(&sandbox, listen, &key_dir)?;
            println!("Sandbox EHR:      {}", sandbox.fhir_base_url());
            println!(
                "EHR launcher:     {}/launcher  (app launch URL: {})",
                sandbox.fhir_base_url(),
                config.url("/launch")
            );
            println!("Users:            clinician / sandbox, amy / sandbox");
            _sandbox = Some(sandbox);
            demo_key_dir = Some(key_dir);
            config
        }
    };
    let app = App::new(config)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let served = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(app.config().listen).await?;
        println!("Open the app:     {}/", app.config().url(""));
        axum::serve(listener, app.router(tower_sessions::MemoryStore::default()))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    });
    if let Some(dir) = demo_key_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(served?)
}
