//! nvhttp as a client: plain HTTP for pairing, HTTPS with the client certificate for the rest (the host's
//! certificate pinned at pairing), XML answers read with quick-xml.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::identity::ClientIdentity;

/// Accepts exactly the pinned host certificate (any certificate before pairing pins one).
#[derive(Debug)]
struct PinnedHost {
    pinned: Option<Vec<u8>>,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedHost {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.pinned {
            Some(p) if p.as_slice() != end_entity.as_ref() => {
                Err(rustls::Error::General("host certificate differs from the one pinned at pairing".into()))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// A host's nvhttp endpoints.
pub struct Nvhttp {
    host: String,
    base: u16,
    http_port: u16,
    https_port: u16,
    plain: ureq::Agent,
    tls: ureq::Agent,
}

impl Nvhttp {
    /// Endpoints of `host` with base port `base` (HTTP `base`, HTTPS `base − 5`).
    pub fn new(id: &ClientIdentity, host: &str, base: u16) -> anyhow::Result<Self> {
        let provider = Arc::new(ring::default_provider());
        let verifier = PinnedHost { pinned: id.host_cert(host), algs: provider.signature_verification_algorithms };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_auth_cert(
                vec![CertificateDer::from(id.cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(id.key_der.clone())),
            )?;
        let tls = ureq::AgentBuilder::new().tls_config(Arc::new(config)).timeout(Duration::from_secs(30)).build();
        // Stage 1 of pairing waits for the owner's PIN.
        let plain = ureq::AgentBuilder::new().timeout(Duration::from_secs(150)).build();
        Ok(Self { host: host.to_owned(), base, http_port: base, https_port: base - 5, plain, tls })
    }

    /// The base port.
    pub fn base(&self) -> u16 {
        self.base
    }

    /// GET `path?query` over HTTP; the XML body.
    pub fn get_plain(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<String> {
        let url = format!("http://{}:{}{path}", self.host, self.http_port);
        call(self.plain.get(&url), query)
    }

    /// GET `path?query` over HTTPS with the client certificate; the XML body.
    pub fn get_tls(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<String> {
        let url = format!("https://{}:{}{path}", self.host, self.https_port);
        call(self.tls.get(&url), query)
    }
}

fn call(mut req: ureq::Request, query: &[(&str, String)]) -> anyhow::Result<String> {
    for (k, v) in query {
        req = req.query(k, v);
    }
    let body = req.call().context("nvhttp request")?.into_string()?;
    if let Some(code) = xml_root_status(&body) {
        if code != 200 {
            bail!("host answered status {code}: {}", body.chars().take(300).collect::<String>());
        }
    }
    Ok(body)
}

/// The `status_code` attribute of `<root>`.
fn xml_root_status(xml: &str) -> Option<u32> {
    let mut r = quick_xml::Reader::from_str(xml);
    loop {
        match r.read_event().ok()? {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) if e.name().as_ref() == b"root" => {
                let a = e.try_get_attribute("status_code").ok()??;
                return std::str::from_utf8(&a.value).ok()?.parse().ok();
            }
            quick_xml::events::Event::Eof => return None,
            _ => {}
        }
    }
}

/// Every text of elements called `tag`, in order.
pub fn xml_all(xml: &str, tag: &str) -> Vec<String> {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut inside = false;
    loop {
        match r.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => inside = e.name().as_ref() == tag.as_bytes(),
            Ok(quick_xml::events::Event::Text(t)) if inside => {
                out.push(t.decode().map(|s| s.into_owned()).unwrap_or_default());
                inside = false;
            }
            Ok(quick_xml::events::Event::End(_)) => inside = false,
            Ok(quick_xml::events::Event::Eof) | Err(_) => return out,
            _ => {}
        }
    }
}

/// The text of the first element called `tag`.
pub fn xml_one(xml: &str, tag: &str) -> anyhow::Result<String> {
    xml_all(xml, tag).into_iter().next().with_context(|| format!("no <{tag}> in the host's answer"))
}
