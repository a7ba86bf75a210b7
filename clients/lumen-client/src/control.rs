//! The ENet control stream as a client (`rusty_enet`, Moonlight's control v2 envelope sealed with
//! `ControlCodec::client`): connects with the session's connect data, sends start A/B, a periodic ping every
//! 100 ms and whatever the other threads queue (loss reports, IDR requests, input); logs what the host sends
//! and ends on its termination message.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use lumen_core::control::envelope::ControlCodec;
use lumen_core::control::ControlMessage;
use lumen_core::crypto::RemoteInputKey;
use rusty_enet::{Event, Host, HostSettings, Packet};

/// Channels the client opens (Moonlight's count).
const CHANNELS: usize = 0x10;

/// Starts the control thread; it runs until `stop` is set or the host ends the stream.
pub fn spawn(
    host: SocketAddr,
    connect_data: u32,
    key: RemoteInputKey,
    outbox: Receiver<ControlMessage>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<JoinHandle<()>> {
    Ok(std::thread::Builder::new().name("lumen-client-control".into()).spawn(move || {
        if let Err(e) = run(host, connect_data, &key, &outbox, &stop) {
            tracing::error!(error = %e, "control stream failed");
        }
        stop.store(true, Ordering::Relaxed);
    })?)
}

fn run(
    addr: SocketAddr,
    connect_data: u32,
    key: &RemoteInputKey,
    outbox: &Receiver<ControlMessage>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let sock = UdpSocket::bind(if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
    let settings = HostSettings { peer_limit: 1, channel_limit: CHANNELS, ..Default::default() };
    let mut host = Host::new(sock, settings).map_err(|e| anyhow::anyhow!("ENet host: {e:?}"))?;
    let peer = host.connect(addr, CHANNELS, connect_data).context("ENet connect")?.id();
    let mut codec = ControlCodec::client(key);
    let mut buf = vec![0u8; 4096];
    let mut connected = false;
    let mut last_ping = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stop.load(Ordering::Relaxed) {
        while let Some(ev) = host.service().context("ENet service")? {
            match ev {
                Event::Connect { .. } => {
                    tracing::info!("control stream connected");
                    connected = true;
                }
                Event::Disconnect { .. } => {
                    tracing::info!("control stream disconnected by the host");
                    return Ok(());
                }
                Event::Receive { packet, .. } => {
                    let mut data = packet.data().to_vec();
                    match codec.open(&mut data) {
                        Ok((_, ControlMessage::Termination(t))) => {
                            tracing::info!(?t, "the host ended the stream");
                            return Ok(());
                        }
                        Ok((_, m)) => tracing::debug!(ty = format_args!("{:#06x}", m.type_id()), "control message"),
                        Err(e) => tracing::warn!(error = %e, "undecodable control message"),
                    }
                }
            }
        }
        if !connected {
            anyhow::ensure!(Instant::now() < deadline, "no ENet connection within 10 s");
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        let first = codec.next_seq() == 0;
        let mut send = |m: &ControlMessage, host: &mut Host<UdpSocket>| -> anyhow::Result<()> {
            let n = codec.seal(m, &mut buf).map_err(|e| anyhow::anyhow!("seal: {e}"))?;
            host.peer_mut(peer).send(0, &Packet::reliable(&buf[..n])).map_err(|e| anyhow::anyhow!("ENet send: {e:?}"))
        };
        if first {
            send(&ControlMessage::StartA, &mut host)?;
            send(&ControlMessage::StartB, &mut host)?;
        }
        if last_ping.elapsed() >= Duration::from_millis(100) {
            send(&ControlMessage::PeriodicPing, &mut host)?;
            last_ping = Instant::now();
        }
        loop {
            match outbox.try_recv() {
                Ok(m) => send(&m, &mut host)?,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(()),
            }
        }
        host.flush();
        std::thread::sleep(Duration::from_millis(2));
    }
    host.peer_mut(peer).disconnect(0);
    host.flush();
    Ok(())
}
