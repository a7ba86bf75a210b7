//! `lumen-client`, lumen's reference client: pairs with a host by PIN like Moonlight, lists its apps,
//! launches one, runs the RTSP handshake (accepting the lumen transport, or plain Moonlight media with
//! `--moonlight-media`), connects the ENet control stream, and receives, rebuilds, decrypts and decodes
//! the video headless (`--headless`: JSON lines per frame, `--save-frame`, latency p50/p99 at the end).
//! See `docs/lumen-client.md`.

mod control;
mod decode;
mod http;
mod identity;
mod pair;
mod rtsp;
mod stats;
mod video;
#[cfg(feature = "window")]
mod window;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use lumen_core::control::ControlMessage;
use lumen_core::crypto::RemoteInputKey;
use lumen_core::input::{InputEvent, Utf8Text};

#[derive(Parser)]
#[command(name = "lumen-client", about = "lumen's reference client (pairing, lumen transport, H.264 decode)")]
struct Cli {
    /// The host's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The host's base port (HTTP; HTTPS is BASE−5).
    #[arg(long, default_value_t = 47989)]
    port: u16,
    /// Where the client keeps its key, certificate and pinned host certificates.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Pair with the host: the owner enters the same PIN there (`lumen-session pin PIN`).
    Pair {
        #[arg(long)]
        pin: String,
    },
    /// List the host's apps.
    Apps,
    /// Launch an app and stream it.
    Stream(StreamArgs),
}

#[derive(clap::Args)]
struct StreamArgs {
    /// The app to launch (its title).
    #[arg(long, default_value = "Desktop")]
    app: String,
    #[arg(long, default_value_t = 1280)]
    width: u32,
    #[arg(long, default_value_t = 720)]
    height: u32,
    #[arg(long, default_value_t = 60)]
    fps: u32,
    /// Bitrate, kbit/s.
    #[arg(long, default_value_t = 10_000)]
    bitrate: u32,
    /// Datagram size (Moonlight's packetSize).
    #[arg(long, default_value_t = 1392)]
    packet_size: u32,
    /// FEC percentage asked of the lumen transport (the host raises it with the reported loss).
    #[arg(long, default_value_t = 20)]
    fec: u32,
    /// Plain Moonlight media instead of the lumen transport.
    #[arg(long)]
    moonlight_media: bool,
    /// No window: JSON lines per frame on stdout (without it a window shows the video: cargo feature
    /// `window`).
    #[arg(long)]
    headless: bool,
    /// Stop after this many decoded frames (0: no limit).
    #[arg(long, default_value_t = 0)]
    frames: u64,
    /// Stop after this many seconds (headless default 10; a window runs until closed).
    #[arg(long)]
    duration: Option<f64>,
    /// Save the last decoded picture here at the end (PNG for .png, else raw RGB24).
    #[arg(long)]
    save_frame: Option<PathBuf>,
    /// Type this text into the session once the first frame is decoded.
    #[arg(long)]
    type_text: Option<String>,
    /// Move the pointer by DX,DY once the first frame is decoded.
    #[arg(long, value_parser = parse_pair, allow_hyphen_values = true)]
    mouse_move: Option<(i16, i16)>,
    /// Leave the app running at the end (default: quit it with /cancel).
    #[arg(long)]
    keep_app: bool,
}

fn parse_pair(s: &str) -> Result<(i16, i16), String> {
    let (a, b) = s.split_once(',').ok_or("expected DX,DY")?;
    Ok((a.trim().parse().map_err(|_| "bad DX")?, b.trim().parse().map_err(|_| "bad DY")?))
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let state = cli.state_dir.clone().unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        home.join(".config/lumen-client")
    });
    let id = identity::ClientIdentity::load_or_create(&state)?;
    let http = http::Nvhttp::new(&id, &cli.host, cli.port)?;
    match cli.cmd {
        Cmd::Pair { pin } => pair::pair(&http, &id, &cli.host, &pin),
        Cmd::Apps => {
            for (app_id, title) in apps(&http, &id)? {
                println!("{app_id}\t{title}");
            }
            Ok(())
        }
        Cmd::Stream(a) => stream(&http, &id, &cli.host, &a),
    }
}

fn ident(id: &identity::ClientIdentity) -> Vec<(&'static str, String)> {
    vec![("uniqueid", id.unique_id.clone()), ("uuid", hex::encode(rand::random::<[u8; 16]>()))]
}

fn apps(http: &http::Nvhttp, id: &identity::ClientIdentity) -> anyhow::Result<Vec<(u32, String)>> {
    let xml = http.get_tls("/applist", &ident(id))?;
    let ids = http::xml_all(&xml, "ID");
    let titles = http::xml_all(&xml, "AppTitle");
    Ok(ids.iter().zip(titles).filter_map(|(i, t)| Some((i.parse().ok()?, t))).collect())
}

fn stream(http: &http::Nvhttp, id: &identity::ClientIdentity, host: &str, a: &StreamArgs) -> anyhow::Result<()> {
    if !a.headless && !cfg!(feature = "window") {
        bail!("built without the `window` feature: run with --headless, or build with --features window");
    }
    let (app_id, _) = apps(http, id)?
        .into_iter()
        .find(|(_, t)| t == &a.app)
        .with_context(|| format!("the host has no app called {:?}", a.app))?;
    let rikey: [u8; 16] = rand::random();
    let rikeyid: i32 = rand::random();
    let mut q = ident(id);
    q.extend([
        ("appid", app_id.to_string()),
        ("mode", format!("{}x{}x{}", a.width, a.height, a.fps)),
        ("additionalStates", "1".into()),
        ("sops", "0".into()),
        ("rikey", hex::encode(rikey)),
        ("rikeyid", rikeyid.to_string()),
        ("localAudioPlayMode", "0".into()),
        ("surroundAudioInfo", "196610".into()),
        ("remoteControllersBitmap", "0".into()),
        ("gcmap", "0".into()),
    ]);
    let xml = http.get_tls("/launch", &q).or_else(|e| {
        tracing::info!(error = %e, "launch refused: resuming instead");
        http.get_tls("/resume", &q)
    })?;
    let url = http::xml_one(&xml, "sessionUrl0")?;
    tracing::info!(%url, "launched");
    let wish = rtsp::StreamWish {
        width: a.width,
        height: a.height,
        fps: a.fps,
        bitrate_kbps: a.bitrate,
        packet_size: a.packet_size,
        lumen: !a.moonlight_media,
        fec_percent: a.fec,
    };
    let neg = rtsp::handshake(&url, &wish)?;
    tracing::info!(
        lumen = neg.lumen_salt.is_some(),
        video = neg.video_port,
        control = neg.control_port,
        "stream set up"
    );
    let addr =
        |port: u16| -> anyhow::Result<SocketAddr> { (host, port).to_socket_addrs()?.next().context("host address") };
    let stop = Arc::new(AtomicBool::new(false));
    let (ctl_tx, ctl_rx) = sync_channel::<ControlMessage>(256);
    let key = RemoteInputKey::new(rikey, rikeyid);
    let control = control::spawn(addr(neg.control_port)?, neg.connect_data, key, ctl_rx, stop.clone())?;
    let mut input = Vec::new();
    if let Some(t) = &a.type_text {
        for c in t.chars() {
            let mut b = [0u8; 4];
            if let Some(u) = Utf8Text::new(c.encode_utf8(&mut b)) {
                input.push(ControlMessage::Input(InputEvent::Text(u)));
            }
        }
    }
    if let Some((dx, dy)) = a.mouse_move {
        input.push(ControlMessage::Input(InputEvent::MouseMove { dx, dy }));
    }
    let setup = video::VideoSetup {
        video: addr(neg.video_port)?,
        audio: addr(neg.audio_port)?,
        ping_payload: neg.ping_payload,
        lumen: neg.lumen_salt.map(|s| (rikey, s)),
        packet_size: a.packet_size as usize,
        max_frames: a.frames,
        duration: Duration::from_secs_f64(a.duration.unwrap_or(if a.headless { 10.0 } else { 1e9 }).max(0.1)),
        input,
    };
    let transport = if setup.lumen.is_some() { "lumen" } else { "moonlight" };
    let result = if a.headless {
        video::run(&setup, &ctl_tx, &stop, &mut |_, _, _| {})
    } else {
        windowed(setup, &ctl_tx, &stop, &a.app)
    };
    stop.store(true, Ordering::Relaxed);
    let _ = control.join();
    if !a.keep_app {
        if let Err(e) = http.get_tls("/cancel", &ident(id)) {
            tracing::warn!(error = %e, "cancel failed");
        }
    }
    let (dec, lat, frames) = result?;
    if let Some(p) = &a.save_frame {
        dec.save(p)?;
        let (_, w, h) = dec.rgb();
        tracing::info!(path = %p.display(), w, h, "last frame saved");
    }
    let (_, w, h) = dec.rgb();
    println!("{}", lat.summary(frames, serde_json::json!({ "name": transport, "width": w, "height": h })));
    Ok(())
}

/// The video on a thread of its own and the window on this one (winit wants the main thread).
#[cfg(feature = "window")]
fn windowed(
    setup: video::VideoSetup,
    control: &std::sync::mpsc::SyncSender<ControlMessage>,
    stop: &Arc<AtomicBool>,
    title: &str,
) -> anyhow::Result<(decode::H264, stats::Latencies, u64)> {
    let (el, presenter) = window::event_loop()?;
    let (p, ctl, st) = (presenter.clone(), control.clone(), stop.clone());
    let video = std::thread::Builder::new().name("lumen-client-video".into()).spawn(move || {
        let r = video::run(&setup, &ctl, &st, &mut |rgb, w, h| p.show(rgb, w, h));
        st.store(true, Ordering::Relaxed);
        p.wake();
        r
    })?;
    let shown = window::run(el, &presenter, title, control.clone(), stop.clone());
    stop.store(true, Ordering::Relaxed);
    let r = video.join().map_err(|_| anyhow::anyhow!("the video thread panicked"))?;
    shown?;
    r
}

#[cfg(not(feature = "window"))]
fn windowed(
    _: video::VideoSetup,
    _: &std::sync::mpsc::SyncSender<ControlMessage>,
    _: &Arc<AtomicBool>,
    _: &str,
) -> anyhow::Result<(decode::H264, stats::Latencies, u64)> {
    bail!("built without the `window` feature")
}
