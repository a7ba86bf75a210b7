//! Failed logins, rate-limited per client and per user: three failures within a minute are free (typos);
//! from then on each attempt must wait — 5 s after the third failure, doubling with each further one up to
//! five minutes — until a minute passes without failures or a login succeeds. An attempt during the wait is
//! refused without asking PAM. Time is passed in (no clock here).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Failures allowed in a [`WINDOW`] before attempts are delayed.
pub const FREE_FAILURES: usize = 3;
/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);
/// The wait after the first failure past the free ones.
pub const FIRST_DELAY: Duration = Duration::from_secs(5);
/// The longest wait.
pub const MAX_DELAY: Duration = Duration::from_secs(300);
/// Keys remembered at most (the oldest are forgotten; a bound against memory abuse).
const MAX_KEYS: usize = 4096;

#[derive(Debug, Default)]
struct Record {
    failures: Vec<Instant>,
    not_before: Option<Instant>,
}

/// Failure records keyed by `client:<id>` and `user:<name>`.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    records: HashMap<String, Record>,
}

impl LoginLimiter {
    /// How long an attempt by `client` for `user` must still wait (`None`: it may go ahead now).
    pub fn wait(&mut self, client: &str, user: &str, now: Instant) -> Option<Duration> {
        [format!("client:{client}"), format!("user:{user}")]
            .iter()
            .filter_map(|k| self.records.get(k)?.not_before)
            .filter(|t| *t > now)
            .map(|t| t - now)
            .max()
    }

    /// Records a failed attempt.
    pub fn failed(&mut self, client: &str, user: &str, now: Instant) {
        if self.records.len() >= MAX_KEYS {
            self.forget_old(now);
        }
        for k in [format!("client:{client}"), format!("user:{user}")] {
            let r = self.records.entry(k).or_default();
            r.failures.retain(|t| now.duration_since(*t) < WINDOW);
            r.failures.push(now);
            let over = (r.failures.len() + 1).saturating_sub(FREE_FAILURES);
            if over > 0 {
                let delay = FIRST_DELAY.saturating_mul(1 << (over - 1).min(16)).min(MAX_DELAY);
                r.not_before = Some(now + delay);
            }
        }
    }

    /// Records a successful login: the client's and the user's records are cleared.
    pub fn succeeded(&mut self, client: &str, user: &str) {
        self.records.remove(&format!("client:{client}"));
        self.records.remove(&format!("user:{user}"));
    }

    fn forget_old(&mut self, now: Instant) {
        self.records.retain(|_, r| {
            r.failures.last().is_some_and(|t| now.duration_since(*t) < WINDOW) || r.not_before.is_some_and(|t| t > now)
        });
        if self.records.len() >= MAX_KEYS {
            self.records.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_failures_are_free_the_fourth_attempt_waits() {
        let mut l = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(l.wait("c1", "alice", t0), None, "attempt {i}");
            l.failed("c1", "alice", t0);
        }
        assert_eq!(l.wait("c1", "alice", t0), Some(FIRST_DELAY), "the fourth waits");
        // Another client for the same user waits too (the user is under attack), a third user does not.
        assert!(l.wait("c2", "alice", t0).is_some());
        assert_eq!(l.wait("c2", "bob", t0), None);
        // After the wait the attempt may go; a further failure doubles it.
        let t1 = t0 + FIRST_DELAY;
        assert_eq!(l.wait("c1", "alice", t1), None);
        l.failed("c1", "alice", t1);
        assert_eq!(l.wait("c1", "alice", t1), Some(FIRST_DELAY * 2));
        // Success clears it.
        l.succeeded("c1", "alice");
        assert_eq!(l.wait("c1", "alice", t1), None);
    }

    #[test]
    fn failures_age_out_of_the_window() {
        let mut l = LoginLimiter::default();
        let t0 = Instant::now();
        l.failed("c", "u", t0);
        l.failed("c", "u", t0);
        let later = t0 + WINDOW + Duration::from_secs(1);
        l.failed("c", "u", later);
        l.failed("c", "u", later);
        assert_eq!(l.wait("c", "u", later), None, "only two in the last minute");
    }

    #[test]
    fn delays_are_capped() {
        let mut l = LoginLimiter::default();
        let t = Instant::now();
        for _ in 0..40 {
            l.failed("c", "u", t);
        }
        assert_eq!(l.wait("c", "u", t), Some(MAX_DELAY));
    }
}
