//! The client's identity: an RSA-2048 key and a self-signed certificate (as Moonlight's), made on first use
//! and kept in the client's state dir, plus its `uniqueid` and the host certificate it pinned at pairing.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use sha2::Sha256;

/// Common name of the client certificate (the stock client's).
const CLIENT_CN: &str = "NVIDIA GameStream Client";

/// The client's key, certificate and id.
pub struct ClientIdentity {
    pub key: RsaPrivateKey,
    /// PKCS#8 DER of the key (for TLS).
    pub key_der: Vec<u8>,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    /// 16 hex digits, sent as `uniqueid`.
    pub unique_id: String,
    dir: PathBuf,
}

impl ClientIdentity {
    /// Loads the identity from `dir`, creating it on first use.
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let key_path = dir.join("client-key.pem");
        let key = if key_path.exists() {
            RsaPrivateKey::from_pkcs8_pem(&fs::read_to_string(&key_path)?).context("client key")?
        } else {
            let k = RsaPrivateKey::new(&mut rand::thread_rng(), 2048)?;
            fs::write(&key_path, k.to_pkcs8_pem(LineEnding::LF)?.as_bytes())?;
            k
        };
        let cert_pem = lumen_stream::identity::self_signed_pem(&key, CLIENT_CN)?;
        let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).context("own certificate")?;
        let cert_der = pem.contents;
        let key_der = key.to_pkcs8_der()?.as_bytes().to_vec();
        let unique_id = {
            use sha2::Digest;
            hex::encode_upper(&Sha256::digest(&cert_der)[..8])
        };
        Ok(Self { key, key_der, cert_pem, cert_der, unique_id, dir: dir.to_owned() })
    }

    /// RSA-SHA256 (PKCS#1 v1.5) signature with the client key.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        SigningKey::<Sha256>::new(self.key.clone()).sign(data).to_vec()
    }

    fn host_cert_path(&self, host: &str) -> PathBuf {
        let safe: String = host.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        self.dir.join(format!("host-{safe}.der"))
    }

    /// The pinned certificate of `host` (DER), if paired.
    pub fn host_cert(&self, host: &str) -> Option<Vec<u8>> {
        fs::read(self.host_cert_path(host)).ok()
    }

    /// Pins `host`'s certificate.
    pub fn save_host_cert(&self, host: &str, der: &[u8]) -> anyhow::Result<()> {
        fs::write(self.host_cert_path(host), der).context("save host certificate")
    }
}
