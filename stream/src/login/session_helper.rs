//! `lumen-session pam-session --user NAME --rhost ADDR -- worker ARGS…`: the root helper the broker starts
//! for each user session (a fresh single-threaded process, so PAM's modules may do anything, and
//! `pam_systemd` puts *this* process, not the broker, into the user's logind session). It opens the PAM
//! session ([`super::pam_session`]), forks the worker — which drops to the user for good and execs with PAM's
//! environment added (`XDG_SESSION_ID`, logind's `XDG_RUNTIME_DIR`) — waits for it, then closes the session.
//! The worker dies with the helper (parent-death signal), so killing the helper ends the session.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use super::privsep::{become_user, fork_process};
use super::spawn::Identity;

/// The PAM service.
const SERVICE: &str = super::pam::SERVICE;

/// What the helper is told.
#[derive(Debug, PartialEq, Eq)]
pub struct HelperArgs {
    pub user: String,
    pub rhost: String,
    /// The worker's argv after this binary (`worker …`).
    pub worker: Vec<OsString>,
}

/// Parses `--user NAME --rhost ADDR -- REST…` (after `pam-session`).
pub fn parse(args: &[OsString]) -> Result<HelperArgs, String> {
    let mut it = args.iter();
    let (mut user, mut rhost) = (None, None);
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--user") => user = it.next().and_then(|v| v.to_str()).map(str::to_owned),
            Some("--rhost") => rhost = it.next().and_then(|v| v.to_str()).map(str::to_owned),
            Some("--") => break,
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    let worker: Vec<OsString> = it.cloned().collect();
    match (user, rhost) {
        (Some(user), Some(rhost)) if worker.first().is_some_and(|w| w == "worker") => {
            Ok(HelperArgs { user, rhost, worker })
        }
        _ => Err("usage: pam-session --user NAME --rhost ADDR -- worker ARGS…".into()),
    }
}

/// The helper's body: returns the process's exit code.
pub fn run(args: &[OsString]) -> i32 {
    let a = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = e, "pam-session: bad arguments");
            return 2;
        }
    };
    let who = match Identity::look_up(&a.user) {
        Ok(w) if w.creds.uid != 0 => w,
        Ok(_) => {
            tracing::error!("pam-session: no sessions for root");
            return 1;
        }
        Err(e) => {
            tracing::error!(user = a.user, error = %e, "pam-session: unknown user");
            return 1;
        }
    };
    let items = [("XDG_SESSION_TYPE", "wayland"), ("XDG_SESSION_CLASS", "user"), ("XDG_SESSION_DESKTOP", "lumen")];
    let session = match super::pam_session::OpenSession::open(SERVICE, &a.user, &a.rhost, &items) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(user = a.user, rhost = a.rhost, error = %e, "pam-session: the PAM session did not open");
            return 1;
        }
    };
    let env = session.environment();
    tracing::info!(user = a.user, rhost = a.rhost, pam_env = ?env.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        "pam-session: PAM session open");
    let child = match fork_process() {
        Ok(Some(pid)) => pid,
        Ok(None) => std::process::exit(exec_worker(&who, &a.worker, &env)),
        Err(e) => {
            tracing::error!(error = %e, "pam-session: fork failed");
            let _ = session.close();
            return 1;
        }
    };
    let code = match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child as i32), None) {
        Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => c,
        Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => 128 + s as i32,
        _ => 1,
    };
    if let Err(e) = session.close() {
        tracing::warn!(user = a.user, error = %e, "pam-session: closing the PAM session failed");
    }
    tracing::info!(user = a.user, code, "pam-session: session closed");
    code
}

/// In the forked child: become the user for good and exec the worker (returns only on failure).
fn exec_worker(who: &Identity, worker: &[OsString], env: &[(String, String)]) -> i32 {
    if let Err(e) = become_user(&who.creds) {
        eprintln!("pam-session: dropping to {}: {e}", who.name);
        return 1;
    }
    // The worker ends with this helper (cleared by the credential change above, so set after it).
    if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM) {
        eprintln!("pam-session: parent-death signal: {e}");
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("pam-session: this binary: {e}");
            return 1;
        }
    };
    let err = std::process::Command::new(exe).args(worker).envs(env.iter().map(|(k, v)| (k, v))).exec();
    eprintln!("pam-session: exec of the worker failed: {err}");
    127
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn arguments() {
        let a =
            parse(&os(&["--user", "alice", "--rhost", "10.0.0.2", "--", "worker", "--encoder", "software"])).unwrap();
        assert_eq!((a.user.as_str(), a.rhost.as_str()), ("alice", "10.0.0.2"));
        assert_eq!(a.worker, os(&["worker", "--encoder", "software"]));
        assert!(parse(&os(&["--user", "alice", "--", "worker"])).is_err());
        assert!(parse(&os(&["--user", "alice", "--rhost", "x", "--", "sh", "-c", "id"])).is_err());
        assert!(parse(&os(&["--bogus"])).is_err());
    }
}
