//! The RFC 8252 loopback redirect: a one-shot HTTP listener on 127.0.0.1 that receives the
//! authorization response, and opening the system browser.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use safire_ureq::safire_core::escape_html;

use crate::CliError;

/// The path of the redirect URI.
pub const CALLBACK_PATH: &str = "/callback";
/// Largest request head read from the browser.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// How long one browser connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound loopback listener.
pub struct Loopback {
    listener: TcpListener,
    port: u16,
}

/// The browser's request to the redirect URI, with the connection to answer on.
pub struct Callback {
    stream: TcpStream,
    /// The full callback URL (`http://127.0.0.1:PORT/callback?...`).
    pub url: String,
}

impl Loopback {
    /// Binds 127.0.0.1 on `port` (0: an ephemeral port chosen by the OS).
    pub fn bind(port: u16) -> Result<Self, CliError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|e| {
            CliError::msg(format!(
                "cannot listen on 127.0.0.1:{port} for the redirect: {e}"
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| CliError::msg(format!("cannot read the listener's port: {e}")))?
            .port();
        Ok(Loopback { listener, port })
    }

    /// `http://127.0.0.1:PORT/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Starts answering on the listener. A GET of the redirect URI carrying `code` or
    /// `error` is kept for [`Listening::wait`]; other requests (a favicon, a stray visit
    /// without parameters) are answered and ignored.
    pub fn listen(self) -> Listening {
        let redirect_uri = self.redirect_uri();
        let (found, callback) = mpsc::channel();
        // One thread per connection: a browser may open a connection it never uses (a
        // speculative preconnect), which must not hold up the one carrying the request.
        // The threads are left behind on timeout; the process exits right after.
        let port = self.port;
        std::thread::spawn(move || {
            for stream in self.listener.incoming() {
                let Ok(stream) = stream else { continue };
                let found = found.clone();
                std::thread::spawn(move || {
                    if let Some(callback) = handle(stream, port) {
                        let _ = found.send(callback);
                    }
                });
            }
        });
        Listening {
            callback,
            redirect_uri,
        }
    }
}

/// A listener answering in the background.
pub struct Listening {
    callback: mpsc::Receiver<Callback>,
    redirect_uri: String,
}

impl Listening {
    /// Waits up to `timeout` for the authorization response.
    pub fn wait(self, timeout: Duration) -> Result<Callback, CliError> {
        self.callback.recv_timeout(timeout).map_err(|_| {
            CliError::msg(format!(
                "no authorization response reached {} within {} s \
                 (raise --timeout, or check that the server accepts this redirect URI)",
                self.redirect_uri,
                timeout.as_secs()
            ))
        })
    }
}

/// Reads one request; returns it when it is the authorization response, answers it otherwise.
fn handle(mut stream: TcpStream, port: u16) -> Option<Callback> {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    let head = read_head(&mut stream)?;
    let request_line = head.lines().next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let is_response = safire_ureq::safire_core::url::form_urlencoded::parse(query.as_bytes())
        .any(|(name, _)| name == "code" || name == "error");
    if method == "GET" && path == CALLBACK_PATH && is_response {
        return Some(Callback {
            stream,
            url: format!("http://127.0.0.1:{port}{target}"),
        });
    }
    let (status, text) = if path == CALLBACK_PATH {
        (
            "400 Bad Request",
            "This address expects an authorization response.",
        )
    } else {
        ("404 Not Found", "Not found.")
    };
    respond(&mut stream, status, "safire", text);
    None
}

fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > MAX_REQUEST_HEAD {
            return None;
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(buf.get(..n)?);
    }
    String::from_utf8(head).ok()
}

impl Callback {
    /// Answers the browser with a small page.
    pub fn answer(mut self, success: bool, detail: &str) {
        let (status, title) = if success {
            ("200 OK", "Signed in")
        } else {
            ("400 Bad Request", "Sign-in failed")
        };
        respond(&mut self.stream, status, title, detail);
    }
}

fn respond(stream: &mut TcpStream, status: &str, title: &str, text: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title} · safire</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:3em auto;max-width:40em}}</style>\
         </head><body><h1>{title}</h1><p>{}</p></body></html>\n",
        escape_html(text)
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

/// How long the browser opener (`xdg-open`, `open`) has to report a failure.
const OPENER_GRACE: Duration = Duration::from_secs(2);

/// Opens `url` in the system browser. Fails if the opener cannot start or exits with an error
/// within [`OPENER_GRACE`]; an opener still running then (it may be a terminal browser) is left
/// to run.
pub fn open_browser(url: &str) -> Result<(), String> {
    use std::process::{Command, Stdio};
    let (program, args): (&str, Vec<&str>) = if cfg!(target_os = "macos") {
        ("open", vec![url])
    } else if cfg!(windows) {
        // Not `cmd /C start`: cmd would split the URL at `&`.
        ("rundll32", vec!["url.dll,FileProtocolHandler", url])
    } else {
        ("xdg-open", vec![url])
    };
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let (done, exited) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    match exited.recv_timeout(OPENER_GRACE) {
        Ok(Ok(status)) if !status.success() => Err(format!("{program} failed ({status})")),
        Ok(Err(e)) => Err(format!("{program} failed: {e}")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(port: u16, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn ignores_other_requests_and_returns_the_authorization_response() {
        let loopback = Loopback::bind(0).unwrap();
        let port = loopback.port;
        assert_eq!(
            loopback.redirect_uri(),
            format!("http://127.0.0.1:{port}/callback")
        );
        let listening = loopback.listen();
        let waiter = std::thread::spawn(move || listening.wait(Duration::from_secs(30)));
        // A connection that never sends anything (a browser's preconnect) stays open throughout.
        let _idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
        assert!(get(port, "/favicon.ico").starts_with("HTTP/1.1 404"));
        assert!(get(port, "/callback").starts_with("HTTP/1.1 400"));
        let browser = std::thread::spawn(move || get(port, "/callback?code=c&state=s"));
        let callback = waiter.join().unwrap().unwrap();
        assert_eq!(
            callback.url,
            format!("http://127.0.0.1:{port}/callback?code=c&state=s")
        );
        callback.answer(false, "<script>x</script>");
        let page = browser.join().unwrap();
        assert!(page.starts_with("HTTP/1.1 400"), "{page}");
        assert!(page.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(page.contains("Cache-Control: no-store"));
    }

    #[test]
    fn times_out_with_a_message_naming_the_redirect_uri() {
        let loopback = Loopback::bind(0).unwrap();
        let uri = loopback.redirect_uri();
        let err = loopback
            .listen()
            .wait(Duration::from_millis(50))
            .err()
            .unwrap();
        assert!(err.to_string().contains(&uri), "{err}");
    }
}
