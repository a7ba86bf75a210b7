//! Privilege separation's system calls, in one thin module: forking the root broker off the host before any
//! thread starts, the host dropping to its system user for good, and a child process dropping to a user
//! (supplementary groups, group, user) between `fork` and `exec`.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use nix::unistd::{Gid, Uid};

/// A user to become: ids and the supplementary groups (looked up before forking: nothing that reads files
/// or allocates may run between `fork` and `exec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

impl Credentials {
    /// `name`'s ids and every group it is a member of (`getgrouplist`).
    pub fn of(name: &str, uid: u32, gid: u32) -> std::io::Result<Self> {
        let cname = CString::new(name).map_err(|_| std::io::Error::other("a user name with NUL"))?;
        let groups = nix::unistd::getgrouplist(&cname, Gid::from_raw(gid)).map_err(std::io::Error::from)?;
        Ok(Self { uid, gid, groups: groups.into_iter().map(Gid::as_raw).collect() })
    }
}

/// Forks: `Some(child's pid)` in the parent, `None` in the child.
///
/// Call only while the process has one thread (at start, before the runtime, logging or EGL start any).
pub fn fork_process() -> std::io::Result<Option<u32>> {
    // SAFETY: the caller runs this while the process is single-threaded (documented above; the host forks
    // the broker first thing in `main`), so the child may do anything, not only async-signal-safe calls.
    match unsafe { nix::unistd::fork() }.map_err(std::io::Error::from)? {
        nix::unistd::ForkResult::Parent { child } => Ok(Some(child.as_raw() as u32)),
        nix::unistd::ForkResult::Child => Ok(None),
    }
}

/// Drops this process to `who` for good (groups, then group, then user; no way back).
pub fn become_user(who: &Credentials) -> std::io::Result<()> {
    let groups: Vec<Gid> = who.groups.iter().copied().map(Gid::from_raw).collect();
    nix::unistd::setgroups(&groups).map_err(std::io::Error::from)?;
    nix::unistd::setresgid(Gid::from_raw(who.gid), Gid::from_raw(who.gid), Gid::from_raw(who.gid))
        .map_err(std::io::Error::from)?;
    nix::unistd::setresuid(Uid::from_raw(who.uid), Uid::from_raw(who.uid), Uid::from_raw(who.uid))
        .map_err(std::io::Error::from)?;
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() && who.uid != 0 {
        return Err(std::io::Error::other("root privileges could be regained after dropping them"));
    }
    Ok(())
}

/// Makes `cmd`'s child drop to `who` right before `exec`.
pub fn exec_as(cmd: &mut Command, who: &Credentials) {
    let groups: Vec<Gid> = who.groups.iter().copied().map(Gid::from_raw).collect();
    let (uid, gid) = (Uid::from_raw(who.uid), Gid::from_raw(who.gid));
    // SAFETY: the closure runs in the forked child before exec and makes only async-signal-safe system calls
    // (setgroups, setresgid, setresuid) on memory prepared before the fork; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setgroups(&groups)?;
            nix::unistd::setresgid(gid, gid, gid)?;
            nix::unistd::setresuid(uid, uid, uid)?;
            Ok(())
        });
    }
}
