//! A spinner on stderr while waiting on the network, shown only when stderr is a terminal and
//! only once the wait has lasted a moment (quick answers print nothing).

use std::io::{IsTerminal, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a wait lasts before the spinner appears.
const GRACE: Duration = Duration::from_millis(250);
/// Time between frames.
const TICK: Duration = Duration::from_millis(100);
const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// Spins until dropped.
pub struct Spinner {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Spinner {
    /// Starts a spinner with `message` if stderr is a terminal; a no-op otherwise.
    pub fn start(message: impl Into<String>) -> Self {
        if !std::io::stderr().is_terminal() {
            return Spinner {
                stop: None,
                thread: None,
            };
        }
        let message = message.into();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            if !matches!(stopped.recv_timeout(GRACE), Err(RecvTimeoutError::Timeout)) {
                return;
            }
            let mut stderr = std::io::stderr();
            for frame in FRAMES.iter().cycle() {
                let _ = write!(
                    stderr,
                    "\r\x1b[2K{frame} {message} ({}s)",
                    started.elapsed().as_secs()
                );
                let _ = stderr.flush();
                if !matches!(stopped.recv_timeout(TICK), Err(RecvTimeoutError::Timeout)) {
                    break;
                }
            }
            let _ = write!(stderr, "\r\x1b[2K");
            let _ = stderr.flush();
        });
        Spinner {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread at once.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `f` with a spinner showing `message`.
pub fn with_spinner<T>(message: impl Into<String>, f: impl FnOnce() -> T) -> T {
    let _spinner = Spinner::start(message);
    f()
}
