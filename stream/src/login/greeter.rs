//! The host's greetd for one greeter session: listens on a socket in the runtime directory's `greetd/`
//! (a random name: the directory is not listable; the greeter finds it in `GREETD_SOCK`) and plays greetd's
//! part of greetd-ipc(7) for whatever greeter runs there. A password is checked by the broker (PAM, the
//! failed-login limit — an attempt during the limit's wait is held until the wait is over, like login(1)'s
//! fail delay); `start_session` after a successful check hands the stream over to the user's session
//! (`on_login`). A client bound to a user may sign in only as that user. Passwords are never logged.

use std::io::ErrorKind;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustix::event::{poll, PollFd, PollFlags, Timespec};

use super::broker_proto::{valid_user_name, TOO_MANY_FAILURES};
use super::client::{BrokerClient, LoginOutcome};
use super::greetd::{self, AuthMessageType, ErrorType, Request, Response};

/// How often the server looks at its stop flag while nothing happens.
const POLL: Duration = Duration::from_millis(250);

/// Who is logging in where.
#[derive(Clone)]
pub struct GreeterContext {
    pub session: u64,
    /// The paired client's id.
    pub client_id: String,
    /// Its address (`PAM_RHOST`, logs).
    pub rhost: IpAddr,
    /// The user the client is bound to, if any: the only one it may sign in as.
    pub bound_user: Option<String>,
    pub broker: Arc<BrokerClient>,
}

/// A successful login, handed to the host at `start_session`.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub user: String,
    pub grant: String,
    /// When the broker accepted the password (the hand-over time counts from here).
    pub accepted_at: std::time::Instant,
}

/// What happens at `start_session`.
pub type OnLogin = Box<dyn Fn(LoggedIn) + Send + Sync>;

/// A greetd socket being served.
pub struct GreetdServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GreetdServer {
    /// Listens in `dir` and serves greeters for `ctx` on a thread.
    pub fn start(dir: &Path, ctx: GreeterContext, on_login: OnLogin) -> std::io::Result<Self> {
        let path = dir.join(format!("{}-{}.sock", ctx.session, hex::encode(rand::random::<[u8; 12]>())));
        let listener = UnixListener::bind(&path)?;
        // The greeter user must connect; the directory (0711) keeps the name from anyone else.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("lumen-greetd".into())
            .spawn(move || serve(listener, &ctx, &on_login, &flag))?;
        Ok(Self { path, stop, thread: Some(thread) })
    }

    /// The socket's path (`GREETD_SOCK`).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for GreetdServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn readable(fd: &impl std::os::fd::AsFd) -> bool {
    let mut fds = [PollFd::new(fd, PollFlags::IN)];
    let timeout = Timespec { tv_sec: 0, tv_nsec: POLL.as_nanos() as i64 };
    matches!(poll(&mut fds, Some(&timeout)), Ok(n) if n > 0)
}

fn serve(listener: UnixListener, ctx: &GreeterContext, on_login: &OnLogin, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        if !readable(&listener) {
            continue;
        }
        match listener.accept() {
            Ok((conn, _)) => {
                tracing::info!(session = ctx.session, "greeter connected");
                match converse(conn, ctx, on_login, stop) {
                    // Greeters hang up right after `cancel_session` (agreety after a failed login).
                    Err(greetd::IpcError::Io(e)) if e.kind() == ErrorKind::BrokenPipe => {}
                    Err(e) => {
                        tracing::warn!(session = ctx.session, error = %e, "greeter: connection ended with an error")
                    }
                    Ok(()) => {}
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::warn!(session = ctx.session, error = %e, "greeter: accept failed");
                return;
            }
        }
    }
}

/// The login in progress on one greeter connection.
#[derive(Debug)]
enum Login {
    Idle,
    Asked { user: String },
    Accepted(LoggedIn),
    Started(LoggedIn),
}

fn converse(
    mut conn: UnixStream,
    ctx: &GreeterContext,
    on_login: &OnLogin,
    stop: &AtomicBool,
) -> Result<(), greetd::IpcError> {
    let mut login = Login::Idle;
    while !stop.load(Ordering::Relaxed) {
        if !readable(&conn) {
            continue;
        }
        let Some(req) = greetd::read::<Request>(&mut conn)? else { return Ok(()) };
        let (next, answer) = step(login, req, ctx);
        if let Login::Started(done) = next {
            // The host learns first (the greeter exits as soon as it reads the answer), then the greeter.
            on_login(done);
            greetd::write(&mut conn, &answer)?;
            return Ok(());
        }
        greetd::write(&mut conn, &answer)?;
        login = next;
    }
    Ok(())
}

fn auth_error(description: impl Into<String>) -> Response {
    Response::Error { error_type: ErrorType::AuthError, description: description.into() }
}

/// One request against the login state: the next state and the answer.
fn step(login: Login, req: Request, ctx: &GreeterContext) -> (Login, Response) {
    match (login, req) {
        (_, Request::CreateSession { username }) => {
            if !valid_user_name(&username) {
                return (Login::Idle, auth_error("wrong user name or password"));
            }
            if let Some(bound) = ctx.bound_user.as_deref().filter(|b| *b != username) {
                tracing::warn!(session = ctx.session, rhost = %ctx.rhost, client = ctx.client_id, user = username,
                    bound, "greeter: a bound client tried another user");
                return (Login::Idle, auth_error(format!("this device signs in as {bound} only")));
            }
            tracing::info!(session = ctx.session, user = username, "greeter: asking for the password");
            let prompt =
                Response::AuthMessage { auth_message_type: AuthMessageType::Secret, auth_message: "Password: ".into() };
            (Login::Asked { user: username }, prompt)
        }
        (Login::Asked { user }, Request::PostAuthMessageResponse { response: Some(password) }) => {
            match check(ctx, &user, &password) {
                Ok(l) => (Login::Accepted(l), Response::Success),
                Err(answer) => (Login::Idle, answer),
            }
        }
        (Login::Accepted(l), Request::StartSession { cmd, .. }) => {
            tracing::info!(session = ctx.session, user = l.user, greeter_cmd = ?cmd,
                "greeter: start_session: handing the stream to the user's session");
            (Login::Started(l), Response::Success)
        }
        (_, Request::CancelSession) => (Login::Idle, Response::Success),
        (login, other) => {
            tracing::warn!(session = ctx.session, request = request_name(&other), state = ?state_name(&login),
                "greeter: request out of order");
            (Login::Idle, Response::Error { error_type: ErrorType::Error, description: "out of order".into() })
        }
    }
}

fn request_name(r: &Request) -> &'static str {
    match r {
        Request::CreateSession { .. } => "create_session",
        Request::PostAuthMessageResponse { .. } => "post_auth_message_response",
        Request::StartSession { .. } => "start_session",
        Request::CancelSession => "cancel_session",
    }
}

fn state_name(l: &Login) -> &'static str {
    match l {
        Login::Idle => "idle",
        Login::Asked { .. } => "asked",
        Login::Accepted(_) => "accepted",
        Login::Started(_) => "started",
    }
}

/// Asks the broker; an attempt refused by the failed-login limit waits out the limit and is asked once more.
fn check(ctx: &GreeterContext, user: &str, password: &str) -> Result<LoggedIn, Response> {
    for _ in 0..3 {
        match ctx.broker.authenticate(&ctx.client_id, user, password, ctx.rhost) {
            Ok(LoginOutcome::Accepted { grant, .. }) => {
                tracing::info!(session = ctx.session, rhost = %ctx.rhost, client = ctx.client_id, user,
                    "greeter: password accepted");
                return Ok(LoggedIn { user: user.to_string(), grant, accepted_at: std::time::Instant::now() });
            }
            Ok(LoginOutcome::Refused { reason, retry_after_ms }) if reason == TOO_MANY_FAILURES => {
                tracing::warn!(session = ctx.session, rhost = %ctx.rhost, client = ctx.client_id, user,
                    delay_ms = retry_after_ms, "greeter: login delayed: too many failed logins");
                // A little past the wait, so the next attempt is not a hair early.
                std::thread::sleep(Duration::from_millis(retry_after_ms + 50));
            }
            Ok(LoginOutcome::Refused { reason, .. }) => {
                tracing::warn!(session = ctx.session, rhost = %ctx.rhost, client = ctx.client_id, user, reason,
                    "greeter: login failed: the greeter is told");
                return Err(auth_error(reason));
            }
            Err(e) => {
                tracing::error!(session = ctx.session, error = %e, "greeter: the broker did not answer");
                return Err(Response::Error {
                    error_type: ErrorType::Error,
                    description: "login is unavailable".into(),
                });
            }
        }
    }
    Err(auth_error(TOO_MANY_FAILURES))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::broker::{Account, Broker};
    use crate::login::pam::PamError;

    /// A greetd socket served for a client bound to alice, a broker thread whose PAM knows alice/right.
    fn serve_for_alice() -> (GreetdServer, std::sync::mpsc::Receiver<LoggedIn>, PathBuf) {
        use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
        let (host, broker_end) =
            socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None).unwrap();
        std::thread::spawn(move || {
            let mut b = Broker::new(
                Box::new(
                    |u, pw, _| if u == "alice" && pw.expose() == "right" { Ok(()) } else { Err(PamError::Denied) },
                ),
                Box::new(|u| (u == "alice").then(|| Account { uid: 1001, gid: 1001, home: "/home/alice".into() })),
            );
            b.serve(&broker_end)
        });
        let dir = std::env::temp_dir().join(format!("lumen-greetd-test-{}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir).unwrap();
        let ctx = GreeterContext {
            session: 5,
            client_id: "ab12".into(),
            rhost: "127.0.0.1".parse().unwrap(),
            bound_user: Some("alice".into()),
            broker: Arc::new(BrokerClient::new(host)),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let server = GreetdServer::start(&dir, ctx, Box::new(move |l| tx.lock().unwrap().send(l).unwrap())).unwrap();
        (server, rx, dir)
    }

    fn ask(conn: &mut UnixStream, req: &Request) -> Response {
        greetd::write(conn, req).unwrap();
        greetd::read(conn).unwrap().unwrap()
    }

    #[test]
    fn a_greeter_logs_in_through_the_broker() {
        let (server, logins, dir) = serve_for_alice();
        let mut conn = UnixStream::connect(server.path()).unwrap();
        let create = |u: &str| Request::CreateSession { username: u.into() };
        let answer = |p: &str| Request::PostAuthMessageResponse { response: Some(p.into()) };
        // A client bound to alice may not sign in as bob.
        assert!(matches!(ask(&mut conn, &create("bob")), Response::Error { error_type: ErrorType::AuthError, .. }));
        // A wrong password: an auth error; nothing starts.
        assert!(matches!(
            ask(&mut conn, &create("alice")),
            Response::AuthMessage { auth_message_type: AuthMessageType::Secret, .. }
        ));
        assert!(matches!(ask(&mut conn, &answer("wrong")), Response::Error { error_type: ErrorType::AuthError, .. }));
        assert!(matches!(ask(&mut conn, &Request::StartSession { cmd: vec![], env: vec![] }), Response::Error { .. }));
        assert!(logins.try_recv().is_err());
        // The right one, then start_session: the host is told, with the grant.
        assert!(matches!(ask(&mut conn, &create("alice")), Response::AuthMessage { .. }));
        assert_eq!(ask(&mut conn, &answer("right")), Response::Success);
        assert_eq!(ask(&mut conn, &Request::StartSession { cmd: vec!["sway".into()], env: vec![] }), Response::Success);
        let l = logins.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!((l.user.as_str(), l.grant.len()), ("alice", 32));
        drop(server);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
