//! A pad's force feedback as the two motor levels Moonlight's rumble message carries. Games upload effects
//! (`FF_RUMBLE` with strong and weak magnitudes, a length and a delay), play them a number of times, stop
//! and erase them, and set a gain; [`Rumble::levels`] says what the motors do at a moment (times are
//! durations since an origin the caller picks: the core reads no clock). The strong motor
//! is the heavy, low-frequency one: it goes out as Moonlight's `low_freq_motor` (SDL does the same).

use std::time::Duration;

/// Effects a pad holds at once (the uinput device announces this many).
pub const MAX_EFFECTS: usize = 16;

/// An uploaded rumble effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RumbleEffect {
    /// Strong (low-frequency) motor, 0..=0xFFFF.
    pub strong: u16,
    /// Weak (high-frequency) motor, 0..=0xFFFF.
    pub weak: u16,
    /// How long one play lasts (0: until stopped).
    pub length: Duration,
    /// Delay before it starts.
    pub delay: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    effect: RumbleEffect,
    /// When the current play started, and how many plays are left after it.
    playing: Option<(Duration, u32)>,
}

/// The effects of one pad.
#[derive(Debug, Clone)]
pub struct Rumble {
    slots: [Option<Slot>; MAX_EFFECTS],
    gain: u16,
}

impl Default for Rumble {
    fn default() -> Self {
        Self { slots: [None; MAX_EFFECTS], gain: 0xFFFF }
    }
}

/// The motor levels for Moonlight: (low frequency = strong, high frequency = weak).
pub type Levels = (u16, u16);

impl Rumble {
    /// Stores `effect` in slot `id` (an upload or an update); `false` if `id` is out of range.
    pub fn upload(&mut self, id: usize, effect: RumbleEffect) -> bool {
        match self.slots.get_mut(id) {
            Some(s) => {
                let playing = s.as_ref().and_then(|s| s.playing);
                *s = Some(Slot { effect, playing });
                true
            }
            None => false,
        }
    }

    /// Forgets effect `id`.
    pub fn erase(&mut self, id: usize) {
        if let Some(s) = self.slots.get_mut(id) {
            *s = None;
        }
    }

    /// Plays effect `id` `count` times from `now` (`count` 0 stops it).
    pub fn play(&mut self, id: usize, count: u32, now: Duration) {
        if let Some(Some(s)) = self.slots.get_mut(id) {
            s.playing = (count > 0).then(|| (now, count - 1));
        }
    }

    /// `FF_GAIN`: 0..=0xFFFF scales every effect.
    pub fn set_gain(&mut self, gain: u16) {
        self.gain = gain;
    }

    /// The motors at `now` (the strongest of the effects playing, scaled by the gain); plays that ran
    /// their course are retired or restarted.
    pub fn levels(&mut self, now: Duration) -> Levels {
        let (mut strong, mut weak) = (0u32, 0u32);
        for s in self.slots.iter_mut().flatten() {
            let Some((start, left)) = s.playing else { continue };
            let e = s.effect;
            let begin = start + e.delay;
            if now < begin {
                continue;
            }
            if !e.length.is_zero() && now >= begin + e.length {
                // One play is over: the next one starts where it ended, or the effect stops.
                s.playing = (left > 0).then(|| (begin + e.length, left - 1));
                if s.playing.is_none() {
                    continue;
                }
                if now < begin + e.length + e.delay {
                    continue;
                }
            }
            strong = strong.max(u32::from(e.strong));
            weak = weak.max(u32::from(e.weak));
        }
        let scale = |v: u32| (v * u32::from(self.gain) / 0xFFFF) as u16;
        (scale(strong), scale(weak))
    }

    /// When [`Rumble::levels`] may change next without any new command (an effect's start or end), if
    /// ever: the backend wakes then.
    pub fn next_change(&self, now: Duration) -> Option<Duration> {
        self.slots
            .iter()
            .flatten()
            .filter_map(|s| {
                let (start, _) = s.playing?;
                let begin = start + s.effect.delay;
                if now < begin {
                    Some(begin)
                } else if !s.effect.length.is_zero() {
                    Some(begin + s.effect.length)
                } else {
                    None
                }
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effect(strong: u16, weak: u16, ms: u64) -> RumbleEffect {
        RumbleEffect { strong, weak, length: Duration::from_millis(ms), delay: Duration::ZERO }
    }

    #[test]
    fn a_play_lasts_its_length_and_the_strongest_wins() {
        let mut r = Rumble::default();
        let t = Duration::from_secs(1);
        assert!(r.upload(0, effect(0x8000, 0x1000, 100)));
        assert!(r.upload(3, effect(0x2000, 0x4000, 0)));
        assert!(!r.upload(MAX_EFFECTS, effect(1, 1, 1)));
        assert_eq!(r.levels(t), (0, 0));
        r.play(0, 1, t);
        assert_eq!(r.levels(t + Duration::from_millis(10)), (0x8000, 0x1000));
        assert_eq!(r.next_change(t), Some(t + Duration::from_millis(100)));
        r.play(3, 1, t);
        assert_eq!(r.levels(t + Duration::from_millis(50)), (0x8000, 0x4000));
        assert_eq!(r.levels(t + Duration::from_millis(150)), (0x2000, 0x4000));
        r.play(3, 0, t);
        assert_eq!(r.levels(t + Duration::from_millis(160)), (0, 0));
    }

    #[test]
    fn repeats_delay_gain_and_erase() {
        let mut r = Rumble::default();
        let t = Duration::from_secs(1);
        r.upload(1, RumbleEffect { delay: Duration::from_millis(20), ..effect(0xFFFF, 0, 30) });
        r.play(1, 2, t);
        assert_eq!(r.levels(t + Duration::from_millis(10)), (0, 0));
        assert_eq!(r.levels(t + Duration::from_millis(25)), (0xFFFF, 0));
        r.set_gain(0x8000);
        assert_eq!(r.levels(t + Duration::from_millis(45)), (0x8000, 0));
        // The first play ended at 50 ms; the second starts after its delay (70..100 ms).
        assert_eq!(r.levels(t + Duration::from_millis(60)), (0, 0));
        assert_eq!(r.levels(t + Duration::from_millis(80)), (0x8000, 0));
        assert_eq!(r.levels(t + Duration::from_millis(120)), (0, 0));
        r.play(1, 1, t);
        r.erase(1);
        assert_eq!(r.levels(t + Duration::from_millis(30)), (0, 0));
        assert_eq!(r.next_change(t), None);
    }
}
