//! The user's PAM session (service `lumen`), through libpam's C API: `pam_open_session` is not in the
//! `nonstick` crate's application API, so this thin module calls it directly. Used only by the session
//! helper ([`super::session_helper`]), a fresh single-threaded root process per user session: `PAM_RHOST` is
//! the client's address, `XDG_SESSION_TYPE=wayland` and `XDG_SESSION_CLASS=user` go into PAM's environment
//! (what `pam_systemd` registers with logind; no seat is set), then credentials, then the session; PAM's
//! environment list (`XDG_SESSION_ID`, `XDG_RUNTIME_DIR` from `pam_systemd`) comes back for the user's process.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_void, CStr, CString};
use std::ptr;

use libpam_sys as sys;

use super::pam::PamError;

/// PAM may talk to nobody here: the password was checked at the greeter; a module asking now is refused.
unsafe extern "C" fn no_conversation(
    _num_msg: c_int,
    _msg: *const *const sys::pam_message,
    _resp: *mut *mut sys::pam_response,
    _appdata: *mut c_void,
) -> c_int {
    sys::PAM_CONV_ERR
}

fn cstring(s: &str, what: &str) -> Result<CString, PamError> {
    CString::new(s).map_err(|_| PamError::System(format!("{what} contains NUL")))
}

/// An open PAM session; [`Self::close`] ends it.
pub struct OpenSession {
    handle: *mut sys::pam_handle,
    /// Kept alive for as long as PAM may call it (Linux-PAM keeps a pointer to it).
    _conv: Box<sys::pam_conv>,
}

impl OpenSession {
    /// Starts a transaction for `user` and opens its session; `env` goes into PAM's environment first.
    pub fn open(service: &str, user: &str, rhost: &str, env: &[(&str, &str)]) -> Result<Self, PamError> {
        let (service, user, rhost) = (cstring(service, "service")?, cstring(user, "user")?, cstring(rhost, "rhost")?);
        let mut conv = Box::new(sys::pam_conv { conv: no_conversation, appdata_ptr: ptr::null_mut() });
        let mut handle: *mut sys::pam_handle = ptr::null_mut();
        // SAFETY: the strings are NUL-terminated and live through the call; `conv` is boxed and kept in the
        // returned value for the transaction's life; `handle` receives the new transaction.
        let rc = unsafe { sys::pam_start(service.as_ptr(), user.as_ptr(), &mut *conv, &mut handle) };
        if rc != sys::PAM_SUCCESS || handle.is_null() {
            return Err(PamError::System(format!("pam_start: {rc}")));
        }
        let session = Self { handle, _conv: conv };
        // SAFETY: `handle` is a live transaction; PAM copies the item.
        let rc = unsafe { sys::pam_set_item(handle, sys::PAM_RHOST, rhost.as_ptr().cast()) };
        session.check(rc, "PAM_RHOST")?;
        for (k, v) in env {
            let kv = cstring(&format!("{k}={v}"), "environment")?;
            // SAFETY: live transaction; PAM copies the string.
            let rc = unsafe { sys::pam_putenv(handle, kv.as_ptr()) };
            session.check(rc, "pam_putenv")?;
        }
        // SAFETY: live transaction.
        let rc = unsafe { sys::pam_setcred(handle, sys::PAM_ESTABLISH_CRED) };
        session.check(rc, "pam_setcred")?;
        // SAFETY: live transaction.
        let rc = unsafe { sys::pam_open_session(handle, 0) };
        session.check(rc, "pam_open_session")?;
        Ok(session)
    }

    fn check(&self, rc: c_int, what: &str) -> Result<(), PamError> {
        if rc == sys::PAM_SUCCESS {
            return Ok(());
        }
        // SAFETY: pam_strerror returns a static string (or null) for any code.
        let msg = unsafe { sys::pam_strerror(self.handle, rc) };
        let msg = if msg.is_null() {
            format!("error {rc}")
        } else {
            // SAFETY: non-null, NUL-terminated, static.
            unsafe { CStr::from_ptr(msg) }.to_string_lossy().into_owned()
        };
        Err(PamError::System(format!("{what}: {msg}")))
    }

    /// PAM's environment list (`KEY=VALUE`), for the session's process.
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        // SAFETY: live transaction; the list and its strings are ours to free (malloc'd by PAM).
        let list = unsafe { sys::pam_getenvlist(self.handle) };
        if list.is_null() {
            return out;
        }
        let mut i = 0;
        loop {
            // SAFETY: the list is NULL-terminated; `i` stops at the terminator.
            let entry = unsafe { *list.add(i) };
            if entry.is_null() {
                break;
            }
            // SAFETY: a NUL-terminated string PAM allocated.
            let text = unsafe { CStr::from_ptr(entry) }.to_string_lossy().into_owned();
            // SAFETY: malloc'd by PAM and ours; freed once, after reading it.
            unsafe { libc::free(entry.cast()) };
            if let Some((k, v)) = text.split_once('=') {
                out.push((k.to_string(), v.to_string()));
            }
            i += 1;
        }
        // SAFETY: the array itself, malloc'd by PAM, freed once.
        unsafe { libc::free(list.cast()) };
        out
    }

    /// Closes the session, deletes the credentials and ends the transaction.
    pub fn close(self) -> Result<(), PamError> {
        // SAFETY: live transaction, ended exactly once here (`self` is consumed; no Drop runs pam_end).
        let rc = unsafe { sys::pam_close_session(self.handle, 0) };
        let closed = self.check(rc, "pam_close_session");
        // SAFETY: as above.
        unsafe { sys::pam_setcred(self.handle, sys::PAM_DELETE_CRED) };
        // SAFETY: as above; the handle is not used after this.
        unsafe { sys::pam_end(self.handle, rc) };
        closed
    }
}
