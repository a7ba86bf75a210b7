//! Spawning a worker process with its ends of the link and the audio link on `lumen_core::link::LINK_FD`
//! and `AUDIO_LINK_FD`, and reaping it: a watcher
//! thread waits for the exit and logs how it ended (a crash is logged with its signal). In system mode the
//! root broker starts the worker as another user ([`WorkerProcess::spawn_via_broker`]): the host passes
//! the worker's ends over and learns the exit from the broker's exit socket.

use std::ffi::OsString;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};

use super::video_link::VideoLink;

/// How to start a worker: the executable (this binary) and its arguments.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub exe: PathBuf,
    pub args: Vec<OsString>,
    /// Environment set for the worker (e.g. `PATH` with the set-up's Xwayland first).
    pub env: Vec<(OsString, OsString)>,
}

impl WorkerCommand {
    /// `current_exe() worker ARGS…`.
    pub fn this_binary(args: Vec<OsString>) -> std::io::Result<Self> {
        Ok(Self { exe: std::env::current_exe()?, args, env: Vec::new() })
    }
}

/// The host's ends of a worker's links: the link, the audio link and the video ring with its notices.
pub struct HostEnds {
    pub link: UnixStream,
    pub audio: UnixStream,
    pub video: VideoLink,
}

/// How a worker process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerExit {
    Code(i32),
    Signal(i32),
}

impl std::fmt::Display for WorkerExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkerExit::Code(c) => write!(f, "exit code {c}"),
            WorkerExit::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

type ExitState = Arc<(Mutex<Option<WorkerExit>>, Condvar)>;

/// A running worker process.
pub struct WorkerProcess {
    pub pid: u32,
    exit: ExitState,
    /// SIGKILL for it (a child of ours, or through the broker).
    kill: Box<dyn Fn() + Send + Sync>,
}

/// Puts a worker's four link descriptors (link, audio link, video ring, ring notices) on the numbers the
/// worker takes them from (`lumen_core::link::*_FD`) in the child `c` starts.
pub fn map_worker_fds(c: &mut Command, fds: [std::os::fd::OwnedFd; 4]) -> std::io::Result<()> {
    let [link, audio, ring, notices] = fds;
    c.fd_mappings(vec![
        FdMapping { parent_fd: link, child_fd: lumen_core::link::LINK_FD },
        FdMapping { parent_fd: audio, child_fd: lumen_core::link::AUDIO_LINK_FD },
        FdMapping { parent_fd: ring, child_fd: lumen_core::link::VIDEO_RING_FD },
        FdMapping { parent_fd: notices, child_fd: lumen_core::link::VIDEO_LINK_FD },
    ])
    .map(|_| ())
    .map_err(|e| std::io::Error::other(e.to_string()))
}

fn link_ends() -> std::io::Result<(HostEnds, [std::os::fd::OwnedFd; 4])> {
    let (host_end, worker_end) = UnixStream::pair()?;
    let (audio_host_end, audio_worker_end) = UnixStream::pair()?;
    let (video, video_worker) = VideoLink::create()?;
    Ok((
        HostEnds { link: host_end, audio: audio_host_end, video },
        [worker_end.into(), audio_worker_end.into(), video_worker.ring, video_worker.sock],
    ))
}

impl WorkerProcess {
    /// Starts the worker; returns it and the host's ends of its links.
    pub fn spawn(cmd: &WorkerCommand, session: u64) -> std::io::Result<(WorkerProcess, HostEnds)> {
        let (ends, worker_fds) = link_ends()?;
        let mut c = Command::new(&cmd.exe);
        c.args(&cmd.args).arg("--session").arg(session.to_string()).stdin(Stdio::null());
        c.envs(cmd.env.iter().map(|(k, v)| (k, v)));
        map_worker_fds(&mut c, worker_fds)?;
        let child = c.spawn()?;
        // The command still holds the worker's ends: dropping it closes ours, so EOF means the worker died.
        drop(c);
        let pid = child.id();
        tracing::info!(pid, session, "worker started");
        let exit = Arc::new((Mutex::new(None), Condvar::new()));
        let watch = exit.clone();
        std::thread::Builder::new().name("lumen-worker-wait".into()).spawn(move || reap(child, session, &watch))?;
        let kill = Box::new(move || {
            if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        });
        Ok((WorkerProcess { pid, exit, kill }, ends))
    }

    /// Asks the root broker to start the worker as `run_as` (system mode); returns it and the host's ends.
    pub fn spawn_via_broker(
        broker: &Arc<crate::login::client::BrokerClient>,
        run_as: crate::login::broker_proto::RunAs,
        args: Vec<String>,
        session: u64,
    ) -> std::io::Result<(WorkerProcess, HostEnds)> {
        use std::os::fd::AsFd;
        let (ends, worker_fds) = link_ends()?;
        let [a, b, c, d] = &worker_fds;
        let (pid, exit_sock) =
            broker.start_worker(session, run_as, args, [a.as_fd(), b.as_fd(), c.as_fd(), d.as_fd()])?;
        // Our copies of the worker's ends close here: EOF on the link means the worker died.
        drop(worker_fds);
        let exit: ExitState = Arc::new((Mutex::new(None), Condvar::new()));
        let watch = exit.clone();
        std::thread::Builder::new().name("lumen-worker-wait".into()).spawn(move || {
            let mut sock = UnixStream::from(exit_sock);
            let how = WorkerExit::read_from(&mut sock).unwrap_or(WorkerExit::Code(-1));
            log_exit(pid, session, &how);
            *watch.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(how);
            watch.1.notify_all();
        })?;
        let broker = broker.clone();
        let kill = Box::new(move || {
            if let Err(e) = broker.stop_worker(pid) {
                tracing::warn!(pid, error = %e, "the broker did not stop the worker");
            }
        });
        tracing::info!(pid, session, "worker started by the broker");
        Ok((WorkerProcess { pid, exit, kill }, ends))
    }

    /// How it ended, if it did.
    pub fn exited(&self) -> Option<WorkerExit> {
        self.exit.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits up to `timeout` for the exit; then kills it (SIGKILL) and waits for that.
    pub fn wait_or_kill(&self, timeout: Duration) -> Option<WorkerExit> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.exit;
        let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
        while g.is_none() {
            let now = Instant::now();
            if now >= deadline {
                tracing::warn!(pid = self.pid, "worker did not exit in time: killing it");
                drop(g);
                (self.kill)();
                g = m.lock().unwrap_or_else(|e| e.into_inner());
                let (g2, _) = cv.wait_timeout(g, Duration::from_secs(2)).unwrap_or_else(|e| e.into_inner());
                return g2.clone();
            }
            g = cv.wait_timeout(g, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        g.clone()
    }
}

fn log_exit(pid: u32, session: u64, how: &WorkerExit) {
    match how {
        WorkerExit::Code(0) => tracing::info!(pid, session, "worker exited"),
        other => tracing::error!(pid, session, how = %other, "worker crashed or failed: its session ends"),
    }
}

impl WorkerExit {
    /// How a child ended, from its wait status (`Code(-1)` when waiting failed).
    pub fn of(status: std::io::Result<std::process::ExitStatus>) -> Self {
        match status {
            Ok(st) => match (st.code(), st.signal()) {
                (Some(c), _) => WorkerExit::Code(c),
                (None, Some(s)) => WorkerExit::Signal(s),
                (None, None) => WorkerExit::Code(-1),
            },
            Err(e) => {
                tracing::warn!(error = %e, "waiting for the worker failed");
                WorkerExit::Code(-1)
            }
        }
    }

    /// Five bytes for the broker's exit socket: 0 + code or 1 + signal (little-endian `i32`).
    pub fn to_bytes(&self) -> [u8; 5] {
        let (kind, value) = match self {
            WorkerExit::Code(c) => (0u8, *c),
            WorkerExit::Signal(s) => (1, *s),
        };
        let mut msg = [kind, 0, 0, 0, 0];
        msg[1..].copy_from_slice(&value.to_le_bytes());
        msg
    }

    /// Reads [`Self::to_bytes`] (blocks until the worker ended); `None` if the socket closed without it.
    pub fn read_from(sock: &mut impl std::io::Read) -> Option<Self> {
        let mut msg = [0u8; 5];
        sock.read_exact(&mut msg).ok()?;
        let value = i32::from_le_bytes([msg[1], msg[2], msg[3], msg[4]]);
        Some(if msg[0] == 1 { WorkerExit::Signal(value) } else { WorkerExit::Code(value) })
    }
}

fn reap(mut child: Child, session: u64, exit: &(Mutex<Option<WorkerExit>>, Condvar)) {
    let pid = child.id();
    let how = WorkerExit::of(child.wait());
    log_exit(pid, session, &how);
    *exit.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(how);
    exit.1.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_cross_the_brokers_socket_unchanged() {
        for how in [WorkerExit::Code(0), WorkerExit::Code(-1), WorkerExit::Code(137), WorkerExit::Signal(9)] {
            assert_eq!(WorkerExit::read_from(&mut &how.to_bytes()[..]), Some(how.clone()));
        }
        assert_eq!(WorkerExit::read_from(&mut &[0u8, 1][..]), None);
    }
}
