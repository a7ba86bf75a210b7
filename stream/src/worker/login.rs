//! System mode in the worker plane: a session's first worker is a **greeter** (started by the root broker
//! as the greeter user, its greetd socket served by the host, [`crate::login::greeter`]); a login accepted
//! there hands the stream over to a worker started as that user (same stream: IDR, frame and sequence numbers
//! continue); the user's session ending hands it back to a fresh greeter. A client bound to a user reattaches
//! that user's running session without a password when no other client streams it (if allowed).

use std::sync::Arc;

use anyhow::Context;

use super::link::Outgoing;
use super::plane::{Worker, WorkerPlane};
use super::process::{HostEnds, WorkerProcess};
use crate::host::lock;
use crate::login::broker_proto::RunAs;
use crate::login::greeter::{GreetdServer, GreeterContext, LoggedIn};
use crate::login::system::SystemMode;

/// What a greeter worker hides from its apps (empty read-only mounts in its own mount namespace).
const GREETER_HIDES: [&str; 2] = ["/home", "/run/user"];

/// The plane's system-mode settings.
pub struct LoginMode {
    pub system: SystemMode,
    /// The workers' session flags (after `worker`; the broker adds `--session`).
    pub worker_args: Vec<String>,
}

/// Who a worker runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The host's own user (not system mode).
    Host,
    /// The greeter user.
    Greeter,
    /// A user who logged in.
    User(String),
}

impl Role {
    /// For `status`.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Host => "host",
            Role::Greeter => "greeter",
            Role::User(_) => "user",
        }
    }

    /// The user's name, for a user's worker.
    pub fn user(&self) -> Option<String> {
        match self {
            Role::User(u) => Some(u.clone()),
            _ => None,
        }
    }
}

/// Who to start a worker as.
#[derive(Debug)]
pub enum Who {
    Host,
    Greeter,
    User(LoggedIn),
}

/// The `Start` a worker of `role` gets: a greeter runs the greeter (never the client's app), a user's
/// session the client's app or, for "Desktop", the user session command. Either is the session's app: its
/// exit is reported (the greeter gave up; the user logged out).
pub fn start_for(role: &Role, start: &Outgoing, login: Option<&LoginMode>) -> Outgoing {
    let mut s = start.clone();
    if let (Some(l), Outgoing::Start { app_cmd, .. }) = (login, &mut s) {
        match role {
            Role::Greeter => *app_cmd = Some(l.system.greeter.clone()),
            Role::User(_) if app_cmd.is_none() => *app_cmd = Some(l.system.user_session.clone()),
            _ => {}
        }
    }
    s
}

type Launched = (Role, Option<GreetdServer>, (WorkerProcess, HostEnds));

impl WorkerPlane {
    /// A new session's first worker: a greeter in system mode, else the host's own.
    pub(super) fn first_worker(&self) -> Who {
        if self.opts.login.is_some() {
            Who::Greeter
        } else {
            Who::Host
        }
    }

    /// Starts the worker process for `who` (through the broker in system mode).
    pub(super) fn launch(&self, session: u64, who: Who) -> anyhow::Result<Launched> {
        let login = match (&self.opts.login, &who) {
            (None, _) | (_, Who::Host) => {
                return Ok((Role::Host, None, WorkerProcess::spawn(&self.opts.command, session)?));
            }
            (Some(l), _) => l,
        };
        let sys = &login.system;
        let mut args = login.worker_args.clone();
        match who {
            Who::Host => unreachable!("handled above"),
            Who::Greeter => {
                let (client, rhost) =
                    lock(&self.clients).get(&session).cloned().context("a greeter for a session with no client")?;
                let ctx = GreeterContext {
                    session,
                    client_id: client.id.clone(),
                    rhost,
                    bound_user: client.bound_user.clone(),
                    broker: sys.broker.clone(),
                };
                let me = self.me.clone();
                let on_login = Box::new(move |l: LoggedIn| {
                    // Before the greeter hears `success` (and exits): its exit is then part of the hand-over.
                    if let Some(plane) = me.upgrade() {
                        lock(&plane.switching).insert(session);
                    }
                    let me = me.clone();
                    let spawned = std::thread::Builder::new().name("lumen-login".into()).spawn(move || {
                        if let Some(plane) = me.upgrade() {
                            plane.logged_in(session, l);
                        }
                    });
                    if let Err(e) = spawned {
                        tracing::error!(error = %e, "login: could not start the hand-over thread");
                    }
                });
                let server =
                    GreetdServer::start(&sys.greetd_dir, ctx, on_login).context("the greeter's greetd socket")?;
                // The greeter sees none of the users' files.
                for d in GREETER_HIDES {
                    args.extend(["--hide".to_string(), d.to_string()]);
                }
                let run_as = RunAs::Greeter { greetd_sock: server.path().to_string_lossy().into_owned() };
                let launched = WorkerProcess::spawn_via_broker(&sys.broker, run_as, args, session)?;
                Ok((Role::Greeter, Some(server), launched))
            }
            Who::User(l) => {
                let run_as = RunAs::User { user: l.user.clone(), grant: l.grant };
                let launched = WorkerProcess::spawn_via_broker(&sys.broker, run_as, args, session)?;
                Ok((Role::User(l.user), None, launched))
            }
        }
    }

    /// With `--reattach-without-password false`: a user's running session is parked behind a greeter when its
    /// client comes back; true if it was (the caller then streams a greeter).
    pub(super) fn park_for_password(&self, session: u64, w: &Arc<Worker>) -> bool {
        let Some(login) = &self.opts.login else { return false };
        if login.system.reattach_without_password || !matches!(w.role, Role::User(_)) {
            return false;
        }
        w.link.send(Outgoing::StopStream);
        lock(&self.workers).remove(&session);
        lock(&self.parked).insert(session, w.clone());
        tracing::info!(session, user = ?w.role.user(), "login: the running session waits for its password");
        true
    }

    /// The parked session of `user` on `session`, if the login was theirs.
    fn unpark(&self, session: u64, user: &str) -> Option<Arc<Worker>> {
        let mut parked = lock(&self.parked);
        let w =
            parked.get(&session).filter(|w| w.role == Role::User(user.to_string()) && !w.link.status(|s| s.closed))?;
        let w = w.clone();
        parked.remove(&session);
        Some(w)
    }

    /// A greeter accepted a login on `session`: the stream moves to the user's session (their parked one,
    /// else a new one).
    fn logged_in(&self, session: u64, l: LoggedIn) {
        lock(&self.switching).insert(session);
        let (user, accepted) = (l.user.clone(), l.accepted_at);
        let route = lock(&self.routes).get(&session).cloned();
        let switched = match (self.unpark(session, &user), route) {
            (Some(w), Some(route)) => {
                tracing::info!(session, user, "login: back to the user's running session");
                self.switch_to(session, &route, w, accepted)
            }
            _ => self.hand_over_to(session, Who::User(l)),
        };
        match switched {
            Ok(pid) => {
                tracing::info!(
                    session,
                    user,
                    pid,
                    handover_ms = accepted.elapsed().as_secs_f64() * 1000.0,
                    "login: the stream now shows the user's session"
                );
                let client = lock(&self.clients).get(&session).map(|(c, _)| c.clone());
                if let Some(bind) = client.filter(|c| c.bound_user.is_none()).and_then(|c| c.bind) {
                    bind(&user);
                }
            }
            Err(e) => {
                tracing::error!(session, user, error = %e, "login: the user's session did not start: a fresh greeter");
                if let Err(e) = self.hand_over_to(session, Who::Greeter) {
                    tracing::error!(session, error = %e, "login: no greeter either");
                }
            }
        }
        lock(&self.switching).remove(&session);
    }

    /// A worker's app exited in system mode: a greeter is restarted, a user's ended session goes back to
    /// the greeter — while a client streams. Returns whether that was handled (the stream goes on).
    pub(super) fn app_exited_in_login(&self, pid: Option<u32>) -> bool {
        if self.opts.login.is_none() {
            return false;
        }
        let found =
            lock(&self.workers).iter().find(|(_, w)| Some(w.process.pid) == pid).map(|(s, w)| (*s, w.role.clone()));
        let Some((session, role)) = found else {
            // An old worker after a hand-over: its stream has moved on.
            return true;
        };
        if lock(&self.switching).contains(&session) {
            return true;
        }
        if !lock(&self.routes).contains_key(&session) {
            return false;
        }
        match &role {
            Role::Greeter => tracing::info!(session, "login: the greeter ended: a fresh one"),
            Role::User(u) => tracing::info!(session, user = u, "login: the user's session ended: back to the greeter"),
            Role::Host => return false,
        }
        lock(&self.switching).insert(session);
        let me = self.me.clone();
        let spawned = std::thread::Builder::new().name("lumen-login".into()).spawn(move || {
            if let Some(plane) = me.upgrade() {
                if let Err(e) = plane.hand_over_to(session, Who::Greeter) {
                    tracing::error!(session, error = %e, "login: could not start a greeter");
                }
                lock(&plane.switching).remove(&session);
            }
        });
        spawned.is_ok()
    }

    /// A client bound to a user, starting a session: that user's running session no client streams, moved
    /// to this session (no password), if the configuration allows it.
    pub(super) fn reattach(&self, session: u64) -> Option<Arc<Worker>> {
        let login = self.opts.login.as_ref()?;
        if !login.system.reattach_without_password {
            return None;
        }
        let bound = lock(&self.clients).get(&session).and_then(|(c, _)| c.bound_user.clone())?;
        let routes: Vec<u64> = lock(&self.routes).keys().copied().collect();
        let mut workers = lock(&self.workers);
        let from = workers
            .iter()
            .find(|(s, w)| **s != session && !routes.contains(s) && w.role == Role::User(bound.clone()))
            .map(|(s, _)| *s)?;
        let w = workers.remove(&from)?;
        workers.insert(session, w.clone());
        tracing::info!(
            session,
            from,
            user = bound,
            pid = w.process.pid,
            "login: a client bound to the user reattaches the user's running session without a password"
        );
        Some(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::AudioParams;

    fn start(app: Option<&str>) -> Outgoing {
        Outgoing::Start {
            width: 640,
            height: 480,
            fps: 30,
            bitrate_kbps: 1000,
            csc_mode: 0,
            slices: 1,
            app_id: 1,
            audio: AudioParams { packet_ms: 5, channels: 2, bitrate_bps: 96_000, high_quality: false },
            app_cmd: app.map(str::to_owned),
            pad_kind: None,
        }
    }

    #[test]
    fn a_greeter_never_starts_the_clients_app() {
        let s = start(Some("steam"));
        assert!(
            matches!(start_for(&Role::Greeter, &s, None), Outgoing::Start { app_cmd: Some(c), .. } if c == "steam")
        );
        assert_eq!(Role::User("alice".into()).user().as_deref(), Some("alice"));
        assert_eq!(Role::Greeter.name(), "greeter");
    }
}
