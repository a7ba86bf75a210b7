//! The session's audio server against real clients and bad input: `pactl` (libpulse) sees the server and its
//! sink; a client that sends garbage, or a frame claiming a huge size, is dropped with a log line while the
//! server keeps serving everyone else.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use lumen_compositor::audio::SessionAudio;

fn pactl(socket: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("pactl")
        .arg("-s")
        .arg(format!("unix:{}", socket.display()))
        .args(args)
        .output()
        .expect("pactl runs (pulseaudio-utils: scripts/deps/audio.apt)");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn libpulse_clients_see_the_sink_and_garbage_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("pulse").join("native");
    let audio = SessionAudio::start(&socket).unwrap();
    let (ok, info) = pactl(&socket, &["info"]);
    assert!(ok, "pactl info: {info}");
    assert!(info.contains("Default Sink: lumen"), "{info}");
    let (ok, sinks) = pactl(&socket, &["list", "sinks", "short"]);
    assert!(ok && sinks.contains("lumen"), "{sinks}");

    // Garbage, then a descriptor announcing a 1 GiB message: each connection is dropped.
    let mut junk = UnixStream::connect(&socket).unwrap();
    junk.write_all(&[0xff; 200]).unwrap();
    let mut huge = UnixStream::connect(&socket).unwrap();
    let mut desc = [0u8; 20];
    desc[0..4].copy_from_slice(&(1u32 << 30).to_be_bytes());
    desc[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    huge.write_all(&desc).unwrap();
    for s in [&mut junk, &mut huge] {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 64];
        let n = std::io::Read::read(s, &mut buf).unwrap_or(0);
        assert_eq!(n, 0, "the server closes a connection that sent garbage");
    }
    // Everyone else is still served.
    let (ok, info) = pactl(&socket, &["info"]);
    assert!(ok && info.contains("lumen"), "after garbage: {info}");
    drop(audio);
    assert!(!socket.exists(), "the socket goes with the server");
}
