//! Commands that obtain tokens: `token backend` (client credentials), `launch` (the
//! authorization code flow through a loopback redirect) and `refresh`.

use std::time::Duration;

use super::{REFRESH_TOKEN, kid_for, load_key, split_scopes};
use crate::CliError;
use crate::args::{BackendArgs, GlobalArgs, LaunchArgs, RefreshArgs};
use crate::files::{TOKEN_FILE_VERSION, TokenFile};
use crate::flows::{self, Server};
use crate::loopback::{self, Loopback};
use crate::progress::with_spinner;
use crate::{files, output};

pub(crate) fn backend(server: &Server, args: BackendArgs) -> Result<(), CliError> {
    let key = load_key(&args.key)?;
    let kid = kid_for(&key, args.kid)?;
    let token = with_spinner("Requesting a backend services token", || {
        flows::backend_token(
            server,
            &args.client_id,
            key,
            &kid,
            split_scopes(&args.scopes),
        )
    })?;
    println!("Backend services token for {}", args.client_id);
    print!("{}", output::token(&token, args.show_token));
    Ok(())
}

pub(crate) fn launch(server: &Server, args: LaunchArgs) -> Result<(), CliError> {
    let loopback = Loopback::bind(args.port)?;
    let redirect_uri = loopback.redirect_uri();
    let launch = with_spinner("Discovering the authorization endpoint", || {
        flows::start_launch(
            server,
            &args.client_id,
            &redirect_uri,
            split_scopes(&args.scopes),
        )
    })?;
    // Listening before the browser opens, so an instant redirect finds the listener ready.
    let listening = loopback.listen();
    println!("Redirect URI: {redirect_uri}");
    if args.no_browser {
        println!("Open this URL in a browser to sign in:");
        println!("{}", launch.url);
    } else {
        println!("Opening the system browser. If it does not open, visit:");
        println!("{}", launch.url);
        if let Err(e) = loopback::open_browser(&launch.url) {
            eprintln!("warning: could not open the browser ({e}); open the URL above");
        }
    }
    let timeout = Duration::from_secs(args.timeout);
    let callback = with_spinner(
        format!("Waiting for the browser to return to {redirect_uri}"),
        || listening.wait(timeout),
    )?;
    let token = match with_spinner("Exchanging the authorization code", || {
        launch.finish(&callback.url)
    }) {
        Ok(token) => {
            callback.answer(true, "You can close this tab and return to the terminal.");
            token
        }
        Err(e) => {
            callback.answer(false, &e.to_string());
            return Err(e.into());
        }
    };
    if let Some(path) = &args.save {
        let file = TokenFile {
            version: TOKEN_FILE_VERSION,
            fhir_base_url: server.base.clone(),
            client_id: args.client_id.clone(),
            token: token.clone(),
            revoked: Vec::new(),
        };
        files::write_secret_json(path, &file, true)?;
    }
    println!("Launched as {}", args.client_id);
    print!("{}", output::token(&token, args.show_token));
    match &args.save {
        Some(path) => println!("Tokens saved to {} (mode 0600)", path.display()),
        None if token.refresh_token.is_some() => {
            println!("A refresh token was issued; pass --save FILE to keep it for `safire refresh`")
        }
        None => {}
    }
    Ok(())
}

pub(crate) fn refresh(
    global: &GlobalArgs,
    ca_cert_pem: Option<Vec<u8>>,
    args: RefreshArgs,
) -> Result<(), CliError> {
    let mut file = files::read_token_file(&args.token_file)?;
    if file.is_revoked(REFRESH_TOKEN) {
        return Err(CliError::msg(format!(
            "the refresh token in {} was revoked (`safire revoke`); launch again",
            args.token_file.display()
        )));
    }
    let refresh_token = file.token.refresh_token.clone().ok_or_else(|| {
        CliError::msg(format!(
            "{} holds no refresh token; launch with the offline_access (or online_access) scope",
            args.token_file.display()
        ))
    })?;
    let server = Server {
        base: file.fhir_base_url.clone(),
        insecure_localhost: global.insecure_localhost,
        ca_cert_pem,
    };
    let token = with_spinner("Refreshing the token", || {
        flows::refresh(
            &server,
            &file.client_id,
            &refresh_token,
            split_scopes(&args.scopes),
        )
    })?;
    println!("Refreshed the token of {}", file.client_id);
    print!("{}", output::token(&token, args.show_token));
    // RFC 6749 §6: without a new refresh token the old one stays valid; with one (rotation),
    // the old one must be discarded.
    let mut saved = token;
    if saved.refresh_token.is_none() {
        saved.refresh_token = Some(refresh_token);
    }
    file.token = saved;
    file.revoked.clear();
    files::write_secret_json(&args.token_file, &file, true)?;
    println!("Tokens saved to {} (mode 0600)", args.token_file.display());
    Ok(())
}
