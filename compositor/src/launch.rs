//! The session's environment and its apps: a private `XDG_RUNTIME_DIR` when none is set, and app
//! processes started with `WAYLAND_DISPLAY` / `DISPLAY` / `XDG_RUNTIME_DIR` pointing at this session.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tracing::{info, warn};

use crate::state::State;

/// A runtime directory we created (removed again on drop).
pub struct RuntimeDir {
    pub path: PathBuf,
    owned: bool,
}

impl RuntimeDir {
    /// `$XDG_RUNTIME_DIR` if set, else a fresh 0700 directory under /tmp, exported to this process.
    pub fn ensure() -> std::io::Result<Self> {
        if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| Path::new(d).is_dir()) {
            return Ok(RuntimeDir { path: dir.into(), owned: false });
        }
        use std::os::unix::fs::DirBuilderExt;
        let path = std::env::temp_dir().join(format!("lumen-runtime-{}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).recursive(true).create(&path)?;
        // Single-threaded at this point (called before the loop and any thread starts).
        std::env::set_var("XDG_RUNTIME_DIR", &path);
        info!(path = %path.display(), "created private XDG_RUNTIME_DIR");
        Ok(RuntimeDir { path, owned: true })
    }
}

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Launched apps.
#[derive(Default)]
pub struct Children {
    pub procs: Vec<(String, Child)>,
    /// How many apps were ever started (the session ends with them only if there were some).
    pub started: usize,
    /// Where each app's stdout/stderr go (`<app>-<pid>.log`, see [`crate::applog`]); `None`: the
    /// compositor's own streams.
    pub log_dir: Option<PathBuf>,
}

impl Children {
    /// Reap exited apps; returns how many are still running.
    pub fn reap(&mut self) -> usize {
        self.procs.retain_mut(|(cmd, child)| match child.try_wait() {
            Ok(Some(status)) => {
                info!(%cmd, %status, "app exited");
                false
            }
            Ok(None) => true,
            Err(e) => {
                warn!(%cmd, "waiting for app: {e}");
                false
            }
        });
        self.procs.len()
    }

    /// SIGTERM every app's process group.
    pub fn terminate_all(&mut self) {
        for (cmd, child) in &mut self.procs {
            let pid = child.id() as i32;
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                if let Err(e) = rustix::process::kill_process_group(pid, rustix::process::Signal::TERM) {
                    warn!(%cmd, "SIGTERM: {e}");
                }
            }
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.reap() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for (_, child) in &mut self.procs {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.procs.clear();
    }
}

impl State {
    /// Start `cmd` (run by `sh -c`) inside the session. With Xwayland starting, it waits for `DISPLAY`.
    pub fn launch_app(&mut self, cmd: &str) {
        if self.xwayland.starting && self.xwayland.display.is_none() {
            self.xwayland.queued_apps.push(cmd.to_string());
            return;
        }
        let mut c = Command::new("sh");
        c.arg("-c").arg(cmd).stdin(Stdio::null());
        c.env("WAYLAND_DISPLAY", &self.socket_name);
        c.env_remove("WAYLAND_SOCKET");
        if let Some(rt) = std::env::var_os("XDG_RUNTIME_DIR") {
            c.env("XDG_RUNTIME_DIR", rt);
        }
        match self.xwayland.display {
            Some(d) => {
                c.env("DISPLAY", format!(":{d}"));
            }
            None => {
                c.env_remove("DISPLAY");
            }
        }
        use std::os::unix::process::CommandExt;
        c.process_group(0);
        let log = crate::applog::prepare(self.children.log_dir.as_deref(), cmd, &mut c);
        match c.spawn() {
            Ok(child) => {
                match log.map(|l| l.started(child.id())) {
                    Some(log) => info!(%cmd, pid = child.id(), log = %log.display(), "app started"),
                    None => info!(%cmd, pid = child.id(), "app started"),
                }
                self.children.procs.push((cmd.to_string(), child));
                self.children.started += 1;
            }
            Err(e) => {
                if let Some(l) = log {
                    l.abandon();
                }
                warn!(%cmd, "could not start app: {e}")
            }
        }
    }
}
