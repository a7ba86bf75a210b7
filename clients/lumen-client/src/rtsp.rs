//! The RTSP handshake as a client (plain `rtsp://`, one request per TCP connection as the host answers):
//! OPTIONS, DESCRIBE (finds the host's lumen-transport offer), SETUP of audio, video and control (ports and
//! session tokens), ANNOUNCE (the stream configuration, accepting the lumen transport unless Moonlight media
//! were asked for), PLAY.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context};
use lumen_stream::sdp::{lumen_accept_line, parse_lumen_offer};

/// What the client asks for.
#[derive(Debug, Clone, Copy)]
pub struct StreamWish {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bitrate_kbps: u32,
    pub packet_size: u32,
    /// Ask for the lumen transport (when the host offers it).
    pub lumen: bool,
    /// FEC percentage asked of the lumen transport.
    pub fec_percent: u32,
}

/// What the handshake set up.
#[derive(Debug, Clone)]
pub struct Negotiated {
    pub video_port: u16,
    pub audio_port: u16,
    pub control_port: u16,
    /// `X-SS-Ping-Payload` (16 bytes), when the host sent one.
    pub ping_payload: Option<[u8; 16]>,
    /// `X-SS-Connect-Data`.
    pub connect_data: u32,
    /// The accepted offer's salt when the lumen transport is in use.
    pub lumen_salt: Option<[u8; 16]>,
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

struct Rtsp {
    addr: String,
    url: String,
    cseq: u32,
    session: Option<String>,
}

impl Rtsp {
    fn request(&mut self, method: &str, target: &str, extra: &[(&str, String)], body: &[u8]) -> anyhow::Result<Reply> {
        self.cseq += 1;
        let mut req = format!(
            "{method} {target} RTSP/1.0\r\nCSeq: {}\r\nX-GS-ClientVersion: 14\r\nHost: {}\r\n",
            self.cseq, self.addr
        );
        if let Some(s) = &self.session {
            req.push_str(&format!("Session: {s}\r\n"));
        }
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() {
            req.push_str(&format!("Content-type: application/sdp\r\nContent-length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        let mut s = TcpStream::connect(&self.addr).with_context(|| format!("RTSP connect {}", self.addr))?;
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.write_all(req.as_bytes())?;
        s.write_all(body)?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)?;
        let reply = parse_reply(&buf)?;
        if reply.status != 200 {
            bail!("RTSP {method} answered {}", reply.status);
        }
        Ok(reply)
    }
}

fn parse_reply(buf: &[u8]) -> anyhow::Result<Reply> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").context("RTSP reply without a header end")?;
    let head = std::str::from_utf8(&buf[..end]).context("RTSP reply head not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("RTSP status line")?;
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    Ok(Reply { status, headers, body: buf[end + 4..].to_vec() })
}

fn port_of(r: &Reply) -> anyhow::Result<u16> {
    let t = r.header("Transport").context("SETUP reply without Transport")?;
    t.split(';')
        .find_map(|p| p.trim().strip_prefix("server_port="))
        .and_then(|p| p.split('-').next()?.parse().ok())
        .context("SETUP reply without server_port")
}

fn announce_body(w: &StreamWish, lumen_salt: Option<&[u8; 16]>) -> String {
    let mut a = String::new();
    let mut attr = |k: &str, v: String| a.push_str(&format!("a={k}:{v} \r\n"));
    attr("x-ml-general.featureFlags", "3".into());
    attr("x-ss-general.encryptionEnabled", "5".into());
    attr("x-nv-video[0].clientViewportWd", w.width.to_string());
    attr("x-nv-video[0].clientViewportHt", w.height.to_string());
    attr("x-nv-video[0].maxFPS", w.fps.to_string());
    attr("x-nv-video[0].packetSize", w.packet_size.to_string());
    attr("x-nv-video[0].rateControlMode", "4".into());
    attr("x-nv-vqos[0].bw.maximumBitrateKbps", w.bitrate_kbps.to_string());
    attr("x-ml-video.configuredBitrateKbps", w.bitrate_kbps.to_string());
    attr("x-nv-vqos[0].fec.enable", "1".into());
    attr("x-nv-video[0].videoEncoderSlicesPerFrame", "1".into());
    attr("x-nv-vqos[0].bitStreamFormat", "0".into());
    attr("x-nv-video[0].dynamicRangeMode", "0".into());
    attr("x-nv-video[0].maxNumReferenceFrames", "1".into());
    attr("x-nv-audio.surround.numChannels", "2".into());
    attr("x-nv-audio.surround.channelMask", "3".into());
    attr("x-nv-aqos.packetDuration", "5".into());
    attr("x-nv-general.featureFlags", "167".into());
    attr("x-nv-general.useReliableUdp", "13".into());
    attr("x-nv-vqos[0].fec.minRequiredFecPackets", "2".into());
    attr("x-nv-video[0].encoderCscMode", "0".into());
    let mut s = format!("v=0\r\no=lumen-client 0 14 IN IPv4 0.0.0.0\r\ns=lumen-client\r\n{a}");
    if let Some(salt) = lumen_salt {
        s.push_str(&lumen_accept_line(salt, Some(w.fec_percent)));
    }
    s.push_str("t=0 0\r\nm=video 47998  \r\n");
    s
}

/// Runs the handshake against `url` (`rtsp://host:port`, from the launch answer).
pub fn handshake(url: &str, wish: &StreamWish) -> anyhow::Result<Negotiated> {
    let addr =
        url.strip_prefix("rtsp://").context("only plain rtsp:// session URLs are supported")?.trim_end_matches('/');
    let mut r = Rtsp { addr: addr.to_owned(), url: url.trim_end_matches('/').to_owned(), cseq: 0, session: None };
    let base = r.url.clone();
    r.request("OPTIONS", &base, &[], b"")?;
    let describe = r.request("DESCRIBE", &base, &[("Accept", "application/sdp".into())], b"")?;
    let offer = parse_lumen_offer(&describe.body).context("DESCRIBE body")?;
    let lumen_salt = if wish.lumen {
        Some(offer.context("the host does not offer the lumen transport (use --moonlight-media)")?)
    } else {
        None
    };
    let transport = ("Transport", "unicast;X-GS-ClientPort=50000-50001".to_owned());
    let audio = r.request("SETUP", "streamid=audio/0/0", std::slice::from_ref(&transport), b"")?;
    r.session = audio.header("Session").map(|s| s.split(';').next().unwrap_or(s).to_owned());
    let audio_port = port_of(&audio)?;
    let ping_payload = audio.header("X-SS-Ping-Payload").and_then(|p| p.as_bytes().try_into().ok());
    let video = r.request("SETUP", "streamid=video/0/0", std::slice::from_ref(&transport), b"")?;
    let control = r.request("SETUP", "streamid=control/13/0", &[transport], b"")?;
    let connect_data = control.header("X-SS-Connect-Data").and_then(|d| d.parse().ok()).unwrap_or(0);
    let body = announce_body(wish, lumen_salt.as_ref());
    r.request("ANNOUNCE", "streamid=control/13/0", &[], body.as_bytes())?;
    r.request("PLAY", "/", &[], b"")?;
    Ok(Negotiated {
        video_port: port_of(&video)?,
        audio_port,
        control_port: port_of(&control)?,
        ping_payload,
        connect_data,
        lumen_salt,
    })
}
