//! The error type shared by both FEC fields.

/// Why an FEC call was refused or could not recover the data.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FecError {
    /// More shards in a block than the field allows (255 for GF(2⁸), 65535 for GF(2¹⁶)).
    #[error("too many shards: {data} data + {parity} parity exceeds the field's limit of {max}")]
    TooManyShards {
        /// Data shards asked for.
        data: usize,
        /// Parity shards asked for.
        parity: usize,
        /// The field's limit on data + parity.
        max: usize,
    },
    /// A block needs at least one data shard.
    #[error("a block needs at least one data shard")]
    NoDataShards,
    /// A block needs at least one parity shard.
    #[error("a block needs at least one parity shard")]
    NoParityShards,
    /// Shards of different lengths, a zero length, or a length the field cannot take.
    #[error("bad shard length {len}: {reason}")]
    ShardLength {
        /// The offending length in bytes.
        len: usize,
        /// What the field requires of a length.
        reason: &'static str,
    },
    /// The slice of shards (or presence flags) does not hold data + parity entries.
    #[error("expected {expected} shards, got {got}")]
    ShardCount {
        /// data + parity.
        expected: usize,
        /// Entries actually passed.
        got: usize,
    },
    /// More shards are missing than there are parity shards left to rebuild them from.
    #[error("unrecoverable block: {missing} shards missing, only {parity} parity shards present")]
    Unrecoverable {
        /// Shards missing from the block.
        missing: usize,
        /// Parity shards present.
        parity: usize,
    },
    /// The requested SIMD kernel tier is not supported by this CPU.
    #[error("kernel tier {0} is not available on this CPU")]
    TierUnavailable(&'static str),
    /// The underlying codec reported a failure that has no better mapping.
    #[error("codec failure: {0}")]
    Codec(String),
}
