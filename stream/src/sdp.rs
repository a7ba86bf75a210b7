//! SDP for the RTSP handshake: the host's DESCRIBE offer (which codecs, encryption and Sunshine features it
//! has) and the parser of the client's ANNOUNCE body into a typed [`StreamConfig`].
//!
//! The client writes attributes as `a=<name>:<value> \r\n` (note the space before CRLF); values are decimal.
//! The parser is strict about structure (UTF-8, `x=` lines, bounded size, numeric values where numbers are
//! expected) and lenient about unknown attributes, which it skips.

use crate::media_plane::CodecSupport;
use crate::stream_config::{encryption, LumenAccept, StreamConfig, VideoCodec, DEFAULT_FEC_PERCENT};

/// The host's offer of the lumen transport in DESCRIBE (stock clients skip unknown attributes).
pub const LUMEN_OFFER_ATTR: &str = "x-lumen-transport";
/// The client's acceptance in ANNOUNCE.
pub const LUMEN_ACCEPT_ATTR: &str = "x-lumen-transport-accept";
/// The lumen transport version this host speaks.
pub const LUMEN_TRANSPORT_VERSION: u32 = 1;

/// The offer's value: `v=1;fec=gf65536;aead=chacha20-poly1305;kdf=hkdf-sha256;salt=<32 hex>`.
pub fn lumen_offer_value(salt: &[u8; 16]) -> String {
    format!("v={LUMEN_TRANSPORT_VERSION};fec=gf65536;aead=chacha20-poly1305;kdf=hkdf-sha256;salt={}", hex::encode(salt))
}

/// The `key=value` pairs of a `;`-separated attribute value.
fn params(value: &str) -> impl Iterator<Item = (&str, &str)> {
    value.split(';').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.trim(), v.trim()))
}

fn salt_of(name: &'static str, value: &str) -> Result<[u8; 16], SdpError> {
    let invalid = || SdpError::Invalid { name, value: value.chars().take(128).collect() };
    let hex_salt = params(value).find(|(k, _)| *k == "salt").map(|(_, v)| v).ok_or_else(invalid)?;
    let mut salt = [0u8; 16];
    if hex_salt.len() != 32 || hex::decode_to_slice(hex_salt, &mut salt).is_err() {
        return Err(invalid());
    }
    Ok(salt)
}

fn version_of(name: &'static str, value: &str) -> Result<u32, SdpError> {
    let v = params(value).find(|(k, _)| *k == "v").map(|(_, v)| v).unwrap_or("");
    parse_u32(name, v)
}

/// The host's lumen offer in a DESCRIBE body (the client side): its salt, or `None` when the host made no
/// offer of a version this side speaks.
pub fn parse_lumen_offer(body: &[u8]) -> Result<Option<[u8; 16]>, SdpError> {
    let sdp = parse_body(body)?;
    let Some(value) = sdp.get(LUMEN_OFFER_ATTR) else { return Ok(None) };
    if version_of(LUMEN_OFFER_ATTR, value)? != LUMEN_TRANSPORT_VERSION {
        return Ok(None);
    }
    salt_of(LUMEN_OFFER_ATTR, value).map(Some)
}

/// The client's acceptance line for an offer with `salt` (the client side; `fec_percent` optional).
pub fn lumen_accept_line(salt: &[u8; 16], fec_percent: Option<u32>) -> String {
    let fec = fec_percent.map(|f| format!(";fec={f}")).unwrap_or_default();
    format!("a={LUMEN_ACCEPT_ATTR}:v={LUMEN_TRANSPORT_VERSION};salt={}{fec} \r\n", hex::encode(salt))
}

fn parse_lumen_accept(sdp: &SdpBody<'_>) -> Result<Option<LumenAccept>, SdpError> {
    let Some(value) = sdp.get(LUMEN_ACCEPT_ATTR) else { return Ok(None) };
    let version = version_of(LUMEN_ACCEPT_ATTR, value)?;
    if version != LUMEN_TRANSPORT_VERSION {
        return Err(SdpError::Invalid { name: LUMEN_ACCEPT_ATTR, value: value.chars().take(128).collect() });
    }
    let fec_percent =
        params(value).find(|(k, _)| *k == "fec").map(|(_, v)| parse_u32(LUMEN_ACCEPT_ATTR, v)).transpose()?;
    if fec_percent.is_some_and(|f| f > 200) {
        return Err(SdpError::Invalid { name: LUMEN_ACCEPT_ATTR, value: value.chars().take(128).collect() });
    }
    Ok(Some(LumenAccept { version, salt: salt_of(LUMEN_ACCEPT_ATTR, value)?, fec_percent }))
}

/// Largest SDP body accepted.
pub const MAX_SDP_LEN: usize = 64 * 1024;
/// Most attributes accepted in one body.
pub const MAX_ATTRIBUTES: usize = 512;

/// Why an SDP body was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SdpError {
    #[error("SDP body of {0} bytes exceeds the {MAX_SDP_LEN}-byte limit")]
    TooLong(usize),
    #[error("SDP body is not UTF-8")]
    NotUtf8,
    #[error("SDP line {0} is not of the form <letter>=<value>")]
    BadLine(usize),
    #[error("SDP body has more than {MAX_ATTRIBUTES} attributes")]
    TooManyAttributes,
    #[error("SDP attribute {name} is missing")]
    Missing { name: &'static str },
    #[error("SDP attribute {name} has an invalid value {value:?}")]
    Invalid { name: &'static str, value: String },
}

/// The structural parse of an SDP body: its attributes (`a=name:value`, value trimmed) and `m=` lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SdpBody<'a> {
    pub attributes: Vec<(&'a str, &'a str)>,
    pub media: Vec<&'a str>,
}

impl<'a> SdpBody<'a> {
    /// The value of the first attribute called `name`.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.attributes.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// Splits an SDP body into attributes and media lines.
pub fn parse_body(body: &[u8]) -> Result<SdpBody<'_>, SdpError> {
    if body.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLong(body.len()));
    }
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
    let mut out = SdpBody::default();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.trim_end_matches(['\r', ' ', '\t', '\0']);
        if line.is_empty() {
            continue;
        }
        let bytes = line.as_bytes();
        if bytes.len() < 2 || !bytes[0].is_ascii_alphabetic() || bytes[1] != b'=' {
            return Err(SdpError::BadLine(i + 1));
        }
        let value = &line[2..];
        match bytes[0] {
            b'a' => {
                if out.attributes.len() >= MAX_ATTRIBUTES {
                    return Err(SdpError::TooManyAttributes);
                }
                let (name, val) = match value.split_once(':') {
                    Some((n, v)) => (n.trim(), v.trim()),
                    None => (value.trim(), ""),
                };
                out.attributes.push((name, val));
            }
            b'm' => out.media.push(value),
            _ => {}
        }
    }
    Ok(out)
}

fn req_u32(body: &SdpBody<'_>, name: &'static str) -> Result<u32, SdpError> {
    let v = body.get(name).ok_or(SdpError::Missing { name })?;
    parse_u32(name, v)
}

fn opt_u32(body: &SdpBody<'_>, name: &'static str) -> Result<Option<u32>, SdpError> {
    body.get(name).map(|v| parse_u32(name, v)).transpose()
}

fn parse_u32(name: &'static str, v: &str) -> Result<u32, SdpError> {
    let invalid = || SdpError::Invalid { name, value: v.chars().take(64).collect() };
    if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).map_err(|_| invalid())
    } else {
        v.parse::<u32>().map_err(|_| invalid())
    }
}

fn flag(body: &SdpBody<'_>, name: &'static str) -> Result<bool, SdpError> {
    Ok(opt_u32(body, name)?.unwrap_or(0) != 0)
}

/// Parses a client's ANNOUNCE body into the typed stream configuration.
pub fn parse_announce(body: &[u8]) -> Result<StreamConfig, SdpError> {
    let sdp = parse_body(body)?;
    let width = req_u32(&sdp, "x-nv-video[0].clientViewportWd")?;
    let height = req_u32(&sdp, "x-nv-video[0].clientViewportHt")?;
    let fps = req_u32(&sdp, "x-nv-video[0].maxFPS")?;
    let packet_size = req_u32(&sdp, "x-nv-video[0].packetSize")?;
    for (name, v, lo, hi) in [
        ("x-nv-video[0].clientViewportWd", width, 1, 16384),
        ("x-nv-video[0].clientViewportHt", height, 1, 16384),
        ("x-nv-video[0].maxFPS", fps, 1, 1000),
        ("x-nv-video[0].packetSize", packet_size, 64, 65000),
    ] {
        if v < lo || v > hi {
            return Err(SdpError::Invalid { name, value: v.to_string() });
        }
    }
    let bitrate_kbps = match opt_u32(&sdp, "x-nv-vqos[0].bw.maximumBitrateKbps")? {
        Some(b) => b,
        None => req_u32(&sdp, "x-nv-vqos[0].bw.maximumBitrate")?,
    };
    let format = opt_u32(&sdp, "x-nv-vqos[0].bitStreamFormat")?.unwrap_or(0);
    let codec = VideoCodec::from_bitstream_format(format)
        .ok_or(SdpError::Invalid { name: "x-nv-vqos[0].bitStreamFormat", value: format.to_string() })?;
    let fec_percent = opt_u32(&sdp, "x-nv-vqos[0].fec.repairPercent")?.unwrap_or(DEFAULT_FEC_PERCENT);
    if fec_percent > 255 {
        return Err(SdpError::Invalid { name: "x-nv-vqos[0].fec.repairPercent", value: fec_percent.to_string() });
    }
    let video_port_hint = sdp
        .media
        .iter()
        .find_map(|m| m.strip_prefix("video ").and_then(|rest| rest.split_whitespace().next()?.parse::<u16>().ok()));
    Ok(StreamConfig {
        width,
        height,
        fps,
        packet_size,
        bitrate_kbps,
        configured_bitrate_kbps: opt_u32(&sdp, "x-ml-video.configuredBitrateKbps")?,
        fec_percent,
        min_fec_packets: opt_u32(&sdp, "x-nv-vqos[0].fec.minRequiredFecPackets")?.unwrap_or(0),
        codec,
        chroma_444: flag(&sdp, "x-ss-video[0].chromaSamplingType")?,
        hdr: flag(&sdp, "x-nv-video[0].dynamicRangeMode")?,
        audio_packet_duration_ms: opt_u32(&sdp, "x-nv-aqos.packetDuration")?.unwrap_or(5),
        audio_channels: opt_u32(&sdp, "x-nv-audio.surround.numChannels")?.unwrap_or(2),
        audio_channel_mask: opt_u32(&sdp, "x-nv-audio.surround.channelMask")?.unwrap_or(0x3),
        audio_high_quality: flag(&sdp, "x-nv-audio.surround.AudioQuality")?,
        encryption_enabled: opt_u32(&sdp, "x-ss-general.encryptionEnabled")?.unwrap_or(0),
        nv_feature_flags: opt_u32(&sdp, "x-nv-general.featureFlags")?.unwrap_or(0),
        ml_feature_flags: opt_u32(&sdp, "x-ml-general.featureFlags")?.unwrap_or(0),
        use_reliable_udp: opt_u32(&sdp, "x-nv-general.useReliableUdp")?.unwrap_or(0),
        max_reference_frames: opt_u32(&sdp, "x-nv-video[0].maxNumReferenceFrames")?.unwrap_or(0),
        slices_per_frame: opt_u32(&sdp, "x-nv-video[0].videoEncoderSlicesPerFrame")?.unwrap_or(1),
        client_refresh_rate_x100: opt_u32(&sdp, "x-nv-video[0].clientRefreshRateX100")?,
        encoder_csc_mode: opt_u32(&sdp, "x-nv-video[0].encoderCscMode")?.unwrap_or(0),
        dynamic_resolution: flag(&sdp, "x-nv-vqos[0].drc.enable")?,
        video_port_hint,
        lumen: parse_lumen_accept(&sdp)?,
    })
}

/// What the host offers besides codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferOptions {
    /// Sunshine feature flags (`x-ss-general.featureFlags`): 0x1 pen/touch, 0x2 controller touch and motion
    /// (the client sends a controller's touchpad and motion sensors only when it is set).
    pub feature_flags: u32,
    /// Encryption the host can do (bits of [`encryption`]).
    pub encryption_supported: u32,
    /// Encryption the host insists on even if the client opts out.
    pub encryption_requested: u32,
    /// Whether the encoder supports reference-frame invalidation.
    pub ref_pic_invalidation: bool,
    /// The lumen transport's offer, with this DESCRIBE's salt (`None`: no offer).
    pub lumen_salt: Option<[u8; 16]>,
}

impl Default for OfferOptions {
    fn default() -> Self {
        OfferOptions {
            feature_flags: 0x3,
            encryption_supported: encryption::CONTROL_V2 | encryption::VIDEO | encryption::AUDIO,
            encryption_requested: encryption::CONTROL_V2 | encryption::AUDIO,
            ref_pic_invalidation: false,
            lumen_salt: None,
        }
    }
}

/// Builds the DESCRIBE body. HEVC (`sprop-parameter-sets=AAAAAU`) and AV1 (`AV1/90000`) appear only when the
/// media plane's encoders support them: those two markers are what moonlight-common-c negotiates on.
pub fn describe_offer(host_ip: std::net::IpAddr, codecs: &CodecSupport, opts: &OfferOptions) -> String {
    let fam = if host_ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut s = String::with_capacity(512);
    s.push_str("v=0\r\n");
    s.push_str(&format!("o=lumen 0 0 IN {fam} {host_ip}\r\n"));
    s.push_str("s=lumen\r\n");
    s.push_str(&format!("c=IN {fam} {host_ip}\r\n"));
    s.push_str("t=0 0\r\n");
    s.push_str(&format!("a=x-ss-general.featureFlags:{}\r\n", opts.feature_flags));
    s.push_str(&format!("a=x-ss-general.encryptionSupported:{}\r\n", opts.encryption_supported));
    s.push_str(&format!("a=x-ss-general.encryptionRequested:{}\r\n", opts.encryption_requested));
    if opts.ref_pic_invalidation {
        s.push_str("a=x-nv-video[0].refPicInvalidation:1\r\n");
    }
    if let Some(salt) = &opts.lumen_salt {
        s.push_str(&format!("a={LUMEN_OFFER_ATTR}:{}\r\n", lumen_offer_value(salt)));
    }
    s.push_str("m=video 0 RTP/AVP 96\r\n");
    s.push_str("a=rtpmap:96 H264/90000\r\n");
    if codecs.hevc() {
        // A base64 VPS NAL prefix: the client's HEVC marker.
        s.push_str("a=fmtp:96 sprop-parameter-sets=AAAAAU\r\n");
    }
    if codecs.av1() {
        s.push_str("a=rtpmap:98 AV1/90000\r\n");
    }
    s.push_str("m=audio 0 RTP/AVP 97\r\n");
    s.push_str("a=rtpmap:97 opus/48000/2\r\n");
    // Every Opus layout (stereo, 5.1, 7.1 at normal and high quality): the client takes the first line of
    // its channel count as normal quality and the next as high.
    for l in lumen_core::audio::LAYOUTS {
        s.push_str(&format!("a=fmtp:97 surround-params={}\r\n", l.surround_params()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ANNOUNCE body as moonlight-common-c writes it for a Sunshine host (trailing space before CRLF).
    pub(crate) const STOCK_ANNOUNCE: &str = "v=0\r\no=android 0 14 IN IPv4 127.0.0.1\r\ns=NVIDIA Streaming Client\r\n\
a=x-ml-general.featureFlags:3 \r\na=x-ss-general.encryptionEnabled:5 \r\na=x-ss-video[0].chromaSamplingType:0 \r\n\
a=x-nv-video[0].clientViewportWd:1280 \r\na=x-nv-video[0].clientViewportHt:720 \r\na=x-nv-video[0].maxFPS:30 \r\n\
a=x-nv-video[0].packetSize:1392 \r\na=x-nv-video[0].rateControlMode:4 \r\na=x-nv-vqos[0].bw.maximumBitrateKbps:8000 \r\n\
a=x-ml-video.configuredBitrateKbps:10000 \r\na=x-nv-vqos[0].fec.enable:1 \r\na=x-nv-video[0].videoEncoderSlicesPerFrame:1 \r\n\
a=x-nv-clientSupportHevc:0 \r\na=x-nv-vqos[0].bitStreamFormat:0 \r\na=x-nv-video[0].dynamicRangeMode:0 \r\n\
a=x-nv-video[0].maxNumReferenceFrames:1 \r\na=x-nv-audio.surround.numChannels:2 \r\na=x-nv-audio.surround.channelMask:3 \r\n\
a=x-nv-audio.surround.enable:0 \r\na=x-nv-aqos.packetDuration:5 \r\na=x-nv-general.featureFlags:167 \r\n\
a=x-nv-general.useReliableUdp:13 \r\na=x-nv-vqos[0].fec.minRequiredFecPackets:2 \r\na=x-nv-vqos[0].drc.enable:0 \r\n\
a=x-nv-video[0].encoderCscMode:0 \r\nt=0 0\r\nm=video 47998  \r\n";

    #[test]
    fn parses_a_stock_announce() {
        let c = parse_announce(STOCK_ANNOUNCE.as_bytes()).unwrap();
        assert_eq!((c.width, c.height, c.fps, c.packet_size), (1280, 720, 30, 1392));
        assert_eq!((c.bitrate_kbps, c.configured_bitrate_kbps), (8000, Some(10000)));
        assert_eq!((c.fec_percent, c.min_fec_packets), (DEFAULT_FEC_PERCENT, 2));
        assert_eq!(c.codec, VideoCodec::H264);
        assert!(c.control_encrypted_v2() && c.audio_encrypted() && !c.video_encrypted());
        assert_eq!((c.audio_channels, c.audio_packet_duration_ms, c.use_reliable_udp), (2, 5, 13));
        assert_eq!(c.video_port_hint, Some(47998));
        assert_eq!(c.max_reference_frames, 1);
    }

    #[test]
    fn rejects_missing_and_bad_values() {
        let no_width = STOCK_ANNOUNCE.replace("a=x-nv-video[0].clientViewportWd:1280 \r\n", "");
        assert_eq!(
            parse_announce(no_width.as_bytes()),
            Err(SdpError::Missing { name: "x-nv-video[0].clientViewportWd" })
        );
        let bad = STOCK_ANNOUNCE.replace("maxFPS:30", "maxFPS:fast");
        assert!(matches!(parse_announce(bad.as_bytes()), Err(SdpError::Invalid { .. })));
        assert_eq!(parse_announce(b"hello"), Err(SdpError::BadLine(1)));
        assert_eq!(parse_announce(&[0xff, 0xfe]), Err(SdpError::NotUtf8));
        let codec = STOCK_ANNOUNCE.replace("bitStreamFormat:0", "bitStreamFormat:7");
        assert!(matches!(parse_announce(codec.as_bytes()), Err(SdpError::Invalid { .. })));
    }

    #[test]
    fn offer_markers_follow_codec_support() {
        let ip = "127.0.0.1".parse().unwrap();
        let h264 = describe_offer(ip, &CodecSupport::H264_ONLY, &OfferOptions::default());
        assert!(!h264.contains("sprop-parameter-sets=AAAAAU") && !h264.contains("AV1/90000"));
        assert!(h264.contains("a=x-ss-general.featureFlags:3\r\n"));
        let all = CodecSupport { h264: true, hevc: true, hevc_main10: false, av1_main8: true, av1_main10: false };
        let offer = describe_offer(ip, &all, &OfferOptions::default());
        assert!(offer.contains("sprop-parameter-sets=AAAAAU") && offer.contains("AV1/90000"));
        // The offer itself is well-formed SDP.
        assert!(parse_body(offer.as_bytes()).is_ok());
    }

    #[test]
    fn lumen_offer_accept_and_absent() {
        let ip = "127.0.0.1".parse().unwrap();
        // Absent: no offer, and a stock ANNOUNCE accepts nothing.
        let plain = describe_offer(ip, &CodecSupport::H264_ONLY, &OfferOptions::default());
        assert!(!plain.contains(LUMEN_OFFER_ATTR));
        assert_eq!(parse_lumen_offer(plain.as_bytes()), Ok(None));
        assert_eq!(parse_announce(STOCK_ANNOUNCE.as_bytes()).unwrap().lumen, None);
        // Offer: the client finds the salt.
        let salt = [0x5a; 16];
        let opts = OfferOptions { lumen_salt: Some(salt), ..OfferOptions::default() };
        let offer = describe_offer(ip, &CodecSupport::H264_ONLY, &opts);
        assert!(offer.contains("a=x-lumen-transport:v=1;fec=gf65536;aead=chacha20-poly1305;kdf=hkdf-sha256;salt=5a5a"));
        assert_eq!(parse_lumen_offer(offer.as_bytes()), Ok(Some(salt)));
        // Accept: the host reads it back.
        let announce = format!("{STOCK_ANNOUNCE}{}", lumen_accept_line(&salt, Some(30)));
        let c = parse_announce(announce.as_bytes()).unwrap();
        assert_eq!(c.lumen, Some(LumenAccept { version: 1, salt, fec_percent: Some(30) }));
        // A later version of offer is ignored by this client; a bad accept is an error, never a panic.
        let v2 = offer.replace("x-lumen-transport:v=1", "x-lumen-transport:v=2");
        assert_eq!(parse_lumen_offer(v2.as_bytes()), Ok(None));
        for bad in [
            "v=1;salt=zz",
            "v=1",
            "v=2;salt=5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
            "v=1;salt=5a;fec=9",
            "junk",
            "v=1;fec=999;salt=5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
        ] {
            let body = format!("{STOCK_ANNOUNCE}a={LUMEN_ACCEPT_ATTR}:{bad} \r\n");
            assert!(matches!(parse_announce(body.as_bytes()), Err(SdpError::Invalid { .. })), "{bad}");
        }
    }
}
