//! The session's PulseAudio-protocol server (the `pulseaudio` crate's protocol types; no shm: clients fall
//! back to socket writes): one sink, `lumen`, at 48 kHz with the stream's channel count. It answers the
//! handshake (auth, client name), the introspection apps ask for (server info, the sink), and the playback
//! stream life (create, prebuffer → started, write, cork, flush, drain, delete, latency) — enough for
//! `paplay`, SDL, GStreamer's `pulsesink` and browsers. Samples go into the [`Mixer`]; the session's audio
//! clock takes them out. One thread, `poll(2)` over the listener and the clients; a client that sends
//! garbage is dropped with a log line, never the server.

use std::collections::HashMap;
use std::ffi::CString;
use std::io::{Cursor, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pulseaudio::protocol::{self, Command, PulseError};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::{recv, RecvFlags};

use super::mixer::{Mixer, SampleFormat, StreamKey, StreamSpec, RATE};

/// The sink's name.
pub const SINK_NAME: &str = "lumen";
/// How often flow control runs (and, with no client streaming, how finely samples are played to nowhere).
const TICK: Duration = Duration::from_millis(5);
/// The sink's latency beyond a stream's queue (see the latency reply).
const SINK_LATENCY_USEC: u64 = 0;
/// Largest message a client may send (Pulse's own limit on a memblock queue).
const MAX_MESSAGE: usize = protocol::MAX_MEMBLOCKQ_LENGTH;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Bytes still needed before the stream starts.
    Prebuffering(usize),
    Playing,
    /// Draining; the sequence number of the drain request to acknowledge.
    Draining(u32),
}

struct Playback {
    phase: Phase,
    attr: protocol::stream::BufferAttr,
    spec: StreamSpec,
    /// Bytes asked of the client and not yet received.
    requested: usize,
    corked: bool,
    written: u64,
}

struct Client {
    id: u32,
    sock: UnixStream,
    inbox: Vec<u8>,
    version: u16,
    authenticated: bool,
    named: bool,
    streams: HashMap<u32, Playback>,
}

/// Shared with the session: whether a client streams the session now (else samples play to nowhere).
#[derive(Default)]
pub struct Consumer {
    pub attached: AtomicBool,
}

/// Runs the server on `listener` until `stop` is set.
pub fn serve(listener: UnixListener, mixer: Arc<Mixer>, consumer: Arc<Consumer>, stop: Arc<AtomicBool>) {
    if let Err(e) = listener.set_nonblocking(true) {
        tracing::error!(error = %e, "audio server: listener");
        return;
    }
    let mut clients: Vec<Client> = Vec::new();
    let mut next_id = 1u32;
    let mut next_channel = 0u32;
    let mut last_tick = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let readable: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(clients.len() + 1);
            fds.push(PollFd::new(&listener, PollFlags::IN));
            fds.extend(clients.iter().map(|c| PollFd::new(&c.sock, PollFlags::IN)));
            let ts = Timespec { tv_sec: 0, tv_nsec: TICK.as_nanos() as i64 };
            if poll(&mut fds, Some(&ts)).is_err() {
                continue;
            }
            fds.iter().map(|f| !f.revents().is_empty()).collect()
        };
        if readable[0] {
            while let Ok((sock, _)) = listener.accept() {
                let _ = sock.set_write_timeout(Some(Duration::from_secs(1)));
                clients.push(Client {
                    id: next_id,
                    sock,
                    inbox: Vec::new(),
                    version: protocol::MAX_VERSION,
                    authenticated: false,
                    named: false,
                    streams: HashMap::new(),
                });
                next_id += 1;
            }
        }
        let mut gone = Vec::new();
        for (i, c) in clients.iter_mut().enumerate() {
            if !readable.get(i + 1).copied().unwrap_or(false) {
                continue;
            }
            let keep = match recv(&c.sock, &mut buf[..], RecvFlags::DONTWAIT) {
                Ok((_, 0)) => false,
                Ok((_, n)) => {
                    c.inbox.extend_from_slice(&buf[..n]);
                    match handle_inbox(c, &mixer, &mut next_channel) {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::warn!(client = c.id, error = %e, "audio server: client dropped");
                            false
                        }
                    }
                }
                Err(e) => e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::INTR,
            };
            if !keep {
                gone.push(i);
            }
        }
        for i in gone.into_iter().rev() {
            let c = clients.swap_remove(i);
            for ch in c.streams.keys() {
                mixer.remove((c.id, *ch));
            }
        }
        let now = Instant::now();
        if now.duration_since(last_tick) >= TICK {
            let elapsed = now.duration_since(last_tick);
            last_tick = now;
            if !consumer.attached.load(Ordering::Relaxed) {
                mixer.discard((elapsed.as_secs_f64() * f64::from(RATE)) as usize);
            }
            for c in &mut clients {
                if let Err(e) = flow(c, &mixer) {
                    tracing::debug!(client = c.id, error = %e, "audio server: flow control");
                }
            }
        }
    }
}

fn sample_format(f: protocol::SampleFormat) -> Option<SampleFormat> {
    match f {
        protocol::SampleFormat::U8 => Some(SampleFormat::U8),
        protocol::SampleFormat::S16Le => Some(SampleFormat::S16Le),
        protocol::SampleFormat::S32Le => Some(SampleFormat::S32Le),
        protocol::SampleFormat::Float32Le => Some(SampleFormat::F32Le),
        _ => None,
    }
}

/// Handles every complete message in the client's inbox.
fn handle_inbox(c: &mut Client, mixer: &Mixer, next_channel: &mut u32) -> anyhow::Result<()> {
    let inbox = std::mem::take(&mut c.inbox);
    let mut at = 0;
    let result = (|| {
        while inbox.len() - at >= protocol::DESCRIPTOR_SIZE {
            let desc = protocol::read_descriptor(&mut Cursor::new(&inbox[at..at + protocol::DESCRIPTOR_SIZE]))?;
            let len = desc.length as usize;
            if len > MAX_MESSAGE {
                anyhow::bail!("message of {len} bytes");
            }
            if inbox.len() - at - protocol::DESCRIPTOR_SIZE < len {
                break;
            }
            let start = at + protocol::DESCRIPTOR_SIZE;
            let payload = &inbox[start..start + len];
            at = start + len;
            if desc.channel == u32::MAX {
                let (seq, cmd) = Command::read_tag_prefixed(&mut Cursor::new(payload), c.version)?;
                command(c, mixer, next_channel, seq, cmd)?;
            } else {
                stream_write(c, mixer, desc.channel, payload)?;
            }
        }
        Ok(())
    })();
    c.inbox = inbox;
    c.inbox.drain(..at);
    result
}

fn sink_info(mixer: &Mixer) -> protocol::SinkInfo {
    let channels = mixer.channels() as u8;
    let mut s = protocol::SinkInfo::new_dummy(0);
    s.name = CString::new(SINK_NAME).unwrap_or_default();
    s.description = CString::new("lumen session").ok();
    s.sample_spec = protocol::SampleSpec { format: protocol::SampleFormat::S16Le, channels, sample_rate: RATE };
    s.channel_map = channel_map(channels);
    s.cvolume = protocol::ChannelVolume::norm(channels);
    s
}

fn command(c: &mut Client, mixer: &Mixer, next_channel: &mut u32, seq: u32, cmd: Command) -> anyhow::Result<()> {
    let v = c.version;
    match cmd {
        Command::Auth(p) => {
            c.authenticated = true;
            c.version = p.version.min(protocol::MAX_VERSION);
            let reply = protocol::AuthReply { version: c.version, ..Default::default() };
            protocol::write_reply_message(&mut c.sock, seq, &reply, c.version)?;
        }
        _ if !c.authenticated => protocol::write_error(&mut c.sock, seq, &PulseError::AccessDenied)?,
        Command::SetClientName(_) => {
            c.named = true;
            protocol::write_reply_message(&mut c.sock, seq, &protocol::SetClientNameReply { client_id: c.id }, v)?;
        }
        Command::GetServerInfo => {
            let channels = mixer.channels() as u8;
            let info = protocol::ServerInfo {
                server_name: CString::new("lumen").ok(),
                server_version: CString::new("15.0.0").ok(),
                sample_spec: protocol::SampleSpec {
                    format: protocol::SampleFormat::S16Le,
                    channels,
                    sample_rate: RATE,
                },
                default_sink_name: CString::new(SINK_NAME).ok(),
                channel_map: sink_info(mixer).channel_map,
                ..Default::default()
            };
            protocol::write_reply_message(&mut c.sock, seq, &info, v)?;
        }
        Command::GetSinkInfo(_) => protocol::write_reply_message(&mut c.sock, seq, &sink_info(mixer), v)?,
        Command::LookupSink(_) => protocol::write_reply_message(&mut c.sock, seq, &protocol::LookupReply(0), v)?,
        Command::GetSinkInfoList => protocol::write_reply_message(&mut c.sock, seq, &vec![sink_info(mixer)], v)?,
        Command::CreatePlaybackStream(mut p) => {
            // Clients of the extended API (GStreamer's pulsesink) give the spec in their format list instead.
            let pcm_format = p.formats.iter().find(|f| f.encoding == protocol::FormatEncoding::Pcm).cloned();
            if p.sample_spec.format == protocol::SampleFormat::Invalid || p.sample_spec.channels == 0 {
                if let Some(spec) = pcm_format.as_ref().and_then(spec_of_format) {
                    p.sample_spec = spec;
                    if p.channel_map.num_channels() != spec.channels {
                        p.channel_map = channel_map(spec.channels);
                    }
                }
            }
            let Some(format) = sample_format(p.sample_spec.format) else {
                protocol::write_error(&mut c.sock, seq, &PulseError::NotSupported)?;
                return Ok(());
            };
            let spec =
                StreamSpec { format, channels: usize::from(p.sample_spec.channels), rate: p.sample_spec.sample_rate };
            if spec.channels == 0 || spec.rate == 0 {
                protocol::write_error(&mut c.sock, seq, &PulseError::Invalid)?;
                return Ok(());
            }
            buffer_defaults(&mut p.buffer_attr, spec);
            let channel = *next_channel;
            *next_channel += 1;
            mixer.add((c.id, channel), spec);
            let corked = p.flags.start_corked;
            let prebuf = p.buffer_attr.pre_buffering as usize;
            let phase = if prebuf == 0 { Phase::Playing } else { Phase::Prebuffering(prebuf) };
            if phase == Phase::Playing && !corked {
                mixer.set_playing((c.id, channel), true);
            }
            let requested = p.buffer_attr.target_length as usize;
            c.streams.insert(channel, Playback { phase, attr: p.buffer_attr, spec, requested, corked, written: 0 });
            let reply = protocol::CreatePlaybackStreamReply {
                channel,
                stream_index: channel,
                sample_spec: p.sample_spec,
                channel_map: p.channel_map,
                buffer_attr: p.buffer_attr,
                requested_bytes: requested as u32,
                sink_name: CString::new(SINK_NAME).ok(),
                format: pcm_format.unwrap_or_else(|| protocol::FormatInfo::new(protocol::FormatEncoding::Pcm)),
                ..Default::default()
            };
            protocol::write_reply_message(&mut c.sock, seq, &reply, v)?;
        }
        Command::DeletePlaybackStream(ch) => {
            c.streams.remove(&ch);
            mixer.remove((c.id, ch));
            protocol::write_ack_message(&mut c.sock, seq)?;
        }
        Command::DrainPlaybackStream(ch) => match c.streams.get_mut(&ch) {
            Some(s) => {
                s.phase = Phase::Draining(seq);
                mixer.set_playing((c.id, ch), !s.corked);
            }
            None => protocol::write_error(&mut c.sock, seq, &PulseError::NoEntity)?,
        },
        Command::CorkPlaybackStream(p) => {
            if let Some(s) = c.streams.get_mut(&p.channel) {
                s.corked = p.cork;
                let started = matches!(s.phase, Phase::Playing | Phase::Draining(_));
                mixer.set_playing((c.id, p.channel), !p.cork && started);
            }
            protocol::write_ack_message(&mut c.sock, seq)?;
        }
        Command::FlushPlaybackStream(ch) => {
            mixer.flush((c.id, ch));
            protocol::write_ack_message(&mut c.sock, seq)?;
        }
        Command::TriggerPlaybackStream(ch) | Command::PrebufPlaybackStream(ch) => {
            if let Some(s) = c.streams.get_mut(&ch) {
                s.phase = Phase::Playing;
                mixer.set_playing((c.id, ch), !s.corked);
            }
            protocol::write_ack_message(&mut c.sock, seq)?;
        }
        Command::GetPlaybackLatency(p) => {
            let key: StreamKey = (c.id, p.channel);
            let Some(s) = c.streams.get(&p.channel) else {
                protocol::write_error(&mut c.sock, seq, &PulseError::NoEntity)?;
                return Ok(());
            };
            let read = mixer.read_frames(key) * s.spec.frame_bytes() as u64 * u64::from(s.spec.rate) / u64::from(RATE);
            // What the stream has queued is `write_offset - read_offset`: the client adds that itself. The
            // sink's own latency is what comes after the mix (Opus encoding and the send: well under a
            // millisecond); reporting the queue here too counted it twice, and a player that syncs video to
            // its audio clock (GStreamer) showed each frame a queue late (beep 222 ms before its flash).
            let reply = protocol::PlaybackLatency {
                sink_usec: SINK_LATENCY_USEC,
                source_usec: 0,
                playing: matches!(s.phase, Phase::Playing | Phase::Draining(_)) && !s.corked,
                local_time: p.now,
                remote_time: SystemTime::now(),
                write_offset: s.written as i64,
                read_offset: read as i64,
                underrun_for: 0,
                playing_for: 0,
            };
            protocol::write_reply_message(&mut c.sock, seq, &reply, v)?;
        }
        Command::Subscribe(_)
        | Command::SetPlaybackStreamName(_)
        | Command::UpdatePlaybackStreamProplist(_)
        | Command::UpdateClientProplist(_)
        | Command::SetSinkInputVolume(_)
        | Command::SetSinkInputMute(_)
        | Command::SetSinkVolume(_)
        | Command::SetSinkMute(_) => protocol::write_ack_message(&mut c.sock, seq)?,
        other => {
            tracing::debug!(client = c.id, tag = ?other.tag(), "audio server: command not implemented");
            protocol::write_error(&mut c.sock, seq, &PulseError::NotImplemented)?;
        }
    }
    Ok(())
}

/// The sample spec a PCM format info describes (`format.sample_format`, `format.rate`, `format.channels`; the
/// values are JSON: a quoted string, numbers).
fn spec_of_format(f: &protocol::FormatInfo) -> Option<protocol::SampleSpec> {
    let text = |key: &std::ffi::CStr| {
        let v = f.props.get_bytes(key)?;
        let s = std::str::from_utf8(v).ok()?.trim_end_matches('\0').trim().trim_matches('"').to_owned();
        Some(s)
    };
    let format = match text(c"format.sample_format")?.as_str() {
        "u8" => protocol::SampleFormat::U8,
        "s16le" => protocol::SampleFormat::S16Le,
        "s32le" => protocol::SampleFormat::S32Le,
        "float32le" => protocol::SampleFormat::Float32Le,
        _ => return None,
    };
    let sample_rate = text(c"format.rate")?.parse().ok()?;
    let channels = text(c"format.channels")?.parse().ok()?;
    Some(protocol::SampleSpec { format, channels, sample_rate })
}

/// Samples a client wrote to one of its streams.
fn stream_write(c: &mut Client, mixer: &Mixer, channel: u32, payload: &[u8]) -> anyhow::Result<()> {
    let Some(s) = c.streams.get_mut(&channel) else { anyhow::bail!("write to unknown stream {channel}") };
    mixer.write((c.id, channel), payload, lumen_stream::media::timing::monotonic_ns());
    s.written += payload.len() as u64;
    s.requested = s.requested.saturating_sub(payload.len());
    if let Phase::Prebuffering(n) = s.phase {
        let left = n.saturating_sub(payload.len());
        if left == 0 {
            s.phase = Phase::Playing;
            mixer.set_playing((c.id, channel), !s.corked);
            protocol::write_command_message(&mut c.sock, u32::MAX, &Command::Started(channel), c.version)?;
        } else {
            s.phase = Phase::Prebuffering(left);
        }
    }
    Ok(())
}

/// Asks each playing stream for what its buffer lacks, and acknowledges finished drains.
fn flow(c: &mut Client, mixer: &Mixer) -> anyhow::Result<()> {
    let mut drained = Vec::new();
    for (ch, s) in c.streams.iter_mut() {
        let queued = mixer.queued_bytes((c.id, *ch));
        if let Phase::Draining(seq) = s.phase {
            if queued == 0 {
                drained.push((*ch, seq));
            }
            continue;
        }
        let want = (s.attr.target_length as usize).saturating_sub(queued + s.requested);
        if want >= (s.attr.minimum_request_length as usize).max(1) {
            s.requested += want;
            let req = Command::Request(protocol::Request { channel: *ch, length: want as u32 });
            protocol::write_command_message(&mut c.sock, u32::MAX, &req, c.version)?;
        }
    }
    for (ch, seq) in drained {
        if let Some(s) = c.streams.get_mut(&ch) {
            s.phase = Phase::Playing;
        }
        protocol::write_ack_message(&mut c.sock, seq)?;
    }
    c.sock.flush()?;
    Ok(())
}

/// Fills the buffer attributes a client left to the server (-1): 20 ms target (the audio host latency is
/// mostly this buffer: 35 ms p50 with 40 ms, 17.5 ms with 20 ms), a quarter of it as the minimum request, the
/// target as prebuffer.
fn buffer_defaults(a: &mut protocol::stream::BufferAttr, spec: StreamSpec) {
    let per_ms = spec.frame_bytes() * spec.rate as usize / 1000;
    if a.max_length == u32::MAX {
        a.max_length = (per_ms * 2000) as u32;
    }
    if a.target_length == u32::MAX {
        a.target_length = (per_ms * 20) as u32;
    }
    if a.pre_buffering == u32::MAX {
        a.pre_buffering = a.target_length;
    }
    if a.minimum_request_length == u32::MAX {
        a.minimum_request_length = a.target_length / 4;
    }
}

/// The sink's channel map: Moonlight's order (FL FR C LFE BL BR SL SR) for its channel count.
fn channel_map(channels: u8) -> protocol::ChannelMap {
    use protocol::ChannelPosition as P;
    let all =
        [P::FrontLeft, P::FrontRight, P::FrontCenter, P::Lfe, P::RearLeft, P::RearRight, P::SideLeft, P::SideRight];
    match channels {
        1 => protocol::ChannelMap::mono(),
        2 => protocol::ChannelMap::stereo(),
        n => protocol::ChannelMap::new(all.into_iter().take(usize::from(n))),
    }
}

/// Binds the server's socket at `path` (its directory is created private).
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let _ = std::fs::remove_file(path);
    UnixListener::bind(path)
}
