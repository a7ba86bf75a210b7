//! Password checks through PAM (service `lumen`, `/etc/pam.d/lumen`) with the `nonstick` crate: one
//! transaction per attempt, `PAM_RHOST` set to the client's address (so `pam_faillock`, logs and
//! `pam_systemd` see where the login comes from), authenticate, then account management (expired or
//! locked accounts are refused). The password is handed to PAM's conversation only and never logged.

use std::ffi::{OsStr, OsString};
use std::net::IpAddr;

use nonstick::{AuthnFlags, ConversationAdapter, ErrorCode, Result as PamResult, Transaction, TransactionBuilder};

use super::broker_proto::Secret;

/// The PAM service lumen logs users in with.
pub const SERVICE: &str = "lumen";

/// Why PAM said no.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PamError {
    /// Wrong password, unknown user, or any refusal a module gives for authentication.
    #[error("authentication failed")]
    Denied,
    /// The account is expired, locked or needs a new password.
    #[error("the account cannot log in: {0}")]
    Account(String),
    /// PAM itself failed (no service file, a broken module).
    #[error("PAM failed: {0}")]
    System(String),
}

/// Answers PAM's prompts: the user name for a visible one, the password for a hidden one.
struct Answers<'a> {
    user: &'a str,
    password: &'a Secret,
}

impl ConversationAdapter for Answers<'_> {
    fn prompt(&self, _request: impl AsRef<OsStr>) -> PamResult<OsString> {
        Ok(OsString::from(self.user))
    }

    fn masked_prompt(&self, _request: impl AsRef<OsStr>) -> PamResult<OsString> {
        Ok(OsString::from(self.password.expose()))
    }

    fn error_msg(&self, message: impl AsRef<OsStr>) {
        tracing::debug!(message = %message.as_ref().to_string_lossy(), "PAM error message");
    }

    fn info_msg(&self, message: impl AsRef<OsStr>) {
        tracing::debug!(message = %message.as_ref().to_string_lossy(), "PAM info message");
    }
}

/// Checks `user`'s `password` with PAM service `service` for a login from `rhost`.
pub fn authenticate(service: &str, user: &str, password: &Secret, rhost: IpAddr) -> Result<(), PamError> {
    let answers = Answers { user, password };
    let mut tx = TransactionBuilder::new_with_service(service)
        .username(user)
        .build(answers.into_conversation())
        .map_err(|e| PamError::System(format!("pam_start({service}): {e}")))?;
    use nonstick::items::ItemsMut;
    use nonstick::PamShared;
    tx.items_mut()
        .set_remote_host(Some(OsStr::new(&rhost.to_string())))
        .map_err(|e| PamError::System(format!("PAM_RHOST: {e}")))?;
    match tx.authenticate(AuthnFlags::empty()) {
        Ok(()) => {}
        Err(ErrorCode::AuthenticationError | ErrorCode::UserUnknown | ErrorCode::MaxTries) => {
            return Err(PamError::Denied)
        }
        Err(ErrorCode::CredentialsInsufficient | ErrorCode::AuthInfoUnavailable) => return Err(PamError::Denied),
        Err(e) => return Err(PamError::System(format!("pam_authenticate: {e}"))),
    }
    match tx.account_management(AuthnFlags::empty()) {
        Ok(()) => Ok(()),
        Err(e @ (ErrorCode::AccountExpired | ErrorCode::NewAuthTokRequired | ErrorCode::PermissionDenied)) => {
            Err(PamError::Account(e.to_string()))
        }
        Err(ErrorCode::UserUnknown | ErrorCode::AuthenticationError) => Err(PamError::Denied),
        Err(e) => Err(PamError::System(format!("pam_acct_mgmt: {e}"))),
    }
}
