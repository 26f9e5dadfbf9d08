//! Reading inputs and writing files that hold secrets (keys, tokens, registrations).

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::CliError;
use crate::flows::{SecretString, TokenResponse};

/// What `launch --save` writes and `refresh` reads (and rewrites).
#[derive(Serialize, Deserialize)]
pub struct TokenFile {
    /// Format version.
    pub version: u32,
    /// The FHIR base URL the token came from.
    pub fhir_base_url: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// The token response, secrets in clear.
    pub token: TokenResponse,
    /// Which of its tokens `safire revoke` revoked: `access_token`, `refresh_token`. The
    /// values stay in the file (so `safire introspect` can confirm they are inactive); `safire
    /// refresh` refuses a revoked refresh token, and a successful refresh clears the list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revoked: Vec<String>,
}

impl TokenFile {
    /// Whether `safire revoke` revoked the token named `name` (`access_token`, `refresh_token`).
    pub fn is_revoked(&self, name: &str) -> bool {
        self.revoked.iter().any(|r| r == name)
    }

    /// Records that the token named `name` was revoked.
    pub fn mark_revoked(&mut self, name: &str) {
        if !self.is_revoked(name) {
            self.revoked.push(name.to_owned());
        }
    }
}

/// The current [`TokenFile::version`].
pub const TOKEN_FILE_VERSION: u32 = 1;

/// Reads a text file, naming it in the error.
pub fn read_text(path: &Path) -> Result<String, CliError> {
    fs::read_to_string(path)
        .map_err(|e| CliError::msg(format!("cannot read {}: {e}", path.display())))
}

/// Reads one line holding a secret (a token on standard input): trimmed, not empty, no inner
/// whitespace, at most 64 KiB. Errors never quote what was read. With `prompt` (standard
/// input is a terminal) a prompt goes to stderr first.
pub fn read_secret_line(
    input: &mut impl std::io::BufRead,
    prompt: bool,
    what: &str,
) -> Result<SecretString, CliError> {
    use std::io::{BufRead, Read};
    const LIMIT: usize = 64 * 1024;
    if prompt {
        eprint!("Paste the {what} and press Enter: ");
    }
    let mut line = String::new();
    input
        .take(LIMIT as u64)
        .read_line(&mut line)
        .map_err(|e| CliError::msg(format!("cannot read the {what} from standard input: {e}")))?;
    let value = line.trim();
    if value.is_empty() {
        return Err(CliError::msg(format!(
            "no {what} on standard input (pipe it in, e.g. `jq -r .token.access_token token.json | safire …`)"
        )));
    }
    let truncated = line.len() >= LIMIT && !line.ends_with('\n');
    if truncated || value.contains(char::is_whitespace) {
        return Err(CliError::msg(format!(
            "standard input does not hold one {what} on its first line"
        )));
    }
    Ok(SecretString::new(value.to_owned()))
}

/// Reads a token file.
pub fn read_token_file(path: &Path) -> Result<TokenFile, CliError> {
    let text = read_text(path)?;
    let file: TokenFile = serde_json::from_str(&text).map_err(|e| {
        // serde_json quotes wrongly typed values in some messages; the file holds secrets, so
        // only a missing field is named, otherwise the position.
        let detail = if e.to_string().starts_with("missing field") {
            e.to_string()
        } else {
            format!("line {}, column {}", e.line(), e.column())
        };
        CliError::msg(format!(
            "{} is not a token file written by `safire launch --save` ({detail})",
            path.display()
        ))
    })?;
    if file.version != TOKEN_FILE_VERSION {
        return Err(CliError::msg(format!(
            "{} has token file version {}; this safire reads version {TOKEN_FILE_VERSION}",
            path.display(),
            file.version
        )));
    }
    Ok(file)
}

/// Writes `contents` to `path` readable by the owner only (0600 on Unix), replacing any file
/// there. The data goes to a new 0600 file in the same directory first and is renamed over
/// `path`, so the secret is never in a file with wider permissions, even briefly.
pub fn write_secret(path: &Path, contents: &[u8], overwrite: bool) -> Result<(), CliError> {
    let err = |e: std::io::Error| CliError::msg(format!("cannot write {}: {e}", path.display()));
    if !overwrite && path.exists() {
        return Err(CliError::msg(format!(
            "{} already exists; pass --force to replace it",
            path.display()
        )));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| CliError::msg(format!("{} is not a file path", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// Writes a JSON value (pretty, newline-terminated) as a secret file.
pub fn write_secret_json(
    path: &Path,
    value: &impl Serialize,
    overwrite: bool,
) -> Result<(), CliError> {
    let mut json = serde_json::to_vec_pretty(value)
        .map_err(|e| CliError::msg(format!("cannot encode {}: {e}", path.display())))?;
    json.push(b'\n');
    write_secret(path, &json, overwrite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_line_is_one_word_and_never_quoted() {
        let read = |bytes: &[u8]| read_secret_line(&mut &bytes[..], false, "token");
        assert_eq!(
            read(b"  tok-1234\r\nignored\n").unwrap().expose(),
            "tok-1234"
        );
        assert_eq!(read(b"tok-5678").unwrap().expose(), "tok-5678");
        for bad in [&b""[..], b"\n", b"   \n"] {
            let err = read(bad).err().unwrap().to_string();
            assert!(err.starts_with("no token on standard input"), "{err}");
        }
        let err = read(b"two secret-words\n").err().unwrap().to_string();
        assert_eq!(
            err,
            "standard input does not hold one token on its first line"
        );
        let long = "x".repeat(64 * 1024 + 10);
        let err = read(long.as_bytes()).err().unwrap().to_string();
        assert!(!err.contains("xxx"), "{err}");
        let err = read(b"\xff\xfe\n").err().unwrap().to_string();
        assert!(err.starts_with("cannot read the token"), "{err}");
    }

    #[test]
    fn token_file_errors_do_not_quote_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.json");
        let body = r#"{"version":1,"fhir_base_url":"https://ehr.example","client_id":"c",
            "token":{"access_token":"at-secret-1234","expires_in":"refresh-secret-5678"}}"#;
        fs::write(&path, body).unwrap();
        let err = read_token_file(&path).err().unwrap().to_string();
        assert!(err.contains("(line 2, column"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        fs::write(&path, r#"{"version":1}"#).unwrap();
        let err = read_token_file(&path).err().unwrap().to_string();
        assert!(err.contains("missing field `fhir_base_url`"), "{err}");
    }

    #[test]
    fn secret_files_are_owner_only_and_replace_wider_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.json");
        fs::write(&path, "old").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        }
        assert!(write_secret(&path, b"new", false).is_err());
        write_secret(&path, b"new", true).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
