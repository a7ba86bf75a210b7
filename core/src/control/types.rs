//! Control message type numbers of the gen-7 encrypted control stream (the table a Sunshine-compatible
//! host and a modern client use) and fixed payload sizes.

/// The encrypted envelope (`0x0001`): every other message travels inside one.
pub const ENCRYPTED: u16 = 0x0001;
/// Periodic ping, client → host, every 100 ms.
pub const PERIODIC_PING: u16 = 0x0200;
/// Loss statistics, client → host (only towards non-Sunshine hosts or old versions).
pub const LOSS_STATS: u16 = 0x0201;
/// Frame statistics (never sent by current clients; not decoded).
pub const FRAME_STATS: u16 = 0x0204;
/// Input data, client → host: the payload is one input packet.
pub const INPUT_DATA: u16 = 0x0206;
/// Reference-frame invalidation request, client → host.
pub const INVALIDATE_REF_FRAMES: u16 = 0x0301;
/// IDR frame request, client → host (also the first "start" message of the encrypted table).
pub const REQUEST_IDR_FRAME: u16 = 0x0302;
/// Start A of the unencrypted gen-7 table, client → host.
pub const START_A: u16 = 0x0305;
/// Start B, client → host.
pub const START_B: u16 = 0x0307;
/// LTR frame acknowledgement, client → host (Sunshine extension).
pub const LTR_FRAME_ACK: u16 = 0x0350;
/// Termination with reason (extended form), host → client.
pub const TERMINATION: u16 = 0x0109;
/// Rumble, host → client.
pub const RUMBLE: u16 = 0x010b;
/// HDR mode and metadata, host → client.
pub const HDR_MODE: u16 = 0x010e;
/// Trigger rumble, host → client (Sunshine extension).
pub const RUMBLE_TRIGGERS: u16 = 0x5500;
/// Enable/disable controller motion events, host → client (Sunshine extension).
pub const SET_MOTION_EVENT: u16 = 0x5501;
/// Controller RGB LED, host → client (Sunshine extension). Same number as [`FRAME_FEC_STATUS`].
pub const SET_RGB_LED: u16 = 0x5502;
/// Per-frame FEC status, client → host (Sunshine extension). Same number as [`SET_RGB_LED`].
pub const FRAME_FEC_STATUS: u16 = 0x5502;
/// DualSense adaptive triggers, host → client (Sunshine extension).
pub const ADAPTIVE_TRIGGERS: u16 = 0x5503;

/// Bytes of the inner `[type: u16 LE][payload length: u16 LE]` header.
pub const V2_HEADER_LEN: usize = 4;

/// Payload bytes of an IDR request / start A.
pub const IDR_PAYLOAD: usize = 2;
/// Payload bytes of start B.
pub const START_B_PAYLOAD: usize = 1;
/// Payload bytes of a periodic ping.
pub const PING_PAYLOAD: usize = 8;
/// Payload bytes of loss statistics.
pub const LOSS_STATS_PAYLOAD: usize = 32;
/// Payload bytes of a reference-frame invalidation request.
pub const RFI_PAYLOAD: usize = 24;
/// Payload bytes of an LTR acknowledgement.
pub const LTR_ACK_PAYLOAD: usize = 8;
/// Payload bytes of a frame FEC status.
pub const FEC_STATUS_PAYLOAD: usize = 21;
/// Payload bytes of an extended termination.
pub const TERMINATION_PAYLOAD: usize = 4;
/// Payload bytes of a rumble message.
pub const RUMBLE_PAYLOAD: usize = 10;
/// Payload bytes of a trigger rumble message.
pub const RUMBLE_TRIGGERS_PAYLOAD: usize = 6;
/// Payload bytes of a motion-event message.
pub const MOTION_EVENT_PAYLOAD: usize = 5;
/// Payload bytes of an RGB LED message.
pub const RGB_LED_PAYLOAD: usize = 5;
/// Bytes of each DualSense effect block.
pub const DS_EFFECT_PAYLOAD_SIZE: usize = 10;
/// Payload bytes of an adaptive-triggers message.
pub const ADAPTIVE_TRIGGERS_PAYLOAD: usize = 5 + 2 * DS_EFFECT_PAYLOAD_SIZE;
/// Payload bytes of an HDR message with metadata.
pub const HDR_PAYLOAD: usize = 1 + 26;

/// Termination reasons the client recognises (HRESULTs, sent big-endian).
pub mod termination {
    /// The host ended the stream on purpose (the client reports a graceful end when it has seen video).
    pub const SERVER_TERMINATED_CLOSED: u32 = 0x8003_0023;
    /// The encoder could not convert an input frame.
    pub const FRAME_CONVERSION_FAILED: u32 = 0x800e_9403;
    /// The content is protected and cannot be captured.
    pub const PROTECTED_CONTENT: u32 = 0x800e_9302;
}
