//! Who may pair, with which PIN: the pairing requests waiting for the owner, the attempts in progress, the
//! owner's PIN, and the per-source failure limit (issue 11, items 1 and 2).
//!
//! * Every attempt is tied to its client: the `uniqueid` it sent **and** the address it came from
//!   ([`AttemptKey`]), plus the device name for the owner's eyes. Stages 2–4 and `/unpair` reach only the
//!   attempt with their own key, so nobody can cancel or disturb another client's attempt.
//! * A stage-1 request waits ([`Waiting`]) until the owner gives a PIN *to that request*
//!   ([`PairingGate::give_pin`]); with several waiting the owner must pick one. A PIN armed while nobody waits
//!   (`pin` with no request, `--pin` at start) goes to the next request and expires after
//!   [`PairingPolicy::pin_ttl`].
//! * A second stage 1 with the key of an attempt that is waiting or in progress is answered "already in
//!   progress" and changes nothing.
//! * Failures (a wrong PIN seen at stage 4, stages out of order, malformed stage data) are counted per source
//!   address; only that address is locked out. `/unpair` never counts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::pairing::PairingAttempt;

/// How long an armed PIN lasts when nobody picks it up.
pub const DEFAULT_PIN_TTL: Duration = Duration::from_secs(120);
/// Stage-1 requests that may wait for a PIN at once, from one address.
pub const MAX_WAITING_PER_SOURCE: usize = 4;
/// Stage-1 requests that may wait for a PIN at once, in all.
pub const MAX_WAITING: usize = 32;
/// Addresses whose failures are remembered (the oldest entries are forgotten beyond this).
const MAX_SOURCES: usize = 4096;

/// Pairing policy.
#[derive(Debug, Clone, Copy)]
pub struct PairingPolicy {
    /// Failed attempts from one address tolerated before that address is locked out.
    pub max_failures: u32,
    /// How long an address stays locked after `max_failures` failures (doubles on each further failure).
    pub lockout: Duration,
    /// How long stage 1 waits for the owner to give a PIN.
    pub pin_wait: Duration,
    /// How long an unfinished attempt (after stage 1) may last.
    pub attempt_timeout: Duration,
    /// How long a PIN armed for "the next request" stays armed.
    pub pin_ttl: Duration,
}

impl Default for PairingPolicy {
    fn default() -> Self {
        PairingPolicy {
            max_failures: 3,
            lockout: Duration::from_secs(30),
            pin_wait: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(120),
            pin_ttl: DEFAULT_PIN_TTL,
        }
    }
}

/// Which client an attempt belongs to: the `uniqueid` it sent and its address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptKey {
    pub uniqueid: String,
    pub ip: IpAddr,
}

/// A stage-1 request waiting for the owner's PIN.
#[derive(Debug)]
pub struct Waiting {
    /// Short id the owner uses to pick this request (`lumen-session pin PIN --client ID`).
    pub id: u64,
    pub key: AttemptKey,
    pub device_name: String,
    pub since: Instant,
    pin_tx: Option<oneshot::Sender<PinGrant>>,
}

/// What the owner gives a pairing request: the PIN the client shows and, optionally, the name the paired
/// device gets (instead of the name the client sent, which every Moonlight build sends the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinGrant {
    pub pin: String,
    pub name: Option<String>,
    /// The user the paired client is bound to (system mode: it skips the greeter for that user's session).
    pub user: Option<String>,
}

/// An attempt past stage 1.
#[derive(Debug)]
struct Active {
    id: u64,
    key: AttemptKey,
    attempt: PairingAttempt,
}

#[derive(Debug)]
struct Armed {
    grant: PinGrant,
    until: Instant,
}

#[derive(Debug, Clone, Copy)]
struct SourceRecord {
    consecutive: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

/// What a stage-1 request may do now.
#[derive(Debug)]
pub enum Stage1 {
    /// The source is locked out until then.
    Locked(Instant),
    /// An attempt with this key is already waiting or in progress.
    InProgress,
    /// Too many requests wait already (from this address or in all).
    TooMany,
    /// A PIN was armed for the next request: use it now.
    Pin(PinGrant),
    /// Wait for the owner: the PIN arrives on the receiver. `id` identifies the request.
    Wait { id: u64, rx: oneshot::Receiver<PinGrant> },
}

/// Why the owner's PIN could not be given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PinError {
    #[error("{0}")]
    Invalid(&'static str),
    #[error("{count} clients are waiting to pair; choose one with `lumen-session pin PIN --client ID`:\n{list}")]
    Several { count: usize, list: String },
    #[error("no waiting pairing request matches {selector:?}; waiting now:\n{list}")]
    NoMatch { selector: String, list: String },
    #[error("the pairing request {0} went away before the PIN arrived (the client gave up); try again")]
    Gone(u64),
}

/// Where the owner's PIN went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinGiven {
    /// To this waiting request: (id, device name, address, uniqueid).
    To { id: u64, device: String, ip: IpAddr, uniqueid: String },
    /// Nobody waits: armed for the next request for this long.
    Armed(Duration),
}

/// What a failure did to its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureOutcome {
    pub failures: u32,
    /// When the source is now locked out until then.
    pub locked_until: Option<Instant>,
}

/// The armed PIN, the waiting requests, the attempts in progress and the per-source failure counts.
#[derive(Debug)]
pub struct PairingGate {
    pub policy: PairingPolicy,
    armed: Option<Armed>,
    waiting: Vec<Waiting>,
    active: Vec<Active>,
    sources: HashMap<IpAddr, SourceRecord>,
    next_id: u64,
}

impl PairingGate {
    pub fn new(policy: PairingPolicy) -> Self {
        PairingGate {
            policy,
            armed: None,
            waiting: Vec::new(),
            active: Vec::new(),
            sources: HashMap::new(),
            next_id: 1,
        }
    }

    /// Arms `pin` for the next stage-1 request (expires after the policy's `pin_ttl`).
    pub fn arm(&mut self, grant: PinGrant, now: Instant) -> Duration {
        let ttl = self.policy.pin_ttl;
        self.armed = Some(Armed { grant, until: now.checked_add(ttl).unwrap_or(now) });
        ttl
    }

    /// How long the armed PIN has left, if one is armed.
    pub fn armed_for(&self, now: Instant) -> Option<Duration> {
        self.armed.as_ref().filter(|a| a.until > now).map(|a| a.until - now)
    }

    /// Forgets expired PINs and attempts, and failure records that no longer matter.
    pub fn prune(&mut self, now: Instant) {
        if self.armed.as_ref().is_some_and(|a| a.until <= now) {
            tracing::info!("the armed pairing PIN expired unused");
            self.armed = None;
        }
        let timeout = self.policy.attempt_timeout;
        self.active.retain(|a| {
            let keep = now.saturating_duration_since(a.attempt.started) < timeout;
            if !keep {
                tracing::warn!(id = a.id, peer = %a.key.ip, device = a.attempt.device_name,
                    "an unfinished pairing attempt expired");
            }
            keep
        });
        self.waiting.retain(|w| w.pin_tx.as_ref().is_some_and(|tx| !tx.is_closed()));
        let forget = self.policy.lockout.saturating_mul(64).max(Duration::from_secs(3600));
        self.sources
            .retain(|_, r| r.locked_until.is_some_and(|t| t > now) || now.saturating_duration_since(r.last) < forget);
    }

    /// Decides what a stage-1 request with `key` may do.
    pub fn stage1(&mut self, key: &AttemptKey, device_name: &str, now: Instant) -> Stage1 {
        self.prune(now);
        if let Some(until) = self.locked_until(key.ip, now) {
            return Stage1::Locked(until);
        }
        if self.waiting.iter().any(|w| &w.key == key) || self.active.iter().any(|a| &a.key == key) {
            return Stage1::InProgress;
        }
        if let Some(armed) = self.armed.take() {
            return Stage1::Pin(armed.grant);
        }
        let from_source = self.waiting.iter().filter(|w| w.key.ip == key.ip).count();
        if from_source >= MAX_WAITING_PER_SOURCE || self.waiting.len() >= MAX_WAITING {
            return Stage1::TooMany;
        }
        let (tx, rx) = oneshot::channel();
        let id = self.fresh_id();
        self.waiting.push(Waiting {
            id,
            key: key.clone(),
            device_name: device_name.to_owned(),
            since: now,
            pin_tx: Some(tx),
        });
        Stage1::Wait { id, rx }
    }

    /// A fresh attempt id.
    pub fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Removes the waiting request `id` (its stage-1 request ended: PIN received, timed out, or dropped).
    pub fn stop_waiting(&mut self, id: u64) {
        self.waiting.retain(|w| w.id != id);
    }

    /// Starts the attempt past stage 1 for `key`.
    pub fn start(&mut self, id: u64, key: AttemptKey, attempt: PairingAttempt) {
        self.active.retain(|a| a.key != key);
        self.active.push(Active { id, key, attempt });
    }

    /// The attempt in progress for `key`.
    pub fn attempt_mut(&mut self, key: &AttemptKey, now: Instant) -> Option<&mut PairingAttempt> {
        self.prune(now);
        self.active.iter_mut().find(|a| &a.key == key).map(|a| &mut a.attempt)
    }

    /// Ends the attempt of `key` (finished, failed or cancelled); returns it if there was one.
    pub fn finish(&mut self, key: &AttemptKey) -> Option<PairingAttempt> {
        let i = self.active.iter().position(|a| &a.key == key)?;
        Some(self.active.remove(i).attempt)
    }

    /// `/unpair` from `key`: cancels that client's own attempt or waiting request, nothing else; never a
    /// failure. Returns whether something was cancelled.
    pub fn cancel(&mut self, key: &AttemptKey) -> bool {
        let before = self.active.len() + self.waiting.len();
        self.active.retain(|a| &a.key != key);
        // A waiting request's sender is dropped: its stage-1 request answers "not paired" at once.
        self.waiting.retain(|w| &w.key != key);
        before != self.active.len() + self.waiting.len()
    }

    /// Gives the owner's `pin`: to the waiting request `selector` picks (id, address, uniqueid or device
    /// name), to the only waiting request, or — with none waiting — armed for the next one.
    pub fn give_pin(&mut self, grant: PinGrant, selector: Option<&str>, now: Instant) -> Result<PinGiven, PinError> {
        crate::pairing::validate_pin(&grant.pin).map_err(PinError::Invalid)?;
        self.prune(now);
        let index = match selector.map(str::trim).filter(|s| !s.is_empty()) {
            Some(sel) => {
                let matches: Vec<usize> = (0..self.waiting.len()).filter(|&i| self.matches(i, sel)).collect();
                match matches.as_slice() {
                    [i] => *i,
                    [] => return Err(PinError::NoMatch { selector: sel.to_owned(), list: self.waiting_list(now) }),
                    _ => return Err(PinError::Several { count: matches.len(), list: self.waiting_list(now) }),
                }
            }
            None => match self.waiting.len() {
                0 => return Ok(PinGiven::Armed(self.arm(grant, now))),
                1 => 0,
                n => return Err(PinError::Several { count: n, list: self.waiting_list(now) }),
            },
        };
        let mut w = self.waiting.remove(index);
        let sent = w.pin_tx.take().map(|tx| tx.send(grant).is_ok()).unwrap_or(false);
        if !sent {
            return Err(PinError::Gone(w.id));
        }
        Ok(PinGiven::To { id: w.id, device: w.device_name, ip: w.key.ip, uniqueid: w.key.uniqueid })
    }

    fn matches(&self, i: usize, sel: &str) -> bool {
        let w = &self.waiting[i];
        w.id.to_string() == sel || w.key.ip.to_string() == sel || w.key.uniqueid == sel || w.device_name == sel
    }

    fn waiting_list(&self, now: Instant) -> String {
        if self.waiting.is_empty() {
            return "  (none)".into();
        }
        self.waiting
            .iter()
            .map(|w| {
                format!(
                    "  {}  device {:?}  address {}  uniqueid {}  waiting {} s",
                    w.id,
                    w.device_name,
                    w.key.ip,
                    w.key.uniqueid,
                    now.saturating_duration_since(w.since).as_secs()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// If `ip` is locked out, until when.
    pub fn locked_until(&self, ip: IpAddr, now: Instant) -> Option<Instant> {
        self.sources.get(&ip).and_then(|r| r.locked_until).filter(|t| *t > now)
    }

    /// Records a failed attempt from `ip`; the source is locked once it reaches `max_failures`.
    pub fn record_failure(&mut self, ip: IpAddr, now: Instant) -> FailureOutcome {
        if !self.sources.contains_key(&ip) && self.sources.len() >= MAX_SOURCES {
            if let Some(oldest) = self.sources.iter().min_by_key(|(_, r)| r.last).map(|(k, _)| *k) {
                self.sources.remove(&oldest);
            }
        }
        let policy = self.policy;
        let r = self.sources.entry(ip).or_insert(SourceRecord { consecutive: 0, locked_until: None, last: now });
        r.consecutive = r.consecutive.saturating_add(1);
        r.last = now;
        if r.consecutive >= policy.max_failures {
            let extra = (r.consecutive - policy.max_failures).min(6);
            let year = Duration::from_secs(86_400 * 365);
            let lock = policy.lockout.checked_mul(1u32 << extra).unwrap_or(year);
            // A configured lockout too long to represent locks for as long as an Instant can reach.
            let until = now.checked_add(lock).or_else(|| now.checked_add(year)).unwrap_or(now);
            r.locked_until = Some(until);
        }
        FailureOutcome { failures: r.consecutive, locked_until: r.locked_until.filter(|t| *t > now) }
    }

    /// Records a successful attempt from `ip` (its failure count starts again).
    pub fn record_success(&mut self, ip: IpAddr) {
        self.sources.remove(&ip);
    }

    /// Consecutive failures of `ip`.
    pub fn failures(&self, ip: IpAddr) -> u32 {
        self.sources.get(&ip).map(|r| r.consecutive).unwrap_or(0)
    }

    /// The admin report: armed PIN, waiting requests, attempts in progress, locked sources.
    pub fn report(&self, now: Instant) -> Value {
        let waiting: Vec<Value> = self
            .waiting
            .iter()
            .map(|w| {
                json!({"id": w.id, "device": w.device_name, "address": w.key.ip.to_string(),
                    "uniqueid": w.key.uniqueid, "waiting_secs": now.saturating_duration_since(w.since).as_secs()})
            })
            .collect();
        let in_progress: Vec<Value> = self
            .active
            .iter()
            .map(|a| {
                json!({"id": a.id, "device": a.attempt.device_name, "address": a.key.ip.to_string(),
                    "uniqueid": a.key.uniqueid, "secs": now.saturating_duration_since(a.attempt.started).as_secs()})
            })
            .collect();
        let locked: Vec<Value> = self
            .sources
            .iter()
            .filter_map(|(ip, r)| {
                r.locked_until.filter(|t| *t > now).map(|t| {
                    json!({"address": ip.to_string(), "failures": r.consecutive,
                        "locked_for_secs": (t - now).as_secs_f64()})
                })
            })
            .collect();
        let armed_for = self.armed_for(now);
        json!({
            "armed": armed_for.is_some(),
            "armed_expires_in_secs": armed_for.map(|d| d.as_secs_f64()),
            "waiting": waiting,
            "in_progress": in_progress,
            "locked_sources": locked,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(pin: &str) -> PinGrant {
        PinGrant { pin: pin.into(), name: None, user: None }
    }

    fn key(uid: &str, ip: &str) -> AttemptKey {
        AttemptKey { uniqueid: uid.into(), ip: ip.parse().unwrap() }
    }

    #[test]
    fn failures_lock_only_their_source() {
        let mut g =
            PairingGate::new(PairingPolicy { max_failures: 2, lockout: Duration::from_secs(10), ..Default::default() });
        let now = Instant::now();
        let bad: IpAddr = "127.0.0.2".parse().unwrap();
        let good: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(g.record_failure(bad, now).locked_until, None);
        assert_eq!(g.record_failure(bad, now).locked_until, Some(now + Duration::from_secs(10)));
        assert_eq!(g.record_failure(bad, now).locked_until, Some(now + Duration::from_secs(20)));
        assert!(g.locked_until(bad, now).is_some());
        assert!(g.locked_until(good, now).is_none());
        assert!(matches!(g.stage1(&key("A", "127.0.0.2"), "x", now), Stage1::Locked(_)));
        assert!(matches!(g.stage1(&key("A", "127.0.0.1"), "x", now), Stage1::Wait { .. }));
        g.record_success(bad);
        assert!(g.locked_until(bad, now).is_none());
    }

    #[test]
    fn pin_goes_to_the_chosen_request_and_duplicates_are_in_progress() {
        let mut g = PairingGate::new(PairingPolicy::default());
        let now = Instant::now();
        let Stage1::Wait { id: a, rx: mut rx_a } = g.stage1(&key("U", "127.0.0.1"), "victim", now) else {
            panic!("expected to wait")
        };
        assert!(matches!(g.stage1(&key("U", "127.0.0.1"), "again", now), Stage1::InProgress));
        let Stage1::Wait { rx: mut rx_b, .. } = g.stage1(&key("U", "127.0.0.2"), "attacker", now) else {
            panic!("expected to wait")
        };
        assert!(matches!(g.give_pin(grant("1234"), None, now), Err(PinError::Several { count: 2, .. })));
        assert!(matches!(g.give_pin(grant("1234"), Some("99"), now), Err(PinError::NoMatch { .. })));
        let given = g.give_pin(grant("1234"), Some(&a.to_string()), now).unwrap();
        assert!(matches!(given, PinGiven::To { id, .. } if id == a));
        assert_eq!(rx_a.try_recv().unwrap(), grant("1234"));
        assert!(rx_b.try_recv().is_err());
        // /unpair from the attacker cancels only the attacker's own request.
        assert!(g.cancel(&key("U", "127.0.0.2")));
        assert!(!g.cancel(&key("U", "127.0.0.9")));
    }

    #[test]
    fn armed_pin_expires_and_serves_one_request() {
        let mut g = PairingGate::new(PairingPolicy { pin_ttl: Duration::from_secs(5), ..Default::default() });
        let now = Instant::now();
        assert_eq!(g.give_pin(grant("1234"), None, now), Ok(PinGiven::Armed(Duration::from_secs(5))));
        assert!(matches!(g.stage1(&key("U", "127.0.0.1"), "d", now), Stage1::Pin(p) if p.pin == "1234"));
        assert!(g.armed_for(now).is_none());
        g.arm(grant("5678"), now);
        let later = now + Duration::from_secs(6);
        assert!(matches!(g.stage1(&key("V", "127.0.0.1"), "d", later), Stage1::Wait { .. }));
        assert!(matches!(g.give_pin(grant("12"), None, now), Err(PinError::Invalid(_))));
    }

    #[test]
    fn waiting_requests_are_capped_per_source() {
        let mut g = PairingGate::new(PairingPolicy::default());
        let now = Instant::now();
        let mut keep = Vec::new();
        for i in 0..MAX_WAITING_PER_SOURCE {
            match g.stage1(&key(&format!("U{i}"), "127.0.0.2"), "d", now) {
                Stage1::Wait { rx, .. } => keep.push(rx),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(g.stage1(&key("X", "127.0.0.2"), "d", now), Stage1::TooMany));
        assert!(matches!(g.stage1(&key("X", "127.0.0.1"), "d", now), Stage1::Wait { .. }));
    }
}
