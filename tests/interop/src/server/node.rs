//! Node.js and npm: the version check and the cross-process-locked `npm ci`.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::{MIN_NODE, SKIP_ENV};
use crate::HarnessError;

fn install_hint() -> String {
    format!(
        "Install Node.js {}.{}+ (22 LTS recommended) with npm, e.g.\n  \
         Debian/Ubuntu: curl -fsSL https://deb.nodesource.com/setup_22.x | sudo -E bash - && sudo apt-get install -y nodejs\n  \
         (`apt-get install nodejs npm` works only where the distribution ships Node >= {}.{})\n  \
         or nvm: nvm install 22\n\
         or set {SKIP_ENV}=1 to skip the interop tests.",
        MIN_NODE.0, MIN_NODE.1, MIN_NODE.0, MIN_NODE.1
    )
}

pub(super) fn spawn_error(what: &str, dir: &Path, e: std::io::Error) -> HarnessError {
    if e.kind() == ErrorKind::NotFound {
        HarnessError::NodeUnavailable(format!(
            "cannot run `{what}` (in {}): {e}: Node.js is not on PATH.\n{}",
            dir.display(),
            install_hint()
        ))
    } else {
        HarnessError::io(format!("spawning `{what}` in {}", dir.display()), e)
    }
}

/// Checks (once per process) that `node` runs and is recent enough.
pub(super) fn check_node(dir: &Path) -> Result<(), HarnessError> {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    CHECK
        .get_or_init(|| {
            let out = Command::new("node")
                .arg("--version")
                .output()
                .map_err(|e| spawn_error("node --version", dir, e).to_string())?;
            let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let mut nums = version
                .trim_start_matches('v')
                .split('.')
                .map(|n| n.parse::<u32>().unwrap_or(0));
            let found = (nums.next().unwrap_or(0), nums.next().unwrap_or(0));
            if found < MIN_NODE {
                return Err(format!(
                    "Node.js {version:?} is too old for oidc-provider 9.13.3 (needs >= {}.{}).\n{}",
                    MIN_NODE.0,
                    MIN_NODE.1,
                    install_hint()
                ));
            }
            Ok(())
        })
        .clone()
        .map_err(HarnessError::NodeUnavailable)
}

/// Runs `npm ci` in `dir` unless `node_modules` was installed from the current lockfile.
///
/// Serialised within the process by a mutex and across processes (parallel test binaries)
/// by a lock directory `dir/.npm-ci.lock` (created atomically; considered stale after 5 min).
pub(super) fn ensure_npm_ci(dir: &Path) -> Result<(), HarnessError> {
    static STATE: Mutex<Option<Result<(), String>>> = Mutex::new(None);
    let mut state = STATE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(done) = &*state {
        return done.clone().map_err(|e| {
            HarnessError::Other(format!("npm ci failed earlier in this process:\n{e}"))
        });
    }
    let lockfile = dir.join("package-lock.json");
    let want = fingerprint(
        &fs::read(&lockfile)
            .map_err(|e| HarnessError::io(format!("reading {}", lockfile.display()), e))?,
    );
    let marker = dir.join("node_modules").join(".safire-interop-installed");
    let installed = || fs::read_to_string(&marker).is_ok_and(|s| s.trim() == want);
    if installed() {
        *state = Some(Ok(()));
        return Ok(());
    }
    let result = (|| {
        let _guard = DirLock::acquire(&dir.join(".npm-ci.lock"))?;
        if installed() {
            return Ok(()); // another process did it while we waited
        }
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .output()
            .map_err(|e| spawn_error("npm ci", dir, e))?;
        if !out.status.success() {
            return Err(HarnessError::NpmCi {
                dir: dir.display().to_string(),
                status: out.status.to_string(),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            });
        }
        fs::write(&marker, &want)
            .map_err(|e| HarnessError::io(format!("writing {}", marker.display()), e))
    })();
    *state = Some(result.as_ref().map(|_| ()).map_err(ToString::to_string));
    result
}

/// FNV-1a 64 of the lockfile: detects a changed lockfile (→ reinstall) without a hash crate.
fn fingerprint(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("fnv1a64:{h:016x}:{}", bytes.len())
}

/// A cross-process lock: a directory that exists while held.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: &Path) -> Result<Self, HarnessError> {
        const STALE: Duration = Duration::from_secs(300);
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            match fs::create_dir(path) {
                Ok(()) => return Ok(Self(path.to_owned())),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let age = fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok());
                    if age.is_some_and(|a| a > STALE) {
                        let _ = fs::remove_dir(path);
                        continue;
                    }
                    if Instant::now() > deadline {
                        return Err(HarnessError::Other(format!(
                            "timed out waiting for {} (remove it if no `npm ci` is running)",
                            path.display()
                        )));
                    }
                    thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(HarnessError::io(format!("creating {}", path.display()), e)),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}
