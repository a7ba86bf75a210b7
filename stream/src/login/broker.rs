//! The root broker's request loop: one `SOCK_SEQPACKET` socket to the unprivileged host, one request
//! datagram in, one answer datagram out. [`Broker::handle`] does the work without I/O: validate
//! ([`Request::decode`]), apply the failed-login limit ([`LoginLimiter`]), ask PAM, look the user up.
//! Every refusal is logged with the client's address and the user name — never the password.

use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::time::Instant;

use rustix::net::{recv, send, RecvFlags, SendFlags};

use super::broker_proto::{Request, Response, Secret, MAX_REQUEST};
use super::limiter::LoginLimiter;
use super::pam::PamError;

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
}

impl Broker {
    /// A broker checking passwords with `authenticate` and finding users in `directory`.
    pub fn new(authenticate: Authenticator, directory: Directory) -> Self {
        Self { authenticate, directory, limiter: LoginLimiter::default() }
    }

    /// Answers one request datagram.
    pub fn handle(&mut self, datagram: &[u8], now: Instant) -> Response {
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
            Request::Authenticate { client, user, password, rhost } => {
                if let Some(wait) = self.limiter.wait(&client, &user, now) {
                    tracing::warn!(%rhost, client, user, wait_ms = wait.as_millis() as u64,
                        "broker: login attempt refused: too many failed logins");
                    return Response::Denied {
                        reason: "too many failed logins: wait before trying again".into(),
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
                        user_answer(user, a)
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
            let n = match recv(sock, &mut buf, RecvFlags::empty()) {
                Ok((0, _)) => return Ok(()),
                Ok((n, _)) => n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            let answer = self.handle(&buf[..n.min(buf.len())], Instant::now()).encode();
            send(sock, &answer, SendFlags::NOSIGNAL)?;
        }
    }
}

fn user_answer(user: String, a: Account) -> Response {
    Response::User { user, uid: a.uid, gid: a.gid, home: a.home }
}

/// The host's end: one request, one answer (calls are serialised by the caller).
pub fn call(sock: &OwnedFd, req: &Request) -> std::io::Result<Response> {
    send(sock, &req.encode(), SendFlags::NOSIGNAL)?;
    let mut buf = vec![0u8; 64 * 1024];
    let (n, _) = recv(sock, &mut buf, RecvFlags::empty())?;
    if n == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the broker is gone"));
    }
    Response::decode(&buf[..n]).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
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

    #[test]
    fn the_socket_loop_answers_each_request() {
        use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};
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
