//! `unshare(2)` of the mount namespace (and, without root, a user namespace that maps only the caller's own
//! ids), the one system call of [`super::confine`] that rustix marks unsafe.
#![allow(unsafe_code)]

use rustix::thread::UnshareFlags;

/// Moves this process into a mount namespace of its own; without root, inside a new user namespace where
/// it keeps its uid and gid (so files it creates stay its own) and gains the right to mount there.
/// Fails (EINVAL) once the process has a second thread.
pub fn private_mounts() -> std::io::Result<()> {
    let (uid, gid) = (rustix::process::geteuid(), rustix::process::getegid());
    let flags = if uid.is_root() { UnshareFlags::NEWNS } else { UnshareFlags::NEWNS | UnshareFlags::NEWUSER };
    // SAFETY: `unshare_unsafe` is unsafe only for `UnshareFlags::FILES` (threads could then see descriptors
    // from a table they no longer share); these flags leave the descriptor table shared.
    unsafe { rustix::thread::unshare_unsafe(flags) }?;
    if !uid.is_root() {
        std::fs::write("/proc/self/setgroups", "deny")?;
        std::fs::write("/proc/self/uid_map", format!("{0} {0} 1", uid.as_raw()))?;
        std::fs::write("/proc/self/gid_map", format!("{0} {0} 1", gid.as_raw()))?;
    }
    Ok(())
}
