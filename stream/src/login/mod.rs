//! Per-user remote login (issue 15): the pieces of the system mode's root broker and its greeter — the
//! greetd IPC protocol greeters speak ([`greetd`]), the broker's tiny typed request set ([`broker_proto`]),
//! password checks through PAM ([`pam`]) and the per-client/per-user limit on failed logins ([`limiter`]).
//! `docs/login.md` says what is built and what is not yet.

pub mod broker;
pub mod broker_proto;
pub mod client;
pub mod greetd;
pub mod greeter;
pub mod limiter;
pub mod pam;
pub mod pam_session;
pub mod privsep;
pub mod session_helper;
pub mod spawn;
pub mod system;
