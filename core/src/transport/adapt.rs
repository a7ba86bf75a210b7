//! The lumen transport's FEC policy: the host's parity share follows the loss the client reports (its
//! per-frame `FrameFecStatus` messages, summed by the host over 2 s windows; `docs/wire.md` §12).

/// Highest FEC percentage the policy picks.
pub const MAX_ADAPTIVE_FEC: u16 = 200;

/// The FEC percentage for a window whose loss was `loss_bp` (1/10000): never below the negotiated
/// `base`, else twice the loss plus 5 points of margin (10 % loss → 25 %), capped at [`MAX_ADAPTIVE_FEC`].
pub fn fec_for_loss(base: u16, loss_bp: u64) -> u16 {
    let want = (loss_bp.saturating_mul(2)).div_ceil(100).saturating_add(5);
    let want = u16::try_from(want.min(u64::from(MAX_ADAPTIVE_FEC))).unwrap_or(MAX_ADAPTIVE_FEC);
    base.max(want).min(base.max(MAX_ADAPTIVE_FEC))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_loss_above_the_base() {
        assert_eq!(fec_for_loss(20, 0), 20);
        assert_eq!(fec_for_loss(20, 500), 20);
        assert_eq!(fec_for_loss(20, 1000), 25);
        assert_eq!(fec_for_loss(20, 3000), 65);
        assert_eq!(fec_for_loss(20, 10_000), MAX_ADAPTIVE_FEC);
        assert_eq!(fec_for_loss(20, u64::MAX), MAX_ADAPTIVE_FEC);
        assert_eq!(fec_for_loss(250, 10_000), 250, "a negotiated base above the cap stays");
    }
}
