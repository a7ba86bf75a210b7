//! Pads seen only by their own session. The worker moves into a mount namespace of its own at start
//! ([`isolate`], before any thread) and mounts an empty tmpfs on `/dev/input`; the apps it starts inherit
//! that view. Each pad's nodes (`eventN`, `jsN`) are then bind-mounted into it from the real directory when
//! the pad appears ([`expose`]) and unmounted when it goes ([`Exposed`]'s drop). So an app of one session
//! cannot open another session's pads (nor the machine's own keyboards and mice), whatever their
//! permissions; this needs no root (a user namespace maps only the worker's own ids). Limits: `/sys` and
//! `/proc/bus/input` still list every device, and hidraw nodes (in `/dev`) are not hidden; the udev rule
//! in `docs/gamepads.md` keeps them from other users.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags};
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

/// The directory games open pads in.
const INPUT_DIR: &str = "/dev/input";
/// The real `/dev/input`, opened before the tmpfs hid it (bind sources are `/proc/self/fd/<fd>/<node>`).
static REAL_INPUT_DIR: OnceLock<OwnedFd> = OnceLock::new();

/// Whether this process has its own mount namespace (by [`isolate`] or [`hide`]).
static PRIVATE_NAMESPACE: OnceLock<()> = OnceLock::new();

fn private_namespace() -> std::io::Result<()> {
    if PRIVATE_NAMESPACE.get().is_some() {
        return Ok(());
    }
    super::unshare::private_mounts()?;
    // Nothing mounted from now on reaches the parent namespace.
    rustix::mount::mount_change("/", MountPropagationFlags::REC | MountPropagationFlags::PRIVATE)?;
    let _ = PRIVATE_NAMESPACE.set(());
    Ok(())
}

/// Hides `dirs` from this process and its apps behind empty read-only tmpfs mounts (system mode's greeter
/// sees none of the users' homes). Single-threaded callers only, like [`isolate`].
pub fn hide(dirs: &[PathBuf]) -> std::io::Result<()> {
    private_namespace()?;
    let flags = MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    for d in dirs.iter().filter(|d| d.is_dir()) {
        rustix::mount::mount("tmpfs", d, "tmpfs", flags, c"mode=0755,size=4k")?;
    }
    Ok(())
}

/// Gives the session's apps a `/dev/input` of their own (see the module docs). Call first thing in the
/// worker: the namespace needs a single-threaded process. A failure is returned for the log; pads then
/// work but every app of the user can see them.
pub fn isolate() -> std::io::Result<()> {
    private_namespace()?;
    let real = rustix::fs::open(INPUT_DIR, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
    rustix::mount::mount("tmpfs", INPUT_DIR, "tmpfs", MountFlags::NOSUID | MountFlags::NOEXEC, c"mode=0755,size=64k")?;
    let _ = REAL_INPUT_DIR.set(real);
    Ok(())
}

/// Whether [`isolate`] succeeded in this process.
pub fn isolated() -> bool {
    REAL_INPUT_DIR.get().is_some()
}

/// The nodes of one pad made visible in the session; hidden again when dropped.
#[derive(Debug, Default)]
pub struct Exposed(Vec<PathBuf>);

impl Exposed {
    /// Node names (`event5`, `js0`, …).
    pub fn nodes(&self) -> Vec<String> {
        self.0.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect()
    }
}

impl Drop for Exposed {
    fn drop(&mut self) {
        for p in &self.0 {
            if let Err(e) = rustix::mount::unmount(p, UnmountFlags::DETACH) {
                tracing::debug!(node = %p.display(), error = %e, "gamepad: unmounting a pad node");
            }
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Makes visible in the session the nodes of every input device whose name is `name` or starts with
/// `name ` (a DualSense's motion sensors and touchpad), waiting up to `wait` for `count` devices (drivers
/// bind after the pad is created). Without [`isolate`] there is nothing to do.
pub fn expose(name: &str, count: usize, wait: Duration) -> Exposed {
    let Some(real) = REAL_INPUT_DIR.get() else { return Exposed::default() };
    let deadline = Instant::now() + wait;
    let mut devices = matching_devices(name);
    while devices.len() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5)); // the poll interval while the driver binds
        devices = matching_devices(name);
    }
    if devices.len() < count {
        tracing::warn!(name, found = devices.len(), count, "gamepad: not every node of the pad appeared in time");
    }
    let mut exposed = Exposed::default();
    for dev in devices {
        for node in child_nodes(&dev) {
            let target = Path::new(INPUT_DIR).join(&node);
            let source = format!("/proc/self/fd/{}/{node}", real.as_raw_fd());
            let made = std::fs::File::create(&target)
                .and_then(|_| rustix::mount::mount_bind(source.as_str(), &target).map_err(Into::into));
            match made {
                Ok(()) => exposed.0.push(target),
                Err(e) => {
                    tracing::warn!(node, error = %e, "gamepad: the pad node could not be shown to the session");
                    let _ = std::fs::remove_file(&target);
                }
            }
        }
    }
    tracing::debug!(name, nodes = ?exposed.nodes(), "gamepad: pad nodes visible to the session");
    exposed
}

/// `/sys/class/input/inputN` of the devices named `name` or `name …`.
fn matching_devices(name: &str) -> Vec<PathBuf> {
    let Ok(dir) = std::fs::read_dir("/sys/class/input") else { return Vec::new() };
    dir.flatten()
        .map(|e| e.path())
        .filter(|p| {
            std::fs::read_to_string(p.join("name")).is_ok_and(|n| {
                let n = n.trim_end_matches('\n');
                n == name || n.strip_prefix(name).is_some_and(|rest| rest.starts_with(' '))
            })
        })
        .collect()
}

/// The `eventN` and `jsN` nodes of one input device.
fn child_nodes(dev: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(dev) else { return Vec::new() };
    dir.flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("event") || n.starts_with("js"))
        .collect()
}
