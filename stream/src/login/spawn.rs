//! The broker's worker launcher: starts `lumen-session worker …` as the greeter user or a logged-in user with
//! the host's four link descriptors on 3–6, a clean environment (the user's `HOME`, `USER`, `SHELL`,
//! `XDG_RUNTIME_DIR`, `XDG_SESSION_TYPE=wayland`, …) and, where logind is absent, a runtime directory
//! `RUNTIME_BASE/<uid>` (0700, the user's) — with logind (`/run/systemd/system`), `/run/user/<uid>` when it
//! exists. A reaper thread per worker writes how it ended on the exit socket the host holds.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use super::broker::{StartAs, WorkerStarter};
use super::privsep::{exec_as, Credentials};
use crate::worker::process::WorkerExit;

/// Who a worker runs as, resolved by the broker.
#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    pub home: String,
    pub shell: String,
    pub creds: Credentials,
}

impl Identity {
    /// Looks `name` up in the system's user database.
    pub fn look_up(name: &str) -> std::io::Result<Self> {
        let u = nix::unistd::User::from_name(name)
            .map_err(std::io::Error::from)?
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("no user {name}")))?;
        Ok(Self {
            name: name.to_string(),
            home: u.dir.to_string_lossy().into_owned(),
            shell: u.shell.to_string_lossy().into_owned(),
            creds: Credentials::of(name, u.uid.as_raw(), u.gid.as_raw())?,
        })
    }
}

/// Environment variables a worker keeps from the broker's (logging, locale, lumen's own knobs).
fn kept(key: &str) -> bool {
    matches!(key, "RUST_LOG" | "LANG" | "LANGUAGE" | "TZ" | "GSK_RENDERER" | "PATH")
        || key.starts_with("LC_")
        || key.starts_with("LUMEN_")
}

/// What every worker gets.
pub struct Launcher {
    /// This binary.
    pub exe: PathBuf,
    /// Where per-user runtime directories go without logind.
    pub runtime_base: PathBuf,
    /// Pids of the workers running now (only those may be stopped).
    pub running: Arc<Mutex<HashSet<u32>>>,
}

/// Whether systemd is PID 1 (logind then owns `/run/user/<uid>`).
pub fn logind_present() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The user's runtime directory: `/run/user/<uid>` when logind made it, else `base/<uid>` (made here, 0700).
pub fn runtime_dir(base: &Path, who: &Credentials, logind: bool) -> std::io::Result<PathBuf> {
    let logind_dir = PathBuf::from(format!("/run/user/{}", who.uid));
    if logind && std::fs::metadata(&logind_dir).is_ok_and(|m| m.is_dir() && m.uid() == who.uid) {
        return Ok(logind_dir);
    }
    let dir = base.join(who.uid.to_string());
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(&dir)?;
    if !meta.is_dir() {
        return Err(std::io::Error::other(format!("{} is not a directory", dir.display())));
    }
    std::os::unix::fs::lchown(&dir, Some(who.uid), Some(who.gid))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// The worker's environment (a clean one: nothing of the host's but [`kept`] variables).
pub fn environment(who: &Identity, runtime: &Path, class: &str, extra: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> =
        std::env::vars_os().filter(|(k, _)| k.to_str().is_some_and(kept)).collect();
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()));
    }
    for (k, v) in [
        ("HOME", who.home.as_str()),
        ("USER", who.name.as_str()),
        ("LOGNAME", who.name.as_str()),
        ("SHELL", who.shell.as_str()),
        ("XDG_SESSION_TYPE", "wayland"),
        ("XDG_SESSION_CLASS", class),
    ] {
        env.push((k.into(), v.into()));
    }
    env.push(("XDG_RUNTIME_DIR".into(), runtime.as_os_str().to_owned()));
    env.extend(extra.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))));
    env
}

impl Launcher {
    /// Starts a worker as `who`; returns its pid and the read end of its exit socket.
    pub fn start(
        &self,
        who: &Identity,
        session: u64,
        args: &[String],
        class: &str,
        extra_env: &[(&str, &str)],
        fds: [OwnedFd; 4],
    ) -> std::io::Result<(u32, OwnedFd)> {
        let runtime = runtime_dir(&self.runtime_base, &who.creds, logind_present())?;
        let mut c = Command::new(&self.exe);
        c.arg("worker").args(args).arg("--session").arg(session.to_string());
        self.spawn_child(c, who, session, &runtime, class, extra_env, fds, true)
    }

    /// Runs `c` for `who` with the worker's descriptors and a clean environment; `drop_now`: become the user
    /// before exec (else the child is the root session helper, which drops later).
    #[allow(clippy::too_many_arguments)]
    fn spawn_child(
        &self,
        mut c: Command,
        who: &Identity,
        session: u64,
        runtime: &Path,
        class: &str,
        extra_env: &[(&str, &str)],
        fds: [OwnedFd; 4],
        drop_now: bool,
    ) -> std::io::Result<(u32, OwnedFd)> {
        c.env_clear().envs(environment(who, runtime, class, extra_env));
        let home = Path::new(&who.home);
        c.current_dir(if home.is_dir() { home } else { Path::new("/") });
        c.stdin(Stdio::null());
        crate::worker::process::map_worker_fds(&mut c, fds)?;
        if drop_now {
            exec_as(&mut c, &who.creds);
        }
        let mut child = c.spawn()?;
        drop(c);
        let pid = child.id();
        let (host_end, mut ours) = UnixStream::pair()?;
        self.running.lock().unwrap_or_else(|e| e.into_inner()).insert(pid);
        let running = self.running.clone();
        let user = who.name.clone();
        std::thread::Builder::new().name("lumen-broker-reap".into()).spawn(move || {
            let how = WorkerExit::of(child.wait());
            running.lock().unwrap_or_else(|e| e.into_inner()).remove(&pid);
            tracing::info!(pid, session, user, how = %how, "broker: worker ended");
            let _ = ours.write_all(&how.to_bytes());
        })?;
        tracing::info!(pid, session, user = who.name, uid = who.creds.uid, runtime = %runtime.display(),
            "broker: worker started");
        Ok((pid, host_end.into()))
    }

    /// Starts a user's worker through the PAM session helper (`pam-session`, root, one per session), which
    /// opens the PAM session, drops to the user and execs the worker.
    pub fn start_user(
        &self,
        who: &Identity,
        rhost: std::net::IpAddr,
        session: u64,
        args: &[String],
        fds: [OwnedFd; 4],
    ) -> std::io::Result<(u32, OwnedFd)> {
        let runtime = runtime_dir(&self.runtime_base, &who.creds, logind_present())?;
        let mut c = Command::new(&self.exe);
        c.args(["pam-session", "--user", &who.name, "--rhost", &rhost.to_string(), "--", "worker"]);
        c.args(args).arg("--session").arg(session.to_string());
        self.spawn_child(c, who, session, &runtime, "user", &[], fds, false)
    }

    /// SIGKILL to a worker this launcher started and that still runs.
    pub fn stop(&self, pid: u32) -> bool {
        if !self.running.lock().unwrap_or_else(|e| e.into_inner()).contains(&pid) {
            return false;
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGKILL).is_ok()
    }
}

/// The product's [`WorkerStarter`]: greeters as the greeter user, users as themselves.
pub struct SystemStarter {
    pub launcher: Launcher,
    pub greeter: Identity,
}

impl WorkerStarter for SystemStarter {
    fn start(
        &mut self,
        who: &StartAs,
        session: u64,
        args: &[String],
        fds: [OwnedFd; 4],
    ) -> std::io::Result<(u32, OwnedFd)> {
        match who {
            StartAs::Greeter { greetd_sock } => {
                self.launcher.start(&self.greeter, session, args, "greeter", &[("GREETD_SOCK", greetd_sock)], fds)
            }
            StartAs::User { user, rhost } => {
                let id = Identity::look_up(user)?;
                if id.creds.uid == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::PermissionDenied,
                        "no remote sessions for root",
                    ));
                }
                self.launcher.start_user(&id, *rhost, session, args, fds)
            }
        }
    }

    fn stop(&mut self, pid: u32) -> bool {
        self.launcher.stop(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_is_clean_and_the_users() {
        let who = Identity {
            name: "alice".into(),
            home: "/home/alice".into(),
            shell: "/bin/sh".into(),
            creds: Credentials { uid: 1001, gid: 1001, groups: vec![1001] },
        };
        std::env::set_var("LUMEN_TEST_KEPT", "1");
        let env = environment(&who, Path::new("/run/lumen/1001"), "user", &[("GREETD_SOCK", "/x")]);
        let get = |k: &str| env.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.to_string_lossy().into_owned());
        assert_eq!(get("HOME").as_deref(), Some("/home/alice"));
        assert_eq!(get("USER").as_deref(), Some("alice"));
        assert_eq!(get("XDG_SESSION_TYPE").as_deref(), Some("wayland"));
        assert_eq!(get("XDG_RUNTIME_DIR").as_deref(), Some("/run/lumen/1001"));
        assert_eq!(get("GREETD_SOCK").as_deref(), Some("/x"));
        assert_eq!(get("LUMEN_TEST_KEPT").as_deref(), Some("1"));
        assert!(get("PATH").is_some());
        // Nothing else of the broker's environment reaches a user's worker.
        assert!(env.iter().all(|(k, _)| k != "HOME" || get("HOME").as_deref() == Some("/home/alice")));
        assert!(get("CARGO_MANIFEST_DIR").is_none());
    }

    #[test]
    fn the_runtime_dir_without_logind_is_made_private() {
        let base = std::env::temp_dir().join(format!("lumen-rt-test-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        let me =
            Credentials { uid: nix::unistd::getuid().as_raw(), gid: nix::unistd::getgid().as_raw(), groups: vec![] };
        let d = runtime_dir(&base, &me, false).unwrap();
        assert_eq!(d, base.join(me.uid.to_string()));
        let m = std::fs::metadata(&d).unwrap();
        assert_eq!((m.uid(), m.mode() & 0o777), (me.uid, 0o700));
        // Again: the same directory, still private.
        assert_eq!(runtime_dir(&base, &me, false).unwrap(), d);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
