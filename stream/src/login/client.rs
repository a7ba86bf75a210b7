//! The host's end of the broker: typed calls over the `SOCK_SEQPACKET` socket, one at a time.

use std::net::IpAddr;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Mutex;

use super::broker::{call, call_with_fds};
use super::broker_proto::{Request, Response, RunAs, Secret};

/// What a login attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Accepted: the user's uid and the grant to start their worker.
    Accepted { uid: u32, grant: String },
    /// Refused: why (for the greeter) and how long to wait before the next attempt counts.
    Refused { reason: String, retry_after_ms: u64 },
}

/// The host's handle on the broker.
pub struct BrokerClient {
    sock: Mutex<OwnedFd>,
}

fn broker_error(what: &str, r: Response) -> std::io::Error {
    match r {
        Response::Denied { reason, .. } => {
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, format!("{what}: {reason}"))
        }
        other => std::io::Error::other(format!("{what}: unexpected answer {other:?}")),
    }
}

impl BrokerClient {
    /// Over the host's end of the socket pair.
    pub fn new(sock: OwnedFd) -> Self {
        Self { sock: Mutex::new(sock) }
    }

    fn locked(&self) -> std::sync::MutexGuard<'_, OwnedFd> {
        self.sock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks `user`'s password for `client` (from `rhost`).
    pub fn authenticate(
        &self,
        client: &str,
        user: &str,
        password: &str,
        rhost: IpAddr,
    ) -> std::io::Result<LoginOutcome> {
        let req = Request::Authenticate {
            client: client.to_string(),
            user: user.to_string(),
            password: Secret::new(password),
            rhost,
        };
        match call(&self.locked(), &req)? {
            Response::User { uid, grant: Some(grant), .. } => Ok(LoginOutcome::Accepted { uid, grant }),
            Response::Denied { reason, retry_after_ms } => Ok(LoginOutcome::Refused { reason, retry_after_ms }),
            other => Err(broker_error("login", other)),
        }
    }

    /// Starts a worker for `session` as `run_as` with its four link descriptors; returns its pid and exit socket.
    pub fn start_worker(
        &self,
        session: u64,
        run_as: RunAs,
        args: Vec<String>,
        fds: [BorrowedFd<'_>; 4],
    ) -> std::io::Result<(u32, OwnedFd)> {
        let req = Request::StartWorker { session, run_as, args };
        match call_with_fds(&self.locked(), &req, &fds)? {
            (Response::Started { pid }, Some(exit)) => Ok((pid, exit)),
            (r, _) => Err(broker_error("starting the worker", r)),
        }
    }

    /// Kills a worker the broker started.
    pub fn stop_worker(&self, pid: u32) -> std::io::Result<()> {
        match call(&self.locked(), &Request::StopWorker { pid })? {
            Response::Stopped => Ok(()),
            r => Err(broker_error("stopping the worker", r)),
        }
    }
}
