//! A pool of reusable render targets for one output.
//!
//! Targets are created once and lent out inside frames; a [`Lease`] sends its target back through a bounded
//! channel sized to the pool when dropped (never blocks, never allocates). The pool remembers which frame
//! each target last held so the damage tracker can be given the right buffer age.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};

use crate::frame::DamageRect;
use crate::target::Target;

struct Returned {
    index: u32,
    target: Target,
    damage: Vec<DamageRect>,
}

struct Slot {
    target: Option<Target>,
    damage: Vec<DamageRect>,
    /// Frame number whose content the target holds (0: never rendered).
    frame: u64,
}

/// The targets of one output.
pub struct TargetPool {
    slots: Vec<Slot>,
    tx: SyncSender<Returned>,
    rx: Receiver<Returned>,
    /// Number of the last frame rendered into any slot.
    frame: u64,
}

impl TargetPool {
    /// A pool of `targets` (all created up front by the caller, all of one size and format).
    pub fn new(targets: Vec<Target>) -> Self {
        let (tx, rx) = sync_channel(targets.len().max(1));
        let slots =
            targets.into_iter().map(|t| Slot { target: Some(t), damage: Vec::with_capacity(16), frame: 0 }).collect();
        TargetPool { slots, tx, rx, frame: 0 }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Targets currently in the pool (not lent out).
    pub fn available(&mut self) -> usize {
        self.reclaim();
        self.slots.iter().filter(|s| s.target.is_some()).count()
    }

    fn reclaim(&mut self) {
        while let Ok(r) = self.rx.try_recv() {
            if let Some(slot) = self.slots.get_mut(r.index as usize) {
                slot.target = Some(r.target);
                slot.damage = r.damage;
            }
        }
    }

    /// Pick a free target: the one holding the newest content (smallest buffer age). Returns its index
    /// and buffer age (0 = unknown content, redraw everything).
    pub fn pick(&mut self) -> Option<(u32, usize)> {
        self.reclaim();
        let (i, slot) =
            self.slots.iter().enumerate().filter(|(_, s)| s.target.is_some()).max_by_key(|(_, s)| s.frame)?;
        let age = if slot.frame == 0 { 0 } else { (self.frame + 1 - slot.frame) as usize };
        Some((i as u32, age))
    }

    /// The target at `index` (to bind and render into); `None` if it is lent out.
    pub fn target_mut(&mut self, index: u32) -> Option<&mut Target> {
        self.slots.get_mut(index as usize)?.target.as_mut()
    }

    /// Every target still in the pool, with its index.
    pub fn targets(&self) -> impl Iterator<Item = (u32, &Target)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| s.target.as_ref().map(|t| (i as u32, t)))
    }

    /// Record that `index` now holds a new frame and lend it out. Returns the lease and the (cleared)
    /// damage vector to fill for the frame.
    pub fn lend(&mut self, index: u32) -> Option<(Lease, Vec<DamageRect>)> {
        self.frame += 1;
        let frame = self.frame;
        let slot = self.slots.get_mut(index as usize)?;
        let target = slot.target.take()?;
        slot.frame = frame;
        let mut damage = std::mem::take(&mut slot.damage);
        damage.clear();
        Some((Lease { target: Some(target), index, damage: Vec::new(), tx: self.tx.clone() }, damage))
    }

    /// Mark `index` as rendered (content = newest frame) without lending it out.
    pub fn mark_rendered(&mut self, index: u32) {
        self.frame += 1;
        if let Some(slot) = self.slots.get_mut(index as usize) {
            slot.frame = self.frame;
        }
    }
}

/// A target lent out of its pool; dropping it returns the target.
pub struct Lease {
    target: Option<Target>,
    index: u32,
    damage: Vec<DamageRect>,
    tx: SyncSender<Returned>,
}

impl Lease {
    pub fn target(&self) -> &Target {
        // Only `Drop` takes the target out.
        self.target.as_ref().expect("lease holds its target until dropped")
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    pub(crate) fn set_damage_storage(&mut self, damage: Vec<DamageRect>) {
        self.damage = damage;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(target) = self.target.take() {
            let r = Returned { index: self.index, target, damage: std::mem::take(&mut self.damage) };
            match self.tx.try_send(r) {
                Ok(()) => {}
                // The pool is gone (output removed): the target is simply freed here.
                Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(_)) => {
                    tracing::warn!(index = self.index, "target pool return channel full; target dropped")
                }
            }
        }
    }
}
