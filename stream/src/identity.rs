//! The host's identity: an RSA-2048 key and a self-signed certificate (generated on first start with `rsa`
//! and `rcgen`, persisted in the state dir, key mode 0600), plus the host's `uniqueid`.
//!
//! The same certificate is sent as `plaincert` during pairing and served on HTTPS (moonlight-qt pins it).

use std::fs;
use std::path::Path;

use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use sha2::Sha256;

use crate::store::{write_atomic, StoreError};

/// Errors creating or loading the identity.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("host key: {0}")]
    Key(String),
    #[error("host certificate: {0}")]
    Cert(String),
}

/// The host key, certificate and id.
pub struct HostIdentity {
    key: RsaPrivateKey,
    /// PKCS#8 DER of the key (for rustls).
    pub key_pkcs8_der: Vec<u8>,
    /// The certificate, PEM (as sent in `plaincert`).
    pub cert_pem: String,
    /// The certificate, DER (as served on HTTPS).
    pub cert_der: Vec<u8>,
    /// The raw signature bytes of the certificate (hashed into the pairing challenges).
    pub cert_signature: Vec<u8>,
    /// The host's `uniqueid` (stable across restarts).
    pub unique_id: String,
}

impl std::fmt::Debug for HostIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostIdentity").field("unique_id", &self.unique_id).finish_non_exhaustive()
    }
}

const KEY_FILE: &str = "host-key.pem";
const CERT_FILE: &str = "host-cert.pem";
const ID_FILE: &str = "host-uniqueid";

impl HostIdentity {
    /// Loads the identity from `dir`, creating (and persisting) a new one if there is none.
    pub fn load_or_create(dir: &Path) -> Result<Self, IdentityError> {
        let key_path = dir.join(KEY_FILE);
        let cert_path = dir.join(CERT_FILE);
        let id_path = dir.join(ID_FILE);
        if key_path.exists() && cert_path.exists() && id_path.exists() {
            let key_pem =
                fs::read_to_string(&key_path).map_err(|source| StoreError::Io { path: key_path.clone(), source })?;
            let cert_pem =
                fs::read_to_string(&cert_path).map_err(|source| StoreError::Io { path: cert_path.clone(), source })?;
            let unique_id = fs::read_to_string(&id_path)
                .map_err(|source| StoreError::Io { path: id_path.clone(), source })?
                .trim()
                .to_owned();
            let key = RsaPrivateKey::from_pkcs8_pem(&key_pem).map_err(|e| IdentityError::Key(e.to_string()))?;
            return Self::assemble(key, cert_pem, unique_id);
        }
        tracing::info!(dir = %dir.display(), "generating the host identity (RSA-2048 key, self-signed certificate)");
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| IdentityError::Key(e.to_string()))?;
        let pkcs8 = key.to_pkcs8_der().map_err(|e| IdentityError::Key(e.to_string()))?;
        let kp = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes()),
            &rcgen::PKCS_RSA_SHA256,
        )
        .map_err(|e| IdentityError::Cert(e.to_string()))?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(rcgen::DnType::CommonName, "lumen GameStream host");
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&rand::random::<[u8; 8]>()));
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2044, 1, 1);
        let cert = params.self_signed(&kp).map_err(|e| IdentityError::Cert(e.to_string()))?;
        let cert_pem = cert.pem();
        let key_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| IdentityError::Key(e.to_string()))?;
        let unique_id = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
        write_atomic(&key_path, key_pem.as_bytes(), 0o600)?;
        write_atomic(&cert_path, cert_pem.as_bytes(), 0o644)?;
        write_atomic(&id_path, unique_id.as_bytes(), 0o644)?;
        Self::assemble(key, cert_pem, unique_id)
    }

    fn assemble(key: RsaPrivateKey, cert_pem: String, unique_id: String) -> Result<Self, IdentityError> {
        let (_, pem) =
            x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).map_err(|e| IdentityError::Cert(e.to_string()))?;
        let cert_der = pem.contents.clone();
        let cert_signature =
            crate::pairing::certificate_signature(&cert_der).map_err(|e| IdentityError::Cert(e.to_string()))?;
        let key_pkcs8_der = key.to_pkcs8_der().map_err(|e| IdentityError::Key(e.to_string()))?.as_bytes().to_vec();
        if unique_id.is_empty() {
            return Err(IdentityError::Cert("empty uniqueid".into()));
        }
        Ok(HostIdentity { key, key_pkcs8_der, cert_pem, cert_der, cert_signature, unique_id })
    }

    /// RSA PKCS#1 v1.5 signature with SHA-256 over `data`, made with the host key.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        let signer = SigningKey::<Sha256>::new(self.key.clone());
        signer.sign(data).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_persists() {
        let dir = tempfile::tempdir().unwrap();
        let a = HostIdentity::load_or_create(dir.path()).unwrap();
        let b = HostIdentity::load_or_create(dir.path()).unwrap();
        assert_eq!(a.cert_der, b.cert_der);
        assert_eq!(a.unique_id, b.unique_id);
        assert_eq!(a.cert_signature.len(), 256);
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
