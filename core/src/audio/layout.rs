//! The Opus layouts of Moonlight's audio configurations: stereo, 5.1 and 7.1, each at normal and high quality
//! (streams, coupled streams, channel mapping and bitrate), and how DESCRIBE offers them
//! (`a=fmtp:97 surround-params=…`). The encoder and the offer read this one table, so they always agree.
//!
//! Input channels are in Moonlight's order: FL FR C LFE BL BR SL SR. At normal quality the pairs (FL/FR,
//! BL/BR, SL/SR) are coupled streams and C and LFE mono ones; at high quality every channel is a stream of
//! its own. The client reads each offered line's mapping with its own reordering for normal-quality
//! surround (it moves the last digit to position 3), so the offer carries the mapping with `mapping[3..]`
//! rotated left by one: after the client's reordering it is the mapping the encoder uses.

/// One Opus layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusLayout {
    /// Channels (2, 6 or 8).
    pub channels: u8,
    /// Opus streams.
    pub streams: u8,
    /// Of which coupled (two-channel) streams.
    pub coupled: u8,
    /// Input channel → coded channel; the first `channels` entries count.
    pub mapping: [u8; 8],
    /// Total bitrate, bit/s (CBR).
    pub bitrate_bps: u32,
    /// High quality (`AudioQuality=1`).
    pub high_quality: bool,
}

/// Every layout, in the order DESCRIBE offers them (per channel count: normal, then high quality).
pub const LAYOUTS: [OpusLayout; 6] = [
    layout(2, 1, 1, [0, 1, 0, 0, 0, 0, 0, 0], 96_000, false),
    layout(2, 1, 1, [0, 1, 0, 0, 0, 0, 0, 0], 512_000, true),
    layout(6, 4, 2, [0, 1, 4, 5, 2, 3, 0, 0], 256_000, false),
    layout(6, 6, 0, [0, 1, 2, 3, 4, 5, 0, 0], 1_536_000, true),
    layout(8, 5, 3, [0, 1, 4, 5, 6, 7, 2, 3], 450_000, false),
    layout(8, 8, 0, [0, 1, 2, 3, 4, 5, 6, 7], 2_048_000, true),
];

const fn layout(
    channels: u8,
    streams: u8,
    coupled: u8,
    mapping: [u8; 8],
    bitrate_bps: u32,
    high_quality: bool,
) -> OpusLayout {
    OpusLayout { channels, streams, coupled, mapping, bitrate_bps, high_quality }
}

impl OpusLayout {
    /// The layout of a negotiated configuration; an unknown channel count gets stereo.
    pub fn for_config(channels: u32, high_quality: bool) -> OpusLayout {
        LAYOUTS
            .iter()
            .copied()
            .find(|l| u32::from(l.channels) == channels && l.high_quality == high_quality)
            .unwrap_or(LAYOUTS[0])
    }

    /// The used part of the mapping.
    pub fn mapping(&self) -> &[u8] {
        &self.mapping[..usize::from(self.channels)]
    }

    /// The value of this layout's `surround-params` attribute: channels, streams, coupled streams, then the
    /// mapping as the client must read it (see the module docs).
    pub fn surround_params(&self) -> String {
        let mut m = self.mapping;
        let c = usize::from(self.channels);
        if c > 2 && !self.high_quality {
            m[3..c].rotate_left(1);
        }
        let mut s = format!("{}{}{}", self.channels, self.streams, self.coupled);
        for d in &m[..c] {
            s.push(char::from(b'0' + d));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the client does with an offered line (from moonlight-common-c's documented behaviour, note
    /// §C.3): for a normal-quality 6- or 8-channel layout, `out[3] = in[C−1]` and `out[4..C] = in[3..C−1]`.
    fn as_the_client_reads(params: &str, high_quality: bool) -> Vec<u8> {
        let digits: Vec<u8> = params.bytes().map(|b| b - b'0').collect();
        let c = usize::from(digits[0]);
        let input = &digits[3..3 + c];
        let mut out = input.to_vec();
        if c > 2 && !high_quality {
            out[3] = input[c - 1];
            out[4..c].copy_from_slice(&input[3..c - 1]);
        }
        out
    }

    #[test]
    fn the_offer_reads_back_as_the_encoders_mapping() {
        let want = ["21101", "21101", "642014235", "660012345", "85301467235", "88001234567"];
        for (l, w) in LAYOUTS.iter().zip(want) {
            assert_eq!(l.surround_params(), w, "{l:?}");
            assert_eq!(as_the_client_reads(&l.surround_params(), l.high_quality), l.mapping(), "{l:?}");
        }
        // Sunshine's 7.1 line (`85301245367`) would not: LFE, SL and SR end up elsewhere.
        assert_ne!(as_the_client_reads("85301245367", false), LAYOUTS[4].mapping());
    }

    #[test]
    fn configurations_pick_their_layout() {
        assert_eq!(OpusLayout::for_config(6, false).streams, 4);
        assert_eq!(OpusLayout::for_config(8, true).bitrate_bps, 2_048_000);
        assert_eq!(OpusLayout::for_config(3, false), LAYOUTS[0]);
    }
}
