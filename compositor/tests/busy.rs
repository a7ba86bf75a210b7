//! "A session belongs to its client": the real nvhttp HTTPS server and RTSP server of a host with the real
//! media plane and `max_sessions = 1`. Client A (paired) launches and streams (RTSP handshake, PLAY, video
//! datagrams after its ping); client B, a distinct paired client on the same machine, gets a clean
//! `status_code="503"` busy reply to `/launch` (the host is at its session limit) and a log line; `/serverinfo`
//! describes each caller's own session; B can neither resume nor cancel A's session; A's own `/cancel` ends it.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lumen_compositor::encoding::test_plane::{test_plane, TestPlaneParts};
use lumen_stream::host::{build_state, lock, HostOptions, HostState};
use lumen_stream::media::{LogSink, MediaOptions};
use lumen_stream::nvhttp::handlers::BUSY_MESSAGE;
use lumen_stream::Ports;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Moonlight pins the host certificate at pairing; this test trusts whatever the host presents.
#[derive(Debug)]
struct AnyServerCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A paired client: its TLS configuration (with its certificate) and its id in the host's store.
struct Paired {
    tls: Arc<rustls::ClientConfig>,
    id: String,
}

fn pair(state: &HostState, name: &str) -> Paired {
    let ck = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
    let der = ck.cert.der().to_vec();
    let id = lock(&state.clients).add(name, &ck.cert.pem(), &der, 0).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
        .with_client_auth_cert(
            vec![CertificateDer::from(der)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der())),
        )
        .unwrap();
    Paired { tls: Arc::new(tls), id }
}

async fn https_get(client: &Paired, port: u16, path: &str) -> String {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(client.tls.clone());
    let mut s = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    // The server may close without close_notify; what arrived is the reply.
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

async fn rtsp(port: u16, cseq: u32, head: &str, body: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let extra = if body.is_empty() {
        String::new()
    } else {
        format!("Content-type: application/sdp\r\nContent-length: {}\r\n", body.len())
    };
    s.write_all(format!("{head} RTSP/1.0\r\nCSeq: {cseq}\r\n{extra}\r\n{body}").as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// An ANNOUNCE body with what the host needs (640x360@60, H.264, control and audio encrypted).
fn announce() -> String {
    [
        "v=0",
        "o=android 0 14 IN IPv4 127.0.0.1",
        "s=NVIDIA Streaming Client",
        "a=x-ss-general.encryptionEnabled:5 ",
        "a=x-nv-video[0].clientViewportWd:640 ",
        "a=x-nv-video[0].clientViewportHt:360 ",
        "a=x-nv-video[0].maxFPS:60 ",
        "a=x-nv-video[0].packetSize:1392 ",
        "a=x-nv-vqos[0].bw.maximumBitrateKbps:4000 ",
        "a=x-nv-vqos[0].bitStreamFormat:0 ",
        "a=x-nv-aqos.packetDuration:5 ",
        "a=x-nv-vqos[0].fec.minRequiredFecPackets:2 ",
        "t=0 0",
        "m=video 47998  ",
        "",
    ]
    .join("\r\n")
}

/// A base port whose HTTPS and RTSP TCP ports bind now (returned bound) and whose media UDP ports are free.
fn free_ports() -> (Ports, TcpListener, TcpListener) {
    for _ in 0..200 {
        let base = 20_000 + (rand_u16() % 40_000);
        let p = Ports::from_base(base).unwrap();
        let (Ok(https), Ok(rtsp)) =
            (TcpListener::bind(("127.0.0.1", p.https)), TcpListener::bind(("127.0.0.1", p.rtsp)))
        else {
            continue;
        };
        if [p.video, p.control, p.audio].iter().all(|&u| UdpSocket::bind(("0.0.0.0", u)).is_ok()) {
            return (p, https, rtsp);
        }
    }
    panic!("no free port base");
}

fn rand_u16() -> u16 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    (t ^ (t >> 16) ^ std::process::id()) as u16
}

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);
impl Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        std::io::stderr().write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn sessions_belong_to_their_client() {
    let logs = Logs::default();
    let w = logs.clone();
    let _ =
        tracing_subscriber::fmt().with_env_filter("info").with_ansi(false).with_writer(move || w.clone()).try_init();
    let dir = tempfile::tempdir().unwrap();
    let (ports, https_l, rtsp_l) = free_ports();
    let opts = HostOptions {
        state_dir: dir.path().to_owned(),
        port_base: ports.http,
        pin: None,
        mdns: false,
        app_cmds: Vec::new(),
        config: None,
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        media: Arc::new(test_plane(MediaOptions::default(), TestPlaneParts::test_pattern(Arc::new(LogSink)))),
        max_sessions: Some(1),
        session_idle_timeout: None,
        admin_web: Some(None),
    };
    let (state, _end_rx) = build_state(&opts).unwrap();
    let a = pair(&state, "client-a");
    let b = pair(&state, "client-b");
    assert_ne!(a.id, b.id);

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        https_l.set_nonblocking(true).unwrap();
        rtsp_l.set_nonblocking(true).unwrap();
        let tls = lumen_stream::nvhttp::tls::server_config(&state.identity).unwrap();
        tokio::spawn(lumen_stream::nvhttp::server::serve_https(
            state.clone(),
            tokio::net::TcpListener::from_std(https_l).unwrap(),
            tls,
        ));
        tokio::spawn(lumen_stream::rtsp::server::serve(
            state.clone(),
            tokio::net::TcpListener::from_std(rtsp_l).unwrap(),
        ));

        let launch = "/launch?uniqueid=0123456789ABCDEF&appid=1&mode=640x360x60&additionalStates=1&sops=0\
                      &rikey=000102030405060708090a0b0c0d0e0f&rikeyid=7&localAudioPlayMode=0&surroundAudioInfo=196610";
        let r = https_get(&a, ports.https, launch).await;
        assert!(r.contains("status_code=\"200\"") && r.contains("sessionUrl0"), "A's launch: {r}");

        // A streams: the RTSP handshake up to PLAY starts the media session, video flows after A's ping.
        let url = format!("rtsp://127.0.0.1:{}", ports.rtsp);
        let steps = [
            format!("OPTIONS {url}"),
            format!("DESCRIBE {url}"),
            format!("SETUP {url}/streamid=audio/0/0"),
            format!("SETUP {url}/streamid=video/0/0"),
            format!("SETUP {url}/streamid=control/13/0"),
        ];
        for (i, s) in steps.iter().enumerate() {
            let r = rtsp(ports.rtsp, i as u32 + 1, s, "").await;
            assert!(r.starts_with("RTSP/1.0 200"), "{s}: {r}");
        }
        let r = rtsp(ports.rtsp, 6, &format!("ANNOUNCE {url}/streamid=control/13/0"), &announce()).await;
        assert!(r.starts_with("RTSP/1.0 200"), "ANNOUNCE: {r}");
        let r = rtsp(ports.rtsp, 7, &format!("PLAY {url}/"), "").await;
        assert!(r.starts_with("RTSP/1.0 200"), "PLAY: {r}");
        let video = UdpSocket::bind("127.0.0.1:0").unwrap();
        video.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        video.send_to(b"PING", ("127.0.0.1", ports.video)).unwrap();
        let mut buf = [0u8; 2048];
        let (n, from) = video.recv_from(&mut buf).expect("A receives video");
        assert!(n > 16 && from == SocketAddr::from(([127, 0, 0, 1], ports.video)));
        let streaming = |id: &str| lock(&state.sessions).by_client(id).is_some_and(|l| l.media.is_some());
        assert!(streaming(&a.id));

        // B, a distinct paired client: the host is at max_sessions — a clean busy reply and a log line.
        let r = https_get(&b, ports.https, launch).await;
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        assert!(r.contains("status_code=\"503\""), "B's launch while A streams: {r}");
        assert!(r.contains(BUSY_MESSAGE), "{r}");
        let log = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
        let line = log.lines().find(|l| l.contains("launch refused: the host streams as many")).expect("busy log line");
        assert!(line.contains(&b.id) && line.contains("max=1"), "{line}");
        // A's session is untouched; /serverinfo tells each client about its own session.
        assert!(streaming(&a.id) && lock(&state.sessions).len() == 1);
        let r = https_get(&b, ports.https, "/serverinfo").await;
        assert!(r.contains("SUNSHINE_SERVER_FREE") && r.contains("<currentgame>0</currentgame>"), "{r}");
        let r = https_get(&a, ports.https, "/serverinfo").await;
        assert!(r.contains("SUNSHINE_SERVER_BUSY") && r.contains("<currentgame>1</currentgame>"), "{r}");

        // B can neither resume nor cancel A's session.
        let r = https_get(&b, ports.https, "/resume?rikey=0f0e0d0c0b0a09080706050403020100&rikeyid=9").await;
        assert!(r.contains("status_code=\"503\""), "B's resume: {r}");
        let r = https_get(&b, ports.https, "/cancel").await;
        assert!(r.contains("<cancel>1</cancel>"), "{r}");
        assert!(streaming(&a.id), "B's cancel touched A's session");

        // A launching the same app again reattaches its own session (its old stream stops).
        let r = https_get(&a, ports.https, launch).await;
        assert!(r.contains("status_code=\"200\"") && r.contains("sessionUrl0"), "A's relaunch: {r}");
        assert!(lock(&state.sessions).by_client(&a.id).is_some_and(|l| l.media.is_none() && l.awaiting_rtsp()));
        let r = https_get(&a, ports.https, "/cancel").await;
        assert!(r.contains("<cancel>1</cancel>"), "{r}");
        assert!(lock(&state.sessions).is_empty());
    });
    // The standard media ports stay the host's (shared by every session), but the ended session's route is
    // gone: a ping there now starts nothing.
    let video = UdpSocket::bind("127.0.0.1:0").unwrap();
    video.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    video.send_to(b"PING", ("127.0.0.1", ports.video)).unwrap();
    let mut buf = [0u8; 2048];
    assert!(video.recv_from(&mut buf).is_err(), "video after the session ended");
}
