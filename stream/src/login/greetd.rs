//! The greetd IPC protocol (greetd-ipc(7)), lumen's own types: a greeter (agreety, gtkgreet, …) talks to
//! whoever listens on `GREETD_SOCK` with messages of a native-endian `u32` length followed by that many bytes
//! of UTF-8 JSON. The broker plays greetd's part for the greeter worker of a session, so any greetd greeter
//! works. (The `greetd_ipc` crate is GPL-3.0; these ~dozen types are written from the manual.)

use serde::{Deserialize, Serialize};

/// Largest message accepted (a greeter's requests are small; a bigger length is an error, not an allocation).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// What a greeter asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Start logging in `username`.
    CreateSession {
        /// The user's name.
        username: String,
    },
    /// The answer to the last `auth_message` (`None` for an info/error message).
    PostAuthMessageResponse {
        /// The answer (a password: never logged).
        #[serde(default)]
        response: Option<String>,
    },
    /// Start the authenticated user's session with this command and extra environment.
    StartSession {
        /// The command (greeters pass their `--cmd`).
        #[serde(default)]
        cmd: Vec<String>,
        /// `KEY=VALUE` entries.
        #[serde(default)]
        env: Vec<String>,
    },
    /// Give up the login in progress.
    CancelSession,
}

/// Kind of an authentication prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMessageType {
    /// Echo the answer (a user name, an OTP).
    Visible,
    /// Hide the answer (a password).
    Secret,
    /// Show it; no answer.
    Info,
    /// Show it as an error; no answer.
    Error,
}

/// Kind of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// Authentication failed (wrong password, unknown user).
    AuthError,
    /// Anything else.
    Error,
}

/// What the greeter is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    /// The request succeeded.
    Success,
    /// It failed.
    Error {
        /// Why, broadly.
        error_type: ErrorType,
        /// For the user.
        description: String,
    },
    /// A prompt to show (and answer with `post_auth_message_response`).
    AuthMessage {
        /// How to show it.
        auth_message_type: AuthMessageType,
        /// The prompt text.
        auth_message: String,
    },
}

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IpcError {
    /// The socket failed or closed.
    #[error("greetd ipc: {0}")]
    Io(#[from] std::io::Error),
    /// The length field is over [`MAX_MESSAGE`].
    #[error("greetd ipc: a message of {0} bytes (at most {MAX_MESSAGE})")]
    TooLarge(usize),
    /// Not a message of the protocol.
    #[error("greetd ipc: not a greetd message: {0}")]
    Json(#[from] serde_json::Error),
}

/// Writes one message (length + JSON).
pub fn write<T: Serialize>(w: &mut impl std::io::Write, msg: &T) -> Result<(), IpcError> {
    let body = serde_json::to_vec(msg)?;
    w.write_all(&(body.len() as u32).to_ne_bytes())?;
    w.write_all(&body)?;
    w.flush()?;
    Ok(())
}

/// Reads one message; `Ok(None)` when the peer closed between messages.
pub fn read<T: for<'de> Deserialize<'de>>(r: &mut impl std::io::Read) -> Result<Option<T>, IpcError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let n = u32::from_ne_bytes(len) as usize;
    if n > MAX_MESSAGE {
        return Err(IpcError::TooLarge(n));
    }
    let mut body = vec![0u8; n];
    r.read_exact(&mut body)?;
    Ok(Some(serde_json::from_slice(&body)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_look_as_the_manual_says() {
        let j = serde_json::to_string(&Request::CreateSession { username: "alice".into() }).unwrap();
        assert_eq!(j, r#"{"type":"create_session","username":"alice"}"#);
        let r: Request = serde_json::from_str(r#"{"type":"post_auth_message_response","response":"pw"}"#).unwrap();
        assert_eq!(r, Request::PostAuthMessageResponse { response: Some("pw".into()) });
        let r: Request = serde_json::from_str(r#"{"type":"start_session","cmd":["sway"],"env":[]}"#).unwrap();
        assert_eq!(r, Request::StartSession { cmd: vec!["sway".into()], env: vec![] });
        let j = serde_json::to_string(&Response::AuthMessage {
            auth_message_type: AuthMessageType::Secret,
            auth_message: "Password: ".into(),
        })
        .unwrap();
        assert_eq!(j, r#"{"type":"auth_message","auth_message_type":"secret","auth_message":"Password: "}"#);
        let j = serde_json::to_string(&Response::Error { error_type: ErrorType::AuthError, description: "no".into() })
            .unwrap();
        assert_eq!(j, r#"{"type":"error","error_type":"auth_error","description":"no"}"#);
    }

    #[test]
    fn framing_round_trips_and_refuses_huge_lengths() {
        let mut buf = Vec::new();
        write(&mut buf, &Request::CancelSession).unwrap();
        write(&mut buf, &Response::Success).unwrap();
        let mut r = buf.as_slice();
        assert_eq!(read::<Request>(&mut r).unwrap(), Some(Request::CancelSession));
        assert_eq!(read::<Response>(&mut r).unwrap(), Some(Response::Success));
        assert!(read::<Request>(&mut r).unwrap().is_none());
        let mut huge = (u32::MAX).to_ne_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        assert!(matches!(read::<Request>(&mut huge.as_slice()), Err(IpcError::TooLarge(_))));
        let mut junk = 5u32.to_ne_bytes().to_vec();
        junk.extend_from_slice(b"hello");
        assert!(matches!(read::<Request>(&mut junk.as_slice()), Err(IpcError::Json(_))));
    }
}
