//! `lumen-session --system`: the login host's start. As root, first thing in `main` (one thread): look up the
//! host's system user (`lumen`) and the greeter's (`lumen-greeter`), make the runtime directories, fork the
//! **broker** (stays root: PAM, starting workers as users; [`super::broker`]) with a `SOCK_SEQPACKET` pair,
//! then drop the host to its user for good. Everything network-facing runs in the unprivileged host.

use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rustix::net::{socketpair, AddressFamily, SocketFlags, SocketType};

use super::broker::{pam_authenticator, system_directory, Broker};
use super::client::BrokerClient;
use super::privsep::{become_user, fork_process};
use super::spawn::{Identity, Launcher, SystemStarter};

/// The system mode's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct SystemArgs {
    /// Run as the machine's login host (as root, e.g. from the systemd unit): a root broker does PAM and
    /// starts each session as its user; the network-facing host drops to --host-user; a client with no
    /// session sees a greeter first (docs/login.md).
    #[arg(long)]
    pub system: bool,
    /// The unprivileged user the host runs as.
    #[arg(long, default_value = "lumen", value_name = "USER", requires = "system")]
    pub host_user: String,
    /// The user greeter sessions run as.
    #[arg(long, default_value = "lumen-greeter", value_name = "USER", requires = "system")]
    pub greeter_user: String,
    /// Runtime directory: the host's sockets, and users' `XDG_RUNTIME_DIR`s where logind is absent.
    #[arg(long, default_value = "/run/lumen", value_name = "DIR", requires = "system")]
    pub runtime_dir: PathBuf,
    /// The greeter (any greetd greeter; `GREETD_SOCK` is set for it).
    #[arg(long, default_value = "foot -e agreety --cmd lumen-session", value_name = "CMD", requires = "system")]
    pub greeter: String,
    /// What a user's session runs after login (default: the first Wayland session installed in
    /// /usr/share/wayland-sessions, else foot).
    #[arg(long, value_name = "CMD", requires = "system")]
    pub user_session: Option<String>,
    /// Whether a client bound to a user may reattach that user's running session without a password.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL", requires = "system")]
    pub reattach_without_password: bool,
}

/// The host's side of the system mode, after the fork and the drop.
pub struct SystemMode {
    pub broker: Arc<BrokerClient>,
    /// Where the host makes each greeter's greetd socket (reachable by the greeter user, not listable).
    pub greetd_dir: PathBuf,
    pub greeter: String,
    pub user_session: String,
    pub reattach_without_password: bool,
}

/// Forks the broker and drops this process to the host user. `state_dir` is handed to that user;
/// `init_logging` runs in the broker once forked.
pub fn enter(args: &SystemArgs, state_dir: &Path, init_logging: fn()) -> anyhow::Result<SystemMode> {
    anyhow::ensure!(nix::unistd::geteuid().is_root(), "--system must start as root (the broker needs it)");
    let host = Identity::look_up(&args.host_user)
        .with_context(|| format!("the host's user {:?} (scripts/setup.sh creates it)", args.host_user))?;
    let greeter = Identity::look_up(&args.greeter_user)
        .with_context(|| format!("the greeter's user {:?} (scripts/setup.sh creates it)", args.greeter_user))?;
    anyhow::ensure!(host.creds.uid != 0 && greeter.creds.uid != 0, "the host and greeter users must not be root");
    let base = &args.runtime_dir;
    make_dir(base, 0o755, None)?;
    make_dir(&base.join("host"), 0o700, Some(&host))?;
    let greetd_dir = base.join("greetd");
    make_dir(&greetd_dir, 0o711, Some(&host))?;
    make_dir(state_dir, 0o700, Some(&host))?;
    hand_to(state_dir, &host)?;
    let exe = std::env::current_exe().context("finding this binary")?;
    let (host_end, broker_end) = socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)
        .context("the broker's socket pair")?;
    let runtime_base = base.clone();
    let Some(pid) = fork_process().context("forking the broker")? else {
        drop(host_end);
        init_logging();
        std::process::exit(run_broker(broker_end, exe, runtime_base, greeter));
    };
    drop(broker_end);
    become_user(&host.creds).with_context(|| format!("dropping to the user {}", host.name))?;
    std::env::set_var("XDG_RUNTIME_DIR", base.join("host"));
    std::env::set_var("HOME", &host.home);
    std::env::set_var("USER", &host.name);
    let user_session = args.user_session.clone().unwrap_or_else(default_user_session);
    eprintln!(
        "lumen: system mode: host runs as {} (uid {}), broker pid {pid} as root; greeter user {}; sessions run {}",
        host.name, host.creds.uid, args.greeter_user, user_session
    );
    Ok(SystemMode {
        broker: Arc::new(BrokerClient::new(host_end)),
        greetd_dir,
        greeter: args.greeter.clone(),
        user_session,
        reattach_without_password: args.reattach_without_password,
    })
}

fn run_broker(sock: OwnedFd, exe: PathBuf, runtime_base: PathBuf, greeter: Identity) -> i32 {
    let launcher = Launcher { exe, runtime_base, running: Arc::new(Mutex::new(Default::default())) };
    let mut broker = Broker::new(pam_authenticator(), system_directory())
        .with_starter(Box::new(SystemStarter { launcher, greeter }));
    tracing::info!(pid = std::process::id(), "broker: serving the host (root)");
    match broker.serve(&sock) {
        Ok(()) => {
            tracing::info!("broker: the host closed its socket: exiting");
            0
        }
        Err(e) => {
            tracing::error!(error = %e, "broker: the host's socket failed");
            1
        }
    }
}

fn make_dir(dir: &Path, mode: u32, owner: Option<&Identity>) -> anyhow::Result<()> {
    match std::fs::DirBuilder::new().mode(mode).recursive(true).create(dir) {
        Ok(()) => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    if let Some(o) = owner {
        std::os::unix::fs::lchown(dir, Some(o.creds.uid), Some(o.creds.gid))
            .with_context(|| format!("handing {} to {}", dir.display(), o.name))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).with_context(|| format!("{}", dir.display()))
}

/// Gives the state directory's files (and its `logs/`) to the host user (a first start as root left them
/// root's).
fn hand_to(dir: &Path, who: &Identity) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?.flatten() {
        let path = entry.path();
        std::os::unix::fs::lchown(&path, Some(who.creds.uid), Some(who.creds.gid))
            .with_context(|| format!("handing {} to {}", path.display(), who.name))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            hand_to(&path, who)?;
        }
    }
    Ok(())
}

/// The first Wayland session installed (`Exec=` of /usr/share/wayland-sessions/*.desktop), else foot.
pub fn default_user_session() -> String {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/share/wayland-sessions")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "desktop"))
        .collect();
    found.sort();
    found
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find_map(|text| session_exec(&text))
        .unwrap_or_else(|| "foot".to_string())
}

/// The `Exec=` line of a session's `.desktop` entry.
fn session_exec(desktop: &str) -> Option<String> {
    desktop.lines().find_map(|l| l.strip_prefix("Exec=")).map(|e| e.trim().to_string()).filter(|e| !e.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_entry_gives_its_command() {
        assert_eq!(session_exec("[Desktop Entry]\nName=Sway\nExec=sway\n").as_deref(), Some("sway"));
        assert_eq!(session_exec("[Desktop Entry]\nName=x\n"), None);
        assert_eq!(session_exec("Exec=\n"), None);
    }

    #[test]
    fn system_mode_refuses_to_start_without_root_or_users() {
        let args = SystemArgs {
            system: true,
            host_user: "no-such-user-lumen".into(),
            greeter_user: "no-such-greeter".into(),
            runtime_dir: std::env::temp_dir().join("lumen-never"),
            greeter: "agreety".into(),
            user_session: None,
            reattach_without_password: true,
        };
        let err = enter(&args, &std::env::temp_dir().join("lumen-never-state"), || {}).err().unwrap();
        let msg = format!("{err:#}");
        assert!(msg.contains("root") || msg.contains("no-such-user-lumen"), "{msg}");
    }
}
