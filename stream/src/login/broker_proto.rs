//! The broker's request set: what the unprivileged host may ask the root broker, and the answers. Tiny and
//! typed: every request is one `SOCK_SEQPACKET` datagram of JSON (`deny_unknown_fields`), decoded and then
//! validated ([`Request::decode`]) before the broker acts; anything else is refused with a reason and a log
//! line, never a panic. User names follow Debian's `NAME_REGEX` (`[a-z_][a-z0-9_-]*[$]?`, at most 32 bytes).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Largest request datagram (a password of 1 KiB and a name of 32 bytes fit many times over).
pub const MAX_REQUEST: usize = 8 * 1024;
/// Longest password accepted (longer ones are refused before PAM sees them).
pub const MAX_PASSWORD: usize = 1024;
/// Longest client id (a certificate fingerprint in hex).
pub const MAX_CLIENT_ID: usize = 128;
/// Most worker arguments, and the longest one.
pub const MAX_ARGS: usize = 64;
/// Longest worker argument (an app command line).
pub const MAX_ARG: usize = 4096;
/// Longest socket path (`sun_path` holds 108 bytes with the NUL).
pub const MAX_SOCK_PATH: usize = 107;
/// The refusal of an attempt made while the failed-login limit says wait (PAM was not asked).
pub const TOO_MANY_FAILURES: &str = "too many failed logins: wait before trying again";
/// Length of a grant: 128 random bits in hex.
pub const GRANT_LEN: usize = 32;

/// A password: kept out of `Debug` and logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The password, for PAM's conversation only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// What the host asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Check a user's password for a client (rate-limited per client and per user).
    Authenticate {
        /// The paired client (its certificate's fingerprint).
        client: String,
        /// The user's login name.
        user: String,
        /// The password typed at the greeter.
        password: Secret,
        /// The client's address (`PAM_RHOST`).
        rhost: IpAddr,
    },
    /// Look a user up without a password (a bound client reattaching, `--user` binding).
    LookUp {
        /// The user's login name.
        user: String,
    },
    /// Start a session's worker (`lumen-session worker ARGS --session N`) as the greeter user or as a user who
    /// just logged in (`grant` from that login's answer, single use). The datagram carries the worker's four
    /// link descriptors (`SCM_RIGHTS`: link, audio link, video ring, ring notices); the answer carries one back:
    /// the read end of a socket on which the broker writes how the worker ended.
    StartWorker {
        /// The host's session id.
        session: u64,
        /// Who the worker runs as.
        run_as: RunAs,
        /// The worker's arguments after `worker` (the host's session flags; `--session` is the broker's).
        args: Vec<String>,
    },
    /// Kill a worker this broker started (a hand-over's old worker that does not end by itself).
    StopWorker {
        /// Its process id (refused unless the broker started it and it still runs).
        pid: u32,
    },
}

/// Who a worker runs as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RunAs {
    /// The greeter user, its greeter talking greetd IPC on `greetd_sock` (a socket the host listens on).
    Greeter {
        /// Absolute path of the host's greetd socket for this session.
        greetd_sock: String,
    },
    /// A user who logged in: the grant of that login.
    User {
        /// The login name.
        user: String,
        /// The single-use grant from the `user` answer.
        grant: String,
    },
}

/// What the broker answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case", deny_unknown_fields)]
pub enum Response {
    /// The user is who they say (or exists, for `LookUp`).
    User {
        /// Login name.
        user: String,
        /// Numeric ids.
        uid: u32,
        /// Primary group.
        gid: u32,
        /// Home directory.
        home: String,
        /// After a password check: the single-use grant to start this user's worker (60 s).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grant: Option<String>,
    },
    /// A worker started (the exit socket rides along).
    Started {
        /// Its process id.
        pid: u32,
    },
    /// A worker was sent SIGKILL.
    Stopped,
    /// Refused: wrong password, unknown user, too many attempts (`retry_after_ms` > 0), bad request.
    Denied {
        /// For the greeter and the log (never says which of name or password was wrong).
        reason: String,
        /// How long the client must wait before the next attempt counts.
        retry_after_ms: u64,
    },
}

/// Why a request was refused before anything was done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Larger than [`MAX_REQUEST`].
    #[error("request of {0} bytes (at most {MAX_REQUEST})")]
    TooLarge(usize),
    /// Not JSON of a known request.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// A field out of bounds.
    #[error("invalid {field}: {why}")]
    Invalid {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
}

/// Whether `name` is a login name lumen accepts (Debian's default `NAME_REGEX`, ≤ 32 bytes).
pub fn valid_user_name(name: &str) -> bool {
    let b = name.as_bytes();
    let body = b.strip_suffix(b"$").unwrap_or(b);
    !b.is_empty()
        && b.len() <= 32
        && !body.is_empty()
        && (body[0].is_ascii_lowercase() || body[0] == b'_')
        && body.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

impl Request {
    /// Decodes and validates one datagram.
    pub fn decode(b: &[u8]) -> Result<Self, RequestError> {
        if b.len() > MAX_REQUEST {
            return Err(RequestError::TooLarge(b.len()));
        }
        let r: Request = serde_json::from_slice(b).map_err(|e| RequestError::Malformed(e.to_string()))?;
        r.validate()?;
        Ok(r)
    }

    /// The datagram.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    fn validate(&self) -> Result<(), RequestError> {
        let user = match self {
            Request::Authenticate { client, user, password, .. } => {
                if client.is_empty() || client.len() > MAX_CLIENT_ID || !client.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return Err(RequestError::Invalid { field: "client", why: "1-128 hex digits" });
                }
                let p = password.expose();
                if p.is_empty() || p.len() > MAX_PASSWORD || p.contains('\0') {
                    return Err(RequestError::Invalid { field: "password", why: "1-1024 bytes, no NUL" });
                }
                user
            }
            Request::LookUp { user } => user,
            Request::StartWorker { session, run_as, args } => {
                if *session == 0 {
                    return Err(RequestError::Invalid { field: "session", why: "session ids start at 1" });
                }
                validate_args(args)?;
                match run_as {
                    RunAs::Greeter { greetd_sock } => return validate_sock_path(greetd_sock),
                    RunAs::User { user, grant } => {
                        if grant.len() != GRANT_LEN || !grant.bytes().all(|c| c.is_ascii_hexdigit()) {
                            return Err(RequestError::Invalid { field: "grant", why: "32 hex digits" });
                        }
                        user
                    }
                }
            }
            Request::StopWorker { pid } => {
                return match *pid {
                    0 | 1 => Err(RequestError::Invalid { field: "pid", why: "not a worker" }),
                    _ => Ok(()),
                };
            }
        };
        if !valid_user_name(user) {
            return Err(RequestError::Invalid { field: "user", why: "not a login name" });
        }
        Ok(())
    }
}

fn validate_args(args: &[String]) -> Result<(), RequestError> {
    if args.len() > MAX_ARGS {
        return Err(RequestError::Invalid { field: "args", why: "at most 64 arguments" });
    }
    if args.iter().any(|a| a.len() > MAX_ARG || a.contains('\0')) {
        return Err(RequestError::Invalid { field: "args", why: "each at most 4096 bytes, no NUL" });
    }
    if args.iter().any(|a| a == "--session" || a.starts_with("--session=")) {
        return Err(RequestError::Invalid { field: "args", why: "--session is the broker's" });
    }
    Ok(())
}

fn validate_sock_path(p: &str) -> Result<(), RequestError> {
    let path = std::path::Path::new(p);
    let plain = path.components().all(|c| matches!(c, std::path::Component::RootDir | std::path::Component::Normal(_)));
    if !path.is_absolute() || !plain || p.len() > MAX_SOCK_PATH || p.contains('\0') {
        return Err(RequestError::Invalid {
            field: "greetd_sock",
            why: "an absolute path without .., at most 107 bytes",
        });
    }
    Ok(())
}

impl Response {
    /// The datagram.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads the broker's answer.
    pub fn decode(b: &[u8]) -> Result<Self, RequestError> {
        serde_json::from_slice(b).map_err(|e| RequestError::Malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn auth(user: &str, password: &str) -> Request {
        Request::Authenticate {
            client: "ab12".into(),
            user: user.into(),
            password: Secret::new(password),
            rhost: "127.0.0.1".parse().unwrap(),
        }
    }

    #[test]
    fn user_names() {
        for ok in ["alice", "_svc", "bob-2", "m$", "a"] {
            assert!(valid_user_name(ok), "{ok}");
        }
        for bad in ["", "Alice", "1x", "-x", "a b", "a/b", "$", "ä", &"a".repeat(33), "root\n"] {
            assert!(!valid_user_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn requests_round_trip_and_passwords_stay_out_of_debug() {
        let r = auth("alice", "s3cret!");
        assert_eq!(Request::decode(&r.encode()), Ok(r.clone()));
        assert!(!format!("{r:?}").contains("s3cret"));
        let l = Request::LookUp { user: "bob".into() };
        assert_eq!(Request::decode(&l.encode()), Ok(l));
    }

    #[test]
    fn malformed_and_invalid_requests_are_refused() {
        assert!(matches!(Request::decode(b"{"), Err(RequestError::Malformed(_))));
        assert!(matches!(Request::decode(br#"{"op":"run_shell","cmd":"sh"}"#), Err(RequestError::Malformed(_))));
        assert!(matches!(
            Request::decode(br#"{"op":"look_up","user":"bob","uid":0}"#),
            Err(RequestError::Malformed(_))
        ));
        assert!(matches!(Request::decode(&vec![b' '; MAX_REQUEST + 1]), Err(RequestError::TooLarge(_))));
        assert!(matches!(Request::decode(&auth("../etc", "x").encode()), Err(RequestError::Invalid { .. })));
        assert!(matches!(Request::decode(&auth("alice", "").encode()), Err(RequestError::Invalid { .. })));
        assert!(matches!(Request::decode(&auth("alice", "a\0b").encode()), Err(RequestError::Invalid { .. })));
        let long = "x".repeat(MAX_PASSWORD + 1);
        assert!(matches!(Request::decode(&auth("alice", &long).encode()), Err(RequestError::Invalid { .. })));
    }

    #[test]
    fn worker_requests_are_validated() {
        let start = |run_as: RunAs, args: Vec<String>| Request::StartWorker { session: 3, run_as, args };
        let greeter = |p: &str| RunAs::Greeter { greetd_sock: p.into() };
        let ok = start(greeter("/run/lumen/greetd/3-ab.sock"), vec!["--encoder".into(), "software".into()]);
        assert_eq!(Request::decode(&ok.encode()), Ok(ok));
        for bad in [
            start(greeter("relative.sock"), vec![]),
            start(greeter("/run/lumen/../etc/shadow"), vec![]),
            start(greeter(&format!("/{}", "x".repeat(200))), vec![]),
            start(greeter("/ok.sock"), vec!["--session".into(), "9".into()]),
            start(greeter("/ok.sock"), vec!["a\0b".into()]),
            start(greeter("/ok.sock"), vec!["x".into(); MAX_ARGS + 1]),
            start(RunAs::User { user: "alice".into(), grant: "short".into() }, vec![]),
            start(RunAs::User { user: "Root".into(), grant: "a".repeat(GRANT_LEN) }, vec![]),
            Request::StartWorker { session: 0, run_as: greeter("/ok.sock"), args: vec![] },
            Request::StopWorker { pid: 1 },
        ] {
            assert!(matches!(Request::decode(&bad.encode()), Err(RequestError::Invalid { .. })), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn any_worker_request_is_valid_or_refused(
            path in "[a-z/.]{0,120}",
            args in proptest::collection::vec("[ -~]{0,20}", 0..70),
            grant in "[0-9a-fx]{0,40}",
            user in "[a-zA-Z0-9_./-]{0,34}",
            session in 0u64..4,
        ) {
            for run_as in [RunAs::Greeter { greetd_sock: path.clone() }, RunAs::User { user: user.clone(), grant: grant.clone() }] {
                let r = Request::StartWorker { session, run_as, args: args.clone() };
                match Request::decode(&r.encode()) {
                    Ok(d) => {
                        prop_assert_eq!(&d, &r);
                        prop_assert!(session > 0 && args.len() <= MAX_ARGS);
                        prop_assert!(!args.iter().any(|a| a == "--session" || a.starts_with("--session=")));
                    }
                    Err(e) => {
                        let invalid = matches!(e, RequestError::Invalid { .. });
                        prop_assert!(invalid, "{:?}", e);
                    }
                }
            }
        }

        #[test]
        fn any_bytes_decode_without_panicking(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            // Either refused, or a request that passed validation.
            if let Ok(r) = Request::decode(&b) {
                prop_assert!(r.validate().is_ok());
            }
        }

        #[test]
        fn any_json_shaped_request_is_valid_or_refused(
            user in "[a-zA-Z0-9_$./ -]{0,40}",
            password in ".{0,64}",
            client in "[0-9a-fA-Fg-z]{0,140}",
        ) {
            let r = Request::Authenticate {
                client: client.clone(),
                user: user.clone(),
                password: Secret::new(password.clone()),
                rhost: "::1".parse().unwrap(),
            };
            match Request::decode(&r.encode()) {
                Ok(d) => {
                    prop_assert_eq!(d, r);
                    prop_assert!(valid_user_name(&user));
                    prop_assert!(!password.is_empty() && !client.is_empty());
                }
                Err(e) => {
                    let invalid = matches!(e, RequestError::Invalid { .. });
                    prop_assert!(invalid, "{:?}", e);
                }
            }
        }
    }
}
