//! Per-app log files: a launched app's stdout and stderr go to a file of their own,
//! `<dir>/<app>-<pid>.log` (`dir` is `<state dir>/logs` in `lumen-session`), so the host's log carries only
//! the host's lines. The file is opened before the spawn (under a temporary name, since the pid is not known
//! yet) and renamed once the process exists; the app keeps writing to the same open file. Only the newest
//! [`KEEP`] logs of a directory are kept.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How many app logs a directory keeps (the oldest beyond this are removed when an app starts).
pub const KEEP: usize = 50;

/// An app log opened for a process that is about to be spawned.
pub struct AppLog {
    dir: PathBuf,
    name: String,
    pending: PathBuf,
    file: File,
}

/// The file-name stem of an app: the base name of the first word of `cmd` that is not an environment
/// assignment, reduced to `[A-Za-z0-9._-]` (`"FOO=1 /usr/bin/foot -e sh"` → `foot`).
pub fn app_name(cmd: &str) -> String {
    let word = cmd.split_whitespace().find(|w| !w.contains('=')).unwrap_or("app");
    let base = word.rsplit('/').next().unwrap_or(word);
    let name: String = base
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .take(40)
        .collect();
    let name = name.trim_start_matches('.');
    if name.is_empty() {
        "app".into()
    } else {
        name.into()
    }
}

impl AppLog {
    /// Creates `dir` (0700) and a fresh log file in it for `cmd`.
    pub fn open(dir: &Path, cmd: &str) -> std::io::Result<AppLog> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).recursive(true).create(dir)?;
        prune(dir, KEEP.saturating_sub(1));
        let name = app_name(cmd);
        let pending = tempfile_name(dir, &name);
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&pending)?;
        Ok(AppLog { dir: dir.to_path_buf(), name, pending, file })
    }

    /// Points `cmd`'s stdout and stderr at the log file.
    pub fn attach(&self, cmd: &mut Command) -> std::io::Result<()> {
        cmd.stdout(Stdio::from(self.file.try_clone()?)).stderr(Stdio::from(self.file.try_clone()?));
        Ok(())
    }

    /// The process exists: the file gets its final name `<app>-<pid>.log`, which is returned.
    pub fn started(self, pid: u32) -> PathBuf {
        let path = self.dir.join(format!("{}-{pid}.log", self.name));
        match std::fs::rename(&self.pending, &path) {
            Ok(()) => path,
            Err(e) => {
                tracing::debug!(error = %e, "app log keeps its temporary name");
                self.pending.clone()
            }
        }
    }

    /// The spawn failed: the empty file goes.
    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.pending);
    }
}

/// `Command` set-up for an app launched with logs in `dir` (or inheriting the host's streams when `None` or
/// when the file cannot be created, which is logged).
pub fn prepare(dir: Option<&Path>, cmd_line: &str, cmd: &mut Command) -> Option<AppLog> {
    let dir = dir?;
    let log = match AppLog::open(dir, cmd_line) {
        Ok(log) => log,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "no app log file: the app's output goes to the host's");
            return None;
        }
    };
    match log.attach(cmd) {
        Ok(()) => Some(log),
        Err(e) => {
            tracing::warn!(error = %e, "no app log file: the app's output goes to the host's");
            log.abandon();
            None
        }
    }
}

fn tempfile_name(dir: &Path, name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}-starting-{}-{n}.log", std::process::id()))
}

/// Removes the oldest `*.log` files of `dir` beyond the newest `keep`.
fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut logs: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if logs.len() <= keep {
        return;
    }
    logs.sort();
    for (_, path) in &logs[..logs.len() - keep] {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_command() {
        assert_eq!(app_name("foot"), "foot");
        assert_eq!(app_name("FOO=1 /usr/bin/weston-simple-shm --x"), "weston-simple-shm");
        assert_eq!(app_name("sh -c 'sleep 4'"), "sh");
        assert_eq!(app_name("  "), "app");
        assert_eq!(app_name("../.."), "app");
        assert_eq!(app_name("a$b"), "a_b");
    }

    #[test]
    fn an_app_writes_to_its_own_file_and_old_logs_are_pruned() {
        let dir = std::env::temp_dir().join(format!("lumen-applog-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("echo out; echo err >&2");
        let log = prepare(Some(&dir), "sh -c x", &mut cmd).expect("log opened");
        let mut child = cmd.spawn().unwrap();
        let path = log.started(child.id());
        child.wait().unwrap();
        assert_eq!(path, dir.join(format!("sh-{}.log", child.id())));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "out\nerr\n");

        for i in 0..5 {
            std::fs::write(dir.join(format!("old-{i}.log")), "").unwrap();
        }
        prune(&dir, 3);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
