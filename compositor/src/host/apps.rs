//! The launched app of a session ("Desktop" launches nothing): its process (own process group, on the
//! compositor's Wayland socket) and a watcher thread that reports its exit, so the stream ends when a
//! configured app exits (as Sunshine does). `/cancel` and shutdown terminate it; a client leaving does not.
//! Its stdout/stderr go to a log file of its own (`<log dir>/<app>-<pid>.log`, [`crate::applog`]).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the watcher polls the process.
const POLL: Duration = Duration::from_millis(200);

/// A running app.
pub struct AppProcess {
    pub app_id: u32,
    pub cmd: String,
    pub pid: u32,
    exited: Arc<AtomicBool>,
    terminate: Arc<AtomicBool>,
    watcher: Option<JoinHandle<()>>,
}

impl AppProcess {
    /// Starts `cmd` through `sh -c` on `wayland_display` (and Xwayland's `x_display`, when the session runs
    /// one), its output in a file of `log_dir` (else the host's streams); `on_exit` runs (on the watcher
    /// thread) when the process exits by itself.
    pub fn spawn(
        app_id: u32,
        cmd: &str,
        wayland_display: &str,
        x_display: Option<u32>,
        log_dir: Option<&Path>,
        on_exit: Box<dyn FnOnce() + Send>,
    ) -> std::io::Result<AppProcess> {
        use std::os::unix::process::CommandExt;
        let mut c = Command::new("sh");
        c.arg("-c").arg(cmd).stdin(Stdio::null());
        c.env("WAYLAND_DISPLAY", wayland_display).env_remove("WAYLAND_SOCKET");
        match x_display {
            Some(n) => c.env("DISPLAY", format!(":{n}")),
            None => c.env_remove("DISPLAY"),
        };
        c.process_group(0);
        let log = crate::applog::prepare(log_dir, cmd, &mut c);
        let child = match c.spawn() {
            Ok(child) => child,
            Err(e) => {
                if let Some(l) = log {
                    l.abandon();
                }
                return Err(e);
            }
        };
        let pid = child.id();
        match log.map(|l| l.started(pid)) {
            Some(log) => tracing::info!(%cmd, pid, log = %log.display(), "app started"),
            None => tracing::info!(%cmd, pid, "app started"),
        }
        let exited = Arc::new(AtomicBool::new(false));
        let terminate = Arc::new(AtomicBool::new(false));
        let (ex, term, name) = (exited.clone(), terminate.clone(), cmd.to_string());
        let watcher = std::thread::Builder::new()
            .name("lumen-app-watch".into())
            .spawn(move || watch(child, &name, &ex, &term, on_exit))?;
        Ok(AppProcess { app_id, cmd: cmd.to_string(), pid, exited, terminate, watcher: Some(watcher) })
    }

    pub fn running(&self) -> bool {
        !self.exited.load(Ordering::Relaxed)
    }

    /// Terminates the app's process group (SIGTERM, then SIGKILL after 2 s) and waits for the watcher.
    pub fn terminate(mut self) {
        self.terminate.store(true, Ordering::Relaxed);
        if let Some(w) = self.watcher.take() {
            let _ = w.join();
        }
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        if self.watcher.is_some() {
            self.terminate.store(true, Ordering::Relaxed);
            if let Some(w) = self.watcher.take() {
                let _ = w.join();
            }
        }
    }
}

fn signal_group(pid: u32, sig: rustix::process::Signal) {
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        if let Err(e) = rustix::process::kill_process_group(p, sig) {
            tracing::debug!(pid, error = %e, "signalling the app's process group");
        }
    }
}

fn watch(mut child: Child, cmd: &str, exited: &AtomicBool, terminate: &AtomicBool, on_exit: Box<dyn FnOnce() + Send>) {
    let pid = child.id();
    let mut term_sent: Option<std::time::Instant> = None;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                exited.store(true, Ordering::Relaxed);
                if term_sent.is_some() {
                    tracing::info!(%cmd, pid, %status, "app terminated");
                } else {
                    tracing::info!(%cmd, pid, %status, "app exited");
                    on_exit();
                }
                // Whatever the shell left in its group goes too.
                signal_group(pid, rustix::process::Signal::TERM);
                return;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(%cmd, pid, error = %e, "cannot wait for the app");
                exited.store(true, Ordering::Relaxed);
                return;
            }
        }
        if terminate.load(Ordering::Relaxed) {
            match term_sent {
                None => {
                    signal_group(pid, rustix::process::Signal::TERM);
                    term_sent = Some(std::time::Instant::now());
                }
                Some(t) if t.elapsed() > Duration::from_secs(2) => signal_group(pid, rustix::process::Signal::KILL),
                Some(_) => {}
            }
            std::thread::sleep(Duration::from_millis(20));
        } else {
            std::thread::sleep(POLL);
        }
    }
}
