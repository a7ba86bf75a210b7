//! The worker's end of the link: the Unix socket the host passed as descriptor 3 at spawn.
#![allow(unsafe_code)] // a named exception to the workspace `unsafe_code = "deny"` (allowlisted in tests/tidy)

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;

/// Takes descriptor `fd` as the link, after checking that it is an open socket. Call once.
pub fn take_link(fd: i32) -> std::io::Result<UnixStream> {
    let meta = std::fs::metadata(format!("/proc/self/fd/{fd}")).map_err(|e| {
        std::io::Error::other(format!("descriptor {fd} is not open ({e}): workers are started by the host"))
    })?;
    if !meta.file_type().is_socket() {
        return Err(std::io::Error::other(format!("descriptor {fd} is not a socket: workers are started by the host")));
    }
    // SAFETY: `fd` is open and a socket (checked above): the one the host mapped for this process. Nothing
    // else in the worker owns it and this function is called once, so the `OwnedFd` is its only owner.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(UnixStream::from(owned))
}
