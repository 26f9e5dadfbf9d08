//! `safire launch` and `safire refresh`: the full flow, denial, timeout, and the
//! system browser.

use super::*;

#[test]
fn launch_end_to_end_then_refresh() {
    let env = Env::new(
        Sandbox::builder().launch_context(
            LaunchContext::new()
                .patient("pat-cli-7")
                .encounter("enc-cli-3")
                .need_patient_banner(true),
        ),
    );
    let save = env.path("token.json");
    let launch = start_launch(
        &env,
        "cli-native-app",
        &[
            "--scope",
            "launch/patient launch/encounter patient/*.rs offline_access",
            "--save",
            save.to_str().unwrap(),
            "--timeout",
            "60",
        ],
    );
    let redirect = url::Url::parse(&launch.redirect_uri).unwrap();
    assert_eq!(
        (redirect.host_str(), redirect.path()),
        (Some("127.0.0.1"), "/callback")
    );
    assert_ne!(redirect.port(), Some(0));
    let auth = url::Url::parse(&launch.authorization_url).unwrap();
    let query: std::collections::HashMap<_, _> = auth.query_pairs().into_owned().collect();
    assert_eq!(query["redirect_uri"], launch.redirect_uri);
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["aud"], env.base);
    // RFC 8252 loopback redirect with an ephemeral port: register exactly what the CLI uses.
    env.register_app("cli-native-app", &launch);

    let (status, page) = launch.browse();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Signed in"), "{page}");
    let o = launch.finish();
    let out = ok(&o);
    assert_row(&out, "patient", "pat-cli-7");
    assert_row(&out, "encounter", "enc-cli-3");
    assert_row(&out, "need_patient_banner", "true");
    assert_row(
        &out,
        "scope",
        "launch/patient launch/encounter patient/*.rs offline_access",
    );
    assert_row(&out, "refresh_token", "issued");
    // No secret on the terminal; all of them in the 0600 file.
    let access = env.sent("access_token");
    let refresh = env.sent("refresh_token");
    assert_eq!((access.len(), refresh.len()), (1, 1));
    assert_absent(&o, &[access.clone(), refresh.clone()].concat());
    assert_owner_only(&save);
    let file = json_file(&save);
    assert_eq!(file["token"]["access_token"], access[0].as_str());
    assert_eq!(file["token"]["refresh_token"], refresh[0].as_str());
    assert_eq!(file["client_id"], "cli-native-app");

    // Refresh: rotated tokens are written back to the file, still 0600 and still off-screen.
    let before = env.path("token-before-refresh.json");
    std::fs::copy(&save, &before).unwrap();
    let o = safire(&["refresh", save.to_str().unwrap(), "--insecure-localhost"]);
    let out = ok(&o);
    assert_row(
        &out,
        "scope",
        "launch/patient launch/encounter patient/*.rs offline_access",
    );
    let (access, refresh) = (env.sent("access_token"), env.sent("refresh_token"));
    assert_eq!((access.len(), refresh.len()), (2, 2));
    assert_absent(&o, &[access.clone(), refresh.clone()].concat());
    assert_owner_only(&save);
    assert_eq!(
        json_file(&save)["token"]["refresh_token"],
        refresh[1].as_str()
    );
    // A narrower scope, shown this time.
    let o = safire(&[
        "refresh",
        save.to_str().unwrap(),
        "--insecure-localhost",
        "--scope",
        "patient/*.rs",
        "--show-token",
    ]);
    let out = ok(&o);
    let access = env.sent("access_token");
    assert_row(&out, "access_token", &access[2]);
    assert_row(&out, "scope", "patient/*.rs");

    // Failure: the rotated-away refresh token is refused (and the sandbox revokes the grant).
    let o = safire(&["refresh", before.to_str().unwrap(), "--insecure-localhost"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    assert!(stderr(&o).contains("invalid_grant"), "{}", stderr(&o));
    assert_absent(&o, &env.sent("refresh_token"));
}

#[test]
fn refresh_needs_a_refresh_token() {
    let env = Env::new(Sandbox::builder());
    let launch = start_registered_launch(
        &env,
        "cli-no-offline",
        &[
            "--scope",
            "launch/patient patient/*.rs",
            "--save",
            env.path("t.json").to_str().unwrap(),
        ],
    );
    let out = ok(&launch.approve());
    assert_row(&out, "refresh_token", "none");
    let path = env.path("t.json");
    fails_with(
        &safire(&["refresh", path.to_str().unwrap(), "--insecure-localhost"]),
        &format!(
            "{} holds no refresh token; launch with the offline_access (or online_access) scope",
            path.display()
        ),
    );
}

#[test]
fn launch_denied_by_the_user_fails_with_the_library_message() {
    let env = Env::new(Sandbox::builder().deny_authorization(true));
    let launch = start_registered_launch(&env, "cli-denied", &[]);
    let (status, page) = launch.browse();
    assert_eq!(status, 400);
    assert!(page.contains("Sign-in failed"), "{page}");
    let o = launch.finish();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.starts_with("error: ") && err.contains("access_denied"),
        "{err}"
    );
    // The page shows the same message as the terminal.
    let message = err.trim_end().strip_prefix("error: ").unwrap();
    assert!(!message.contains('<'));
    assert!(page.contains(message), "{page}");
    assert_eq!(env.sandbox.requests(Endpoint::Token), 0);
}

#[test]
fn launch_gives_up_after_the_timeout() {
    let env = Env::new(Sandbox::builder());
    let launch = start_launch(&env, "cli-slow", &["--timeout", "1"]);
    let redirect_uri = launch.redirect_uri.clone();
    let o = launch.finish();
    fails_with(
        &o,
        &format!(
            "no authorization response reached {redirect_uri} within 1 s \
             (raise --timeout, or check that the server accepts this redirect URI)"
        ),
    );
}

/// A fake `xdg-open` on PATH: records the URL it was given, exits with `status`.
#[cfg(target_os = "linux")]
fn fake_opener(env: &Env, status: u8) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let bin = env.path("bin");
    std::fs::create_dir(&bin).unwrap();
    let record = env.path("opened-url");
    let script = bin.join("xdg-open");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > '{}'\nexit {status}\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (bin, record)
}

/// `safire launch` (with the browser) with `path` as PATH, the app registered.
#[cfg(target_os = "linux")]
fn launch_with_browser(env: &Env, client_id: &str, path: &Path) -> Launch {
    let mut command = Command::new(SAFIRE);
    command
        .args(env.args(&["launch"], &["--client-id", client_id]))
        .env("PATH", path);
    let launch = Launch::spawn(
        command,
        "Opening the system browser. If it does not open, visit:",
    );
    env.register_app(client_id, &launch);
    launch
}

#[cfg(target_os = "linux")]
#[test]
fn launch_opens_the_system_browser() {
    let env = Env::new(Sandbox::builder());
    let (bin, record) = fake_opener(&env, 0);
    let launch = launch_with_browser(&env, "cli-browser", &bin);
    let url = launch.authorization_url.clone();
    let o = launch.approve();
    assert_row(&ok(&o), "patient", "sandbox-patient-1");
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    // The opener ran (and finished) before the CLI waited for the callback.
    assert_eq!(std::fs::read_to_string(&record).unwrap(), url);
}

#[cfg(target_os = "linux")]
#[test]
fn launch_warns_when_the_browser_cannot_be_opened() {
    let env = Env::new(Sandbox::builder());
    let (bin, _) = fake_opener(&env, 3);
    let o = launch_with_browser(&env, "cli-headless", &bin).approve();
    ok(&o);
    assert_eq!(
        stderr(&o),
        "warning: could not open the browser (xdg-open failed (exit status: 3)); open the URL above\n"
    );
    // No opener at all.
    let empty = env.path("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let o = launch_with_browser(&env, "cli-headless-2", &empty).approve();
    ok(&o);
    assert!(
        stderr(&o).starts_with("warning: could not open the browser (cannot run xdg-open: "),
        "{}",
        stderr(&o)
    );
}
