//! lumen's PAM password check (`login::pam::authenticate`) against real Linux-PAM, with the test users of
//! `pam_wrapper`'s `pam_matrix` module instead of the machine's accounts: the test re-runs itself under
//! `LD_PRELOAD=libpam_wrapper.so` with a `lumen` service file of its own (package `libpam-wrapper`, installed
//! by `scripts/deps/login.apt`).

use std::path::Path;
use std::process::Command;

use lumen_stream::login::broker_proto::Secret;
use lumen_stream::login::pam::{authenticate, PamError, SERVICE};
use lumen_stream::login::pam_session::OpenSession;

const WRAPPER: &str = "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so";
const MATRIX: &str = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so";
const PAM_ENV: &str = "/lib/x86_64-linux-gnu/security/pam_env.so";
const TEST: &str = "passwords_go_through_the_lumen_pam_service";

#[test]
fn passwords_go_through_the_lumen_pam_service() {
    if std::env::var_os("PAM_WRAPPER").is_none() {
        assert!(Path::new(WRAPPER).exists(), "{WRAPPER} missing: run scripts/setup.sh (libpam-wrapper)");
        let dir = tempfile::tempdir().unwrap();
        let passdb = dir.path().join("passdb");
        std::fs::write(&passdb, format!("alice:wonderland:{SERVICE}\nbob:builder:{SERVICE}\n")).unwrap();
        let envfile = dir.path().join("environment");
        std::fs::write(&envfile, "LUMEN_PAM_TEST=from-pam\n").unwrap();
        let rules = format!(
            "auth required {MATRIX} passdb={p}\naccount required {MATRIX} passdb={p}\nsession required {MATRIX} \
             passdb={p}\nsession required {PAM_ENV} envfile={e} conffile=/dev/null user_readenv=0\n",
            p = passdb.display(),
            e = envfile.display()
        );
        std::fs::write(dir.path().join(SERVICE), rules).unwrap();
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
            .env("LD_PRELOAD", WRAPPER)
            .env("PAM_WRAPPER", "1")
            .env("PAM_WRAPPER_SERVICE_DIR", dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "the run under pam_wrapper failed");
        return;
    }
    let here = "127.0.0.1".parse().unwrap();
    assert_eq!(authenticate(SERVICE, "alice", &Secret::new("wonderland"), here), Ok(()));
    assert_eq!(authenticate(SERVICE, "bob", &Secret::new("builder"), "::1".parse().unwrap()), Ok(()));
    assert_eq!(authenticate(SERVICE, "alice", &Secret::new("builder"), here), Err(PamError::Denied));
    assert_eq!(authenticate(SERVICE, "mallory", &Secret::new("x"), here), Err(PamError::Denied));
    assert!(authenticate("no-such-service", "alice", &Secret::new("wonderland"), here).is_err());
    // The session the PAM session helper opens: our items in, the modules' environment out, then closed.
    let session = OpenSession::open(SERVICE, "alice", "127.0.0.1", &[("XDG_SESSION_TYPE", "wayland")]).unwrap();
    let env = session.environment();
    assert!(env.contains(&("XDG_SESSION_TYPE".into(), "wayland".into())), "{env:?}");
    assert!(env.contains(&("LUMEN_PAM_TEST".into(), "from-pam".into())), "{env:?}");
    session.close().unwrap();
    assert!(OpenSession::open("no-such-service", "alice", "::1", &[]).is_err());
}
