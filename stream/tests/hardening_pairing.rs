//! Issue 11, items 1, 2 and 8, against the real nvhttp HTTP server of a host on loopback: an attacker at
//! 127.0.0.2 parks a stage-1 request and sends `/unpair` and stray stages with the stock `uniqueid`; the
//! owner's PIN goes only to the request the owner picks, the attacker's requests neither cancel the owner's
//! attempt nor count as failures of the owner's address, and errors come back as HTTP 200 with the status
//! in the XML.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lumen_stream::host::{build_state, HostOptions, HostState};
use lumen_stream::pairing_gate::{PinError, PinGiven};
use lumen_stream::{HandshakeOnly, Ports};

const UID: &str = "0123456789ABCDEF";

/// A free base port (HTTP = BASE), picked by binding an ephemeral port.
fn base_port() -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if Ports::from_base(p).is_ok() {
            return p;
        }
    }
}

/// A client certificate like Moonlight's: RSA-2048, self-signed; returns its PEM.
fn client_pem() -> String {
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    lumen_stream::identity::self_signed_pem(&key, "NVIDIA GameStream Client").unwrap()
}

/// `GET /path?query` over HTTP from `source`; returns (HTTP status line, body).
fn get(port: u16, source: Ipv4Addr, path_query: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let out = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(SocketAddr::new(IpAddr::V4(source), 0)).unwrap();
        let mut s = sock.connect(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)).await.unwrap();
        let req = format!("GET {path_query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(30), s.read_to_string(&mut out)).await.unwrap().unwrap();
        out
    });
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (head.lines().next().unwrap_or("").to_owned(), body.to_owned())
}

fn stage1_query(pem: &str, device: &str) -> String {
    format!(
        "/pair?uniqueid={UID}&uuid=1&devicename={device}&updateState=1&phrase=getservercert&salt={}&clientcert={}",
        hex::encode([7u8; 16]),
        hex::encode(pem.as_bytes())
    )
}

fn wait_for(state: &HostState, what: &str, f: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = state.pairing_json();
        if f(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {v}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_pin_goes_to_the_chosen_request_and_others_cannot_cancel_it() {
    let dir = tempfile::tempdir().unwrap();
    let port = base_port();
    let opts = HostOptions {
        state_dir: dir.path().to_owned(),
        port_base: port,
        pin: None,
        mdns: false,
        app_cmds: Vec::new(),
        config: None,
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        media: Arc::new(HandshakeOnly::default()),
        max_sessions: None,
        session_idle_timeout: None,
        admin_web: Some(None),
    };
    let (state, _end_rx) = build_state(&opts).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port))).unwrap();
    rt.spawn(lumen_stream::nvhttp::server::serve_http(state.clone(), listener));

    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let owner = Ipv4Addr::LOCALHOST;
    let (apem, opem) = (client_pem(), client_pem());
    let att = std::thread::spawn(move || get(port, attacker, &stage1_query(&apem, "evil")));
    wait_for(&state, "the attacker's request", |v| v["waiting"].as_array().is_some_and(|w| w.len() == 1));
    let own = std::thread::spawn(move || get(port, owner, &stage1_query(&opem, "roth")));
    let v = wait_for(&state, "both requests", |v| v["waiting"].as_array().is_some_and(|w| w.len() == 2));

    // Two wait: a bare PIN goes nowhere.
    assert!(matches!(state.give_pin("4242", None, None, None), Err(PinError::Several { count: 2, .. })));
    // The attacker's /unpair and stray stages with the same uniqueid touch nothing of the owner's.
    for q in ["/unpair?uniqueid=0123456789ABCDEF", "/pair?uniqueid=0123456789ABCDEF&clientchallenge=00"] {
        let (status, body) = get(port, attacker, q);
        assert!(status.contains("200"), "{status}");
        assert!(!body.contains("plaincert"), "{body}");
    }
    // /unpair cancelled the attacker's own request only.
    let v2 =
        wait_for(&state, "the attacker's request to go", |v| v["waiting"].as_array().is_some_and(|w| w.len() == 1));
    assert_eq!(v2["waiting"][0]["address"], "127.0.0.1");
    let (_, body) = att.join().unwrap();
    assert!(body.contains("status_code=\"400\"") && body.contains("<paired>0</paired>"), "{body}");
    assert!(!body.contains("plaincert"));

    let mine = v["waiting"].as_array().unwrap().iter().find(|w| w["address"] == "127.0.0.1").unwrap().clone();
    let given = state.give_pin("4242", Some(&mine["id"].to_string()), None, None).unwrap();
    assert!(matches!(given, PinGiven::To { device, .. } if device == "roth"));
    let (status, body) = own.join().unwrap();
    assert!(status.contains("200") && body.contains("<plaincert>"), "{body}");
    assert_eq!(state.pairing_json()["in_progress"].as_array().unwrap().len(), 1);
    assert_eq!(state.pairing_json()["locked_sources"], serde_json::json!([]));

    // Errors are HTTP 200 with the status in the XML (spec §3.1).
    let (status, body) = get(port, attacker, "/applist?uniqueid=x");
    assert!(status.contains("200") && body.contains("status_code=\"401\""), "{status} {body}");
    let (status, body) = get(port, attacker, "/pair?uniqueid=x&salt=%zz");
    assert!(status.contains("200") && body.contains("status_code=\"400\""), "{status} {body}");
}
