//! The root broker's request loop: one `SOCK_SEQPACKET` socket to the unprivileged host, one request
//! datagram in (with up to four descriptors), one answer datagram out (with at most one). [`Broker::handle`]
//! does the work without socket I/O: validate ([`Request::decode`]), apply the failed-login limit
//! ([`LoginLimiter`]), ask PAM, look the user up, start a worker as the greeter or as a user who has just
//! logged in (a single-use grant from that login: the host cannot start anything as a user whose password
//! was not checked), stop a worker it started. Every refusal is logged with the client's address and the
//! user name — never the password.

use std::collections::HashMap;
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage,
    SendFlags,
};

use super::broker_proto::{Request, Response, RunAs, Secret, MAX_REQUEST};
use super::limiter::LoginLimiter;
use super::pam::PamError;

/// How long a login's grant to start the user's worker stays valid.
pub const GRANT_TTL: Duration = Duration::from_secs(60);

/// Who the broker is asked to start a worker as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartAs {
    /// The greeter user, with the host's greetd socket.
    Greeter { greetd_sock: String },
    /// A user who has just logged in (from `rhost`).
    User { user: String, rhost: IpAddr },
}

/// Starts and stops workers (processes as other users in the product; a stand-in in unit tests).
pub trait WorkerStarter: Send {
    /// Starts a worker for `session`; returns its pid and the read end of its exit socket.
    fn start(
        &mut self,
        who: &StartAs,
        session: u64,
        args: &[String],
        fds: [OwnedFd; 4],
    ) -> std::io::Result<(u32, OwnedFd)>;
    /// Kills a worker this starter started; false if it did not (or it ended).
    fn stop(&mut self, pid: u32) -> bool;
}

/// How a password is checked (PAM in the product, a stand-in in unit tests).
pub type Authenticator = Box<dyn Fn(&str, &Secret, IpAddr) -> Result<(), PamError> + Send>;

/// What the broker knows about a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Numeric user id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: String,
}

/// How users are looked up (the system's database in the product).
pub type Directory = Box<dyn Fn(&str) -> Option<Account> + Send>;

/// The system's user database (NSS).
pub fn system_directory() -> Directory {
    Box::new(|name| {
        let u = nix::unistd::User::from_name(name).ok()??;
        Some(Account { uid: u.uid.as_raw(), gid: u.gid.as_raw(), home: u.dir.to_string_lossy().into_owned() })
    })
}

/// PAM with service [`super::pam::SERVICE`].
pub fn pam_authenticator() -> Authenticator {
    Box::new(|user, password, rhost| super::pam::authenticate(super::pam::SERVICE, user, password, rhost))
}

/// The broker's state.
pub struct Broker {
    authenticate: Authenticator,
    directory: Directory,
    limiter: LoginLimiter,
    starter: Option<Box<dyn WorkerStarter>>,
    /// Grants of successful logins not used yet: grant → (user, client address, issued).
    grants: HashMap<String, (String, IpAddr, Instant)>,
}

impl Broker {
    /// A broker checking passwords with `authenticate` and finding users in `directory`.
    pub fn new(authenticate: Authenticator, directory: Directory) -> Self {
        Self { authenticate, directory, limiter: LoginLimiter::default(), starter: None, grants: HashMap::new() }
    }

    /// The same, also starting workers through `starter`.
    pub fn with_starter(mut self, starter: Box<dyn WorkerStarter>) -> Self {
        self.starter = Some(starter);
        self
    }

    /// Answers one request datagram that carried no descriptors.
    pub fn handle(&mut self, datagram: &[u8], now: Instant) -> Response {
        self.handle_with_fds(datagram, Vec::new(), now).0
    }

    /// Answers one request datagram with the descriptors it carried; the answer may carry one back.
    pub fn handle_with_fds(&mut self, datagram: &[u8], fds: Vec<OwnedFd>, now: Instant) -> (Response, Option<OwnedFd>) {
        match Request::decode(datagram) {
            Ok(Request::StartWorker { session, run_as, args }) => self.start_worker(session, run_as, &args, fds, now),
            Ok(Request::StopWorker { pid }) => {
                let stopped = self.starter.as_mut().is_some_and(|s| s.stop(pid));
                if !stopped {
                    tracing::warn!(pid, "broker: stop refused: not a running worker of this broker");
                    return (denied("not a running worker"), None);
                }
                (Response::Stopped, None)
            }
            _ => (self.handle_login(datagram, now), None),
        }
    }

    fn start_worker(
        &mut self,
        session: u64,
        run_as: RunAs,
        args: &[String],
        fds: Vec<OwnedFd>,
        now: Instant,
    ) -> (Response, Option<OwnedFd>) {
        let Ok(fds) = <[OwnedFd; 4]>::try_from(fds) else {
            tracing::warn!(session, "broker: start refused: a worker needs exactly four descriptors");
            return (denied("a worker needs exactly four descriptors"), None);
        };
        self.grants.retain(|_, (_, _, at)| now.duration_since(*at) < GRANT_TTL);
        let who = match run_as {
            RunAs::Greeter { greetd_sock } => StartAs::Greeter { greetd_sock },
            RunAs::User { user, grant } => match self.grants.remove(&grant) {
                Some((granted, rhost, _)) if granted == user => StartAs::User { user, rhost },
                _ => {
                    tracing::warn!(session, user, "broker: start refused: no valid grant for this user");
                    return (denied("no valid login for this user"), None);
                }
            },
        };
        let Some(starter) = self.starter.as_mut() else { return (denied("this broker starts no workers"), None) };
        match starter.start(&who, session, args, fds) {
            Ok((pid, exit)) => (Response::Started { pid }, Some(exit)),
            Err(e) => {
                tracing::error!(session, ?who, error = %e, "broker: the worker did not start");
                (denied(&format!("the worker did not start: {e}")), None)
            }
        }
    }

    fn handle_login(&mut self, datagram: &[u8], now: Instant) -> Response {
        let req = match Request::decode(datagram) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "broker: request refused");
                return Response::Denied { reason: e.to_string(), retry_after_ms: 0 };
            }
        };
        match req {
            Request::LookUp { user } => match (self.directory)(&user) {
                Some(a) => user_answer(user, a),
                None => {
                    tracing::warn!(user, "broker: lookup of an unknown user");
                    Response::Denied { reason: "no such user".into(), retry_after_ms: 0 }
                }
            },
            Request::StartWorker { .. } | Request::StopWorker { .. } => denied("not a login request"),
            Request::Authenticate { client, user, password, rhost } => {
                if let Some(wait) = self.limiter.wait(&client, &user, now) {
                    tracing::warn!(%rhost, client, user, wait_ms = wait.as_millis() as u64,
                        "broker: login attempt refused: too many failed logins");
                    return Response::Denied {
                        reason: super::broker_proto::TOO_MANY_FAILURES.into(),
                        retry_after_ms: wait.as_millis() as u64,
                    };
                }
                let checked = (self.authenticate)(&user, &password, rhost);
                let account = match checked {
                    Ok(()) => (self.directory)(&user).ok_or(PamError::Denied),
                    Err(e) => Err(e),
                };
                match account {
                    Ok(a) => {
                        self.limiter.succeeded(&client, &user);
                        tracing::info!(%rhost, client, user, uid = a.uid, "broker: login accepted");
                        let grant = hex::encode(rand::random::<[u8; 16]>());
                        self.grants.insert(grant.clone(), (user.clone(), rhost, now));
                        Response::User { user, uid: a.uid, gid: a.gid, home: a.home, grant: Some(grant) }
                    }
                    Err(e) => {
                        self.limiter.failed(&client, &user, now);
                        tracing::warn!(%rhost, client, user, error = %e, "broker: login failed");
                        let retry_after_ms = self.limiter.wait(&client, &user, now).map_or(0, |d| d.as_millis() as u64);
                        let reason = match e {
                            PamError::Denied => "wrong user name or password".to_string(),
                            other => other.to_string(),
                        };
                        Response::Denied { reason, retry_after_ms }
                    }
                }
            }
        }
    }

    /// Serves requests on `sock` until the host closes it.
    pub fn serve(&mut self, sock: &OwnedFd) -> std::io::Result<()> {
        let mut buf = vec![0u8; MAX_REQUEST + 1];
        loop {
            let (n, fds) = match receive(sock, &mut buf) {
                Ok((0, _)) => return Ok(()),
                Ok(got) => got,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let (answer, fd) = self.handle_with_fds(&buf[..n.min(buf.len())], fds, Instant::now());
            transmit(sock, &answer.encode(), fd.as_ref())?;
        }
    }
}

fn denied(reason: &str) -> Response {
    Response::Denied { reason: reason.to_string(), retry_after_ms: 0 }
}

fn user_answer(user: String, a: Account) -> Response {
    Response::User { user, uid: a.uid, gid: a.gid, home: a.home, grant: None }
}

/// Receives one datagram and the descriptors it carried (at most four are kept; more are closed).
pub fn receive(sock: &OwnedFd, buf: &mut [u8]) -> std::io::Result<(usize, Vec<OwnedFd>)> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(8))];
    let mut cmsg = RecvAncillaryBuffer::new(&mut space);
    let got = recvmsg(sock, &mut [IoSliceMut::new(buf)], &mut cmsg, RecvFlags::CMSG_CLOEXEC)?;
    let mut fds = Vec::new();
    for msg in cmsg.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = msg {
            fds.extend(received);
        }
    }
    Ok((got.bytes, fds))
}

/// Sends one datagram with `fds` attached.
pub fn transmit_fds(sock: &OwnedFd, bytes: &[u8], fds: &[std::os::fd::BorrowedFd<'_>]) -> std::io::Result<()> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(4))];
    let mut cmsg = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !cmsg.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::other("too many descriptors for one message"));
    }
    sendmsg(sock, &[IoSlice::new(bytes)], &mut cmsg, SendFlags::NOSIGNAL)?;
    Ok(())
}

fn transmit(sock: &OwnedFd, bytes: &[u8], fd: Option<&OwnedFd>) -> std::io::Result<()> {
    match fd {
        Some(fd) => transmit_fds(sock, bytes, &[fd.as_fd()]),
        None => transmit_fds(sock, bytes, &[]),
    }
}

/// The host's end: one request (with descriptors), one answer (with at most one); calls are serialised by
/// the caller.
pub fn call_with_fds(
    sock: &OwnedFd,
    req: &Request,
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> std::io::Result<(Response, Option<OwnedFd>)> {
    transmit_fds(sock, &req.encode(), fds)?;
    let mut buf = vec![0u8; 64 * 1024];
    let (n, mut got) = receive(sock, &mut buf)?;
    if n == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the broker is gone"));
    }
    let answer = Response::decode(&buf[..n]).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    Ok((answer, got.pop()))
}

/// [`call_with_fds`] without descriptors.
pub fn call(sock: &OwnedFd, req: &Request) -> std::io::Result<Response> {
    call_with_fds(sock, req, &[]).map(|(r, _)| r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::limiter::FIRST_DELAY;

    fn broker() -> Broker {
        Broker::new(
            Box::new(
                |user, pw, _| if user == "alice" && pw.expose() == "right" { Ok(()) } else { Err(PamError::Denied) },
            ),
            Box::new(|name| (name == "alice").then(|| Account { uid: 1001, gid: 1001, home: "/home/alice".into() })),
        )
    }

    fn auth(client: &str, user: &str, pw: &str) -> Vec<u8> {
        Request::Authenticate {
            client: client.into(),
            user: user.into(),
            password: Secret::new(pw),
            rhost: "127.0.0.1".parse().unwrap(),
        }
        .encode()
    }

    #[test]
    fn logins_failures_and_the_limit() {
        let mut b = broker();
        let t = Instant::now();
        assert!(matches!(b.handle(&auth("c1", "alice", "right"), t), Response::User { uid: 1001, .. }));
        for _ in 0..3 {
            assert!(matches!(b.handle(&auth("c1", "alice", "wrong"), t), Response::Denied { .. }));
        }
        // The fourth attempt in the minute is delayed, even with the right password.
        let Response::Denied { retry_after_ms, .. } = b.handle(&auth("c1", "alice", "right"), t) else { panic!() };
        assert_eq!(retry_after_ms, FIRST_DELAY.as_millis() as u64);
        assert!(matches!(b.handle(&auth("c1", "alice", "right"), t + FIRST_DELAY), Response::User { .. }));
    }

    #[test]
    fn malformed_requests_are_answered_not_obeyed() {
        let mut b = broker();
        let t = Instant::now();
        for bad in [&b"not json"[..], br#"{"op":"exec","cmd":"id"}"#, br#"{"op":"look_up","user":"Root"}"#, b""] {
            assert!(matches!(b.handle(bad, t), Response::Denied { .. }), "{}", String::from_utf8_lossy(bad));
        }
        assert!(matches!(
            b.handle(&Request::LookUp { user: "nobody-here".into() }.encode(), t),
            Response::Denied { .. }
        ));
    }

    /// Records what it was asked to start; stops only what it started.
    struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<(StartAs, u64)>>>);

    impl WorkerStarter for Recorder {
        fn start(
            &mut self,
            who: &StartAs,
            session: u64,
            _args: &[String],
            _fds: [OwnedFd; 4],
        ) -> std::io::Result<(u32, OwnedFd)> {
            self.0.lock().unwrap().push((who.clone(), session));
            let (a, _b) = std::os::unix::net::UnixStream::pair()?;
            Ok((4242, a.into()))
        }

        fn stop(&mut self, pid: u32) -> bool {
            pid == 4242
        }
    }

    fn four_fds() -> Vec<OwnedFd> {
        (0..4).map(|_| std::fs::File::open("/dev/null").unwrap().into()).collect()
    }

    fn start_as(run_as: RunAs) -> Vec<u8> {
        Request::StartWorker { session: 7, run_as, args: vec!["--encoder".into(), "software".into()] }.encode()
    }

    #[test]
    fn a_users_worker_needs_a_fresh_grant_of_that_user() {
        let started = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut b = broker().with_starter(Box::new(Recorder(started.clone())));
        let t = Instant::now();
        // No login, a made-up grant: refused.
        let forged = RunAs::User { user: "alice".into(), grant: "ab".repeat(16) };
        assert!(matches!(b.handle_with_fds(&start_as(forged), four_fds(), t).0, Response::Denied { .. }));
        let Response::User { grant: Some(grant), .. } = b.handle(&auth("c1", "alice", "right"), t) else { panic!() };
        // The grant is alice's: not bob's.
        let as_bob = RunAs::User { user: "bob".into(), grant: grant.clone() };
        assert!(matches!(b.handle_with_fds(&start_as(as_bob), four_fds(), t).0, Response::Denied { .. }));
        // A wrong user consumed it: single use, so alice needs a new login too.
        let as_alice = RunAs::User { user: "alice".into(), grant: grant.clone() };
        assert!(matches!(b.handle_with_fds(&start_as(as_alice), four_fds(), t).0, Response::Denied { .. }));
        let Response::User { grant: Some(grant), .. } = b.handle(&auth("c1", "alice", "right"), t) else { panic!() };
        let as_alice = RunAs::User { user: "alice".into(), grant: grant.clone() };
        // Descriptors are required; then it starts, and the answer carries the exit socket.
        assert!(matches!(b.handle_with_fds(&start_as(as_alice.clone()), Vec::new(), t).0, Response::Denied { .. }));
        let Response::User { grant: Some(grant), .. } = b.handle(&auth("c1", "alice", "right"), t) else { panic!() };
        let as_alice = RunAs::User { user: "alice".into(), grant };
        let (answer, exit) = b.handle_with_fds(&start_as(as_alice.clone()), four_fds(), t);
        assert_eq!(answer, Response::Started { pid: 4242 });
        assert!(exit.is_some());
        // Used once: a second start with it is refused.
        assert!(matches!(b.handle_with_fds(&start_as(as_alice), four_fds(), t).0, Response::Denied { .. }));
        // Grants expire.
        let Response::User { grant: Some(grant), .. } = b.handle(&auth("c1", "alice", "right"), t) else { panic!() };
        let late = RunAs::User { user: "alice".into(), grant };
        assert!(matches!(b.handle_with_fds(&start_as(late), four_fds(), t + GRANT_TTL).0, Response::Denied { .. }));
        let rhost: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(*started.lock().unwrap(), vec![(StartAs::User { user: "alice".into(), rhost }, 7)]);
        // Greeters need no grant; stopping works only for the starter's own workers.
        let greeter = RunAs::Greeter { greetd_sock: "/run/lumen/greetd/7-ab.sock".into() };
        assert!(matches!(b.handle_with_fds(&start_as(greeter), four_fds(), t).0, Response::Started { .. }));
        assert_eq!(b.handle(&Request::StopWorker { pid: 4242 }.encode(), t), Response::Stopped);
        assert!(matches!(b.handle(&Request::StopWorker { pid: 999 }.encode(), t), Response::Denied { .. }));
    }

    #[test]
    fn the_socket_loop_answers_each_request() {
        use rustix::net::{recv, send, socketpair, AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
        let (host, broker_end) =
            socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None).unwrap();
        let t = std::thread::spawn(move || broker().serve(&broker_end));
        let r = call(&host, &Request::LookUp { user: "alice".into() }).unwrap();
        assert!(matches!(r, Response::User { uid: 1001, .. }));
        send(&host, &vec![b'{'; MAX_REQUEST * 2], SendFlags::NOSIGNAL).unwrap();
        let mut buf = [0u8; 4096];
        let (n, _) = recv(&host, &mut buf, RecvFlags::empty()).unwrap();
        assert!(matches!(Response::decode(&buf[..n]).unwrap(), Response::Denied { .. }));
        drop(host);
        t.join().unwrap().unwrap();
    }
}
