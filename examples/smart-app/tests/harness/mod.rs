//! The browser-test harness: a real headless Chromium driven through chromedriver (W3C
//! WebDriver, via fantoccini), a sandbox EHR in interactive mode, and the app, all on loopback
//! ports chosen by the OS.
//!
//! Chromium and chromedriver are Debian's `chromium` and `chromium-driver`. When they are
//! missing the tests fail (never skip) with the command that installs them.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use safire_sandbox::{Sandbox, SandboxBuilder};
use smart_app::{App, Login};
use tower_sessions::{MemoryStore, SessionStore, session::Id};

/// The install command the failure message names.
pub const INSTALL: &str = "apt-get install -y chromium chromium-driver";

/// How long any single wait for a page element may take.
pub const WAIT: Duration = Duration::from_secs(15);

/// Browser tests run one at a time: two cores do not run several Chromiums well, and a test
/// that waits for a page must not lose its time slice to another browser.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// A running chromedriver, in its own process group: dropping it ends chromedriver and every
/// browser it started.
pub struct Chromedriver {
    child: Child,
    pub url: String,
    profile: PathBuf,
}

impl Chromedriver {
    fn start() -> Self {
        let (Some(driver), Some(_)) = (
            find("chromedriver"),
            find("chromium").or_else(|| find("chromium-browser")),
        ) else {
            panic!(
                "the browser tests need Chromium and chromedriver, which are not installed.\n\
                 Install them with:  apt-get update && {INSTALL}\n\
                 (tests/run-all.sh does this by itself)"
            );
        };
        let port = free_port();
        let mut command = Command::new(driver);
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromedriver: {e} (install: {INSTALL})"));
        // Ready when it says so on stdout (no polling).
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("started successfully") {
                    let _ = ready_tx.send(());
                }
            }
        });
        static PROFILES: AtomicU32 = AtomicU32::new(0);
        let profile = std::env::temp_dir().join(format!(
            "smart-app-chromium-{}-{}",
            std::process::id(),
            PROFILES.fetch_add(1, Ordering::Relaxed)
        ));
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile,
        };
        ready_rx
            .recv_timeout(WAIT)
            .expect("chromedriver did not report being ready within 15 s");
        driver
    }

    async fn browser(&self) -> Client {
        let browser = find("chromium")
            .or_else(|| find("chromium-browser"))
            .expect("checked at start");
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--window-size=1024,768".to_owned(),
            format!("--user-data-dir={}", self.profile.display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), "chrome".into());
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "args": args, "binary": browser }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("chromedriver refused a Chromium session")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole process group: chromedriver and the browsers it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A directory removed on drop (the test's copy of the client key).
pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One test's world: sandbox, app, browser.
pub struct World {
    pub sandbox: Sandbox,
    pub app: Arc<App>,
    pub app_url: String,
    pub store: MemoryStore,
    pub browser: Client,
    name: &'static str,
    _server: tokio::task::JoinHandle<()>,
    _keys: TempDir,
    // Declared last: dropped after the browser session is gone.
    _driver: Chromedriver,
    _one: tokio::sync::MutexGuard<'static, ()>,
}

impl World {
    /// Starts everything; `sandbox` configures the sandbox (interactive mode is on).
    pub async fn start(
        name: &'static str,
        sandbox: impl FnOnce(SandboxBuilder) -> SandboxBuilder,
    ) -> Self {
        let one = ONE_BROWSER.lock().await;
        let sandbox = sandbox(Sandbox::builder().interactive(true))
            .start()
            .expect("sandbox starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("app port");
        let addr: SocketAddr = listener.local_addr().expect("app address");
        let key_dir = std::env::temp_dir().join(format!(
            "smart-app-test-keys-{}-{}",
            std::process::id(),
            addr.port()
        ));
        let config = smart_app::demo::sandbox_config(&sandbox, addr, &key_dir).expect("config");
        let app = App::new(config).expect("app");
        let store = MemoryStore::default();
        let router = app.router(store.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.expect("app serves");
        });
        let driver = Chromedriver::start();
        let browser = driver.browser().await;
        Self {
            app_url: format!("http://{addr}"),
            sandbox,
            app,
            store,
            browser,
            name,
            _server: server,
            _keys: TempDir(key_dir),
            _driver: driver,
            _one: one,
        }
    }

    /// Waits (bounded) for the element. A wait that a navigation in progress interrupts
    /// ("aborted by navigation", a stale element) is retried until the same deadline.
    pub async fn wait_for(&self, css: &str) -> Element {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            let error = match self
                .browser
                .wait()
                .at_most(remaining)
                .for_element(Locator::Css(css))
                .await
            {
                Ok(element) => return element,
                Err(e) => e,
            };
            let text = error.to_string();
            let interrupted = text.contains("aborted by navigation") || text.contains("stale");
            if interrupted && std::time::Instant::now() < deadline {
                continue;
            }
            self.screenshot().await;
            let source = self.browser.source().await.unwrap_or_default();
            panic!(
                "{}: no '{css}' within {WAIT:?}: {error}\npage:\n{source}",
                self.name
            );
        }
    }

    /// The element's text, once it is there.
    pub async fn text_of(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.expect("element text")
    }

    pub async fn goto(&self, url: &str) {
        self.browser.goto(url).await.expect("navigation");
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.expect("click");
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("typing");
    }

    /// Signs in at the sandbox's login page.
    pub async fn sign_in_at_sandbox(&self, user: &str) {
        self.type_into("input[name=username]", user).await;
        self.type_into("input[name=password]", "sandbox").await;
        self.click("button[type=submit]").await;
    }

    /// From the app's home page through the sandbox's login and patient picker to its
    /// consent page.
    pub async fn standalone_until_consent(&self, patient: &str) {
        self.goto(&format!("{}/", self.app_url)).await;
        self.click("#login").await;
        self.sign_in_at_sandbox("clinician").await;
        self.click(&format!("input[name=patient][value='{patient}']"))
            .await;
        self.click("button[type=submit]").await;
        self.wait_for("button[value=approve]").await;
    }

    /// The SMART session the app keeps for this browser (read from the session store with
    /// the browser's session cookie).
    pub async fn login(&self) -> Option<Login> {
        let cookie = self
            .browser
            .get_named_cookie(smart_app::SESSION_COOKIE)
            .await
            .ok()?;
        let id: Id = cookie.value().parse().ok()?;
        let record = self.store.load(&id).await.ok()??;
        serde_json::from_value(record.data.get("smart.login")?.clone()).ok()
    }

    /// Saves what the browser shows to `target/browser-screenshots/<test>.png`.
    pub async fn screenshot(&self) -> PathBuf {
        self.save_screenshot(self.name.to_owned()).await
    }

    /// Saves what the browser shows now to `target/browser-screenshots/<test>-<step>.png`.
    pub async fn snap(&self, step: &str) -> PathBuf {
        self.save_screenshot(format!("{}-{step}", self.name)).await
    }

    async fn save_screenshot(&self, file: String) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        let path = dir.join(format!("{file}.png"));
        let png = self.browser.screenshot().await.expect("screenshot");
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    /// Ends the browser session (the browser quits) before the driver is stopped.
    pub async fn finish(self) {
        self.screenshot().await;
        let World { browser, .. } = self;
        let _ = browser.close().await;
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("browser-screenshots")
}
