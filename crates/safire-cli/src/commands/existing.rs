//! Commands that act on a token already held: `introspect` and `revoke`, with the token
//! source they share (a token file or a literal token) and endpoint client authentication.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::{ACCESS_TOKEN, REFRESH_TOKEN, kid_for, load_key};
use crate::CliError;
use crate::args::{EndpointAuthArgs, IntrospectArgs, RevokeArgs, TokenSourceArgs, Which};
use crate::files::TokenFile;
use crate::flows::{self, EndpointAuth, SecretString, Server, TokenKind};
use crate::progress::with_spinner;
use crate::{files, output};

/// A token to introspect or revoke, and where it came from.
struct SourcedToken {
    token: SecretString,
    kind: Option<TokenKind>,
    /// The token file and its contents, when the token came from one.
    file: Option<(PathBuf, TokenFile)>,
}

impl SourcedToken {
    /// `the refresh token from token.json`, `the token from standard input`.
    fn describe(&self) -> String {
        let what = match self.kind {
            Some(TokenKind::Access) => "the access token",
            Some(TokenKind::Refresh) => "the refresh token",
            None => "the token",
        };
        match &self.file {
            Some((path, _)) => format!("{what} from {}", path.display()),
            None => format!("{what} from standard input"),
        }
    }
}

/// Reads the token from a token file (checking it came from `base`) or from stdin.
/// `default` picks the token of a file when `--which` is not given.
fn read_token(
    base: &str,
    args: &TokenSourceArgs,
    default: impl FnOnce(&TokenFile) -> TokenKind,
) -> Result<SourcedToken, CliError> {
    let kind = args.which.map(|which| match which {
        Which::Access => TokenKind::Access,
        Which::Refresh => TokenKind::Refresh,
    });
    if let Some(path) = &args.token_file {
        let file = files::read_token_file(path)?;
        // A token goes back only to the server that issued it.
        if file.fhir_base_url.trim_end_matches('/') != base.trim_end_matches('/') {
            return Err(CliError::msg(format!(
                "{} holds a token from {}, not from {base}",
                path.display(),
                file.fhir_base_url
            )));
        }
        let kind = kind.unwrap_or_else(|| default(&file));
        let token = match kind {
            TokenKind::Access => file.token.access_token.clone(),
            TokenKind::Refresh => file.token.refresh_token.clone().ok_or_else(|| {
                CliError::msg(format!("{} holds no refresh token", path.display()))
            })?,
        };
        return Ok(SourcedToken {
            token,
            kind: Some(kind),
            file: Some((path.clone(), file)),
        });
    }
    match args.token.as_deref() {
        // Never echo the value: it is most likely a token typed on the command line.
        Some("-") => Ok(SourcedToken {
            token: {
                let stdin = std::io::stdin();
                let prompt = stdin.is_terminal();
                files::read_secret_line(&mut stdin.lock(), prompt, "token")?
            },
            kind,
            file: None,
        }),
        Some(_) => Err(CliError::msg(
            "--token takes only `-` (the token on standard input), so the token stays out of \
             shell history and `ps`; or pass --token-file",
        )),
        None => Err(CliError::msg("pass --token-file FILE or --token -")),
    }
}

/// The calling client's authentication from `--client-secret` / `--key [--kid]`.
fn endpoint_auth(args: EndpointAuthArgs) -> Result<EndpointAuth, CliError> {
    match (args.client_secret, &args.key) {
        (Some(_), Some(_)) => Err(CliError::msg(
            "pass either --client-secret (or SAFIRE_CLIENT_SECRET) or --key, not both",
        )),
        (Some(secret), None) => Ok(EndpointAuth::Secret(SecretString::new(secret))),
        (None, Some(path)) => {
            let key = load_key(path)?;
            let kid = kid_for(&key, args.kid)?;
            Ok(EndpointAuth::Key(Box::new(key), kid))
        }
        (None, None) => Ok(EndpointAuth::Public),
    }
}

pub(crate) fn introspect(server: &Server, args: IntrospectArgs) -> Result<(), CliError> {
    let auth = endpoint_auth(args.auth)?;
    if matches!(auth, EndpointAuth::Public) {
        return Err(CliError::msg(
            "introspection needs a confidential client: pass --client-secret (or \
             SAFIRE_CLIENT_SECRET) or --key key.pem",
        ));
    }
    let source = read_token(&server.base, &args.source, |_| TokenKind::Access)?;
    let answer = with_spinner("Introspecting the token", || {
        flows::introspect(server, &args.client_id, auth, &source.token, source.kind)
    })?;
    println!("Introspection of {}", source.describe());
    print!(
        "{}",
        output::introspection(&answer, std::time::SystemTime::now())
    );
    Ok(())
}

pub(crate) fn revoke(server: &Server, args: RevokeArgs) -> Result<(), CliError> {
    let auth = endpoint_auth(args.auth)?;
    // Logging out means ending the grant: the refresh token when there is one.
    let source = read_token(&server.base, &args.source, |file| {
        if file.token.refresh_token.is_some() {
            TokenKind::Refresh
        } else {
            TokenKind::Access
        }
    })?;
    let client_id = match (&args.client_id, &source.file) {
        (Some(id), _) => id.clone(),
        (None, Some((_, file))) => file.client_id.clone(),
        (None, None) => {
            return Err(CliError::msg(
                "pass --client-id (the client the token was issued to)",
            ));
        }
    };
    with_spinner("Revoking the token", || {
        flows::revoke(server, &client_id, auth, &source.token, source.kind)
    })?;
    println!("Revoked {} (client {client_id})", source.describe());
    if let Some((path, mut file)) = source.file {
        let name = match source.kind {
            Some(TokenKind::Refresh) => REFRESH_TOKEN,
            _ => ACCESS_TOKEN,
        };
        file.mark_revoked(name);
        files::write_secret_json(&path, &file, true)?;
        println!(
            "Marked the {name} revoked in {} (mode 0600)",
            path.display()
        );
    }
    Ok(())
}
