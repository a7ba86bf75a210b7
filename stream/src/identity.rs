//! The host's identity: an RSA-2048 key and a self-signed certificate (generated on first start with `rsa`
//! and `rcgen`, persisted in the state dir, key mode 0600), plus the host's `uniqueid`.
//!
//! The certificate and the `uniqueid` are derived from the key alone, so either one, if lost, is rebuilt
//! exactly; an identity is created only when none of its three files exists (issue 11, item 3).
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
    #[error("host identity incomplete: {0}")]
    Incomplete(String),
}

/// The SubjectPublicKeyInfo DER of the key's public half.
fn public_der(key: &RsaPrivateKey) -> Result<Vec<u8>, IdentityError> {
    use rsa::pkcs8::EncodePublicKey;
    Ok(key.to_public_key().to_public_key_der().map_err(|e| IdentityError::Key(e.to_string()))?.as_bytes().to_vec())
}

/// The `uniqueid` of a key: 32 upper-case hex digits of SHA-256 over its public key.
fn derived_unique_id(key: &RsaPrivateKey) -> Result<String, IdentityError> {
    use sha2::Digest;
    Ok(hex::encode_upper(&Sha256::digest(public_der(key)?)[..16]))
}

/// The common name of the host certificate.
pub const HOST_CN: &str = "lumen GameStream host";

/// The self-signed certificate (PEM) of a key, named `common_name` — the host's (with [`HOST_CN`]), or a
/// client's like Moonlight's ("NVIDIA GameStream Client"). Everything in it is derived from the key (serial
/// from its hash, fixed dates; PKCS#1 v1.5 signatures are deterministic), so a lost host certificate is rebuilt
/// byte for byte.
pub fn self_signed_pem(key: &RsaPrivateKey, common_name: &str) -> Result<String, IdentityError> {
    use sha2::Digest;
    let pkcs8 = key.to_pkcs8_der().map_err(|e| IdentityError::Key(e.to_string()))?;
    let kp = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_bytes()),
        &rcgen::PKCS_RSA_SHA256,
    )
    .map_err(|e| IdentityError::Cert(e.to_string()))?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
    let mut h = Sha256::new();
    h.update(b"lumen host certificate serial");
    h.update(public_der(key)?);
    let mut serial = h.finalize()[..8].to_vec();
    serial[0] = (serial[0] & 0x7f) | 0x40; // positive, and no leading zero byte
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2044, 1, 1);
    Ok(params.self_signed(&kp).map_err(|e| IdentityError::Cert(e.to_string()))?.pem())
}

/// Refuses a certificate that does not belong to the key (a swapped or foreign file).
fn check_cert_matches_key(cert_pem: &str, key: &RsaPrivateKey, path: &Path) -> Result<(), IdentityError> {
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).map_err(|e| IdentityError::Cert(e.to_string()))?;
    let (_, cert) =
        x509_parser::parse_x509_certificate(&pem.contents).map_err(|e| IdentityError::Cert(e.to_string()))?;
    if cert.public_key().raw != public_der(key)?.as_slice() {
        return Err(IdentityError::Incomplete(format!(
            "{} does not belong to {KEY_FILE}: restore the matching pair from a backup",
            path.display()
        )));
    }
    Ok(())
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
    /// Loads the identity from `dir`. A new identity is created only when none of its files exists; a
    /// missing certificate or uniqueid is rebuilt from the key when the rebuilt file is provably the one
    /// clients know, and otherwise the host refuses to start ([`IdentityError::Incomplete`]) rather than
    /// silently becoming a new host that every client must pair with again.
    pub fn load_or_create(dir: &Path) -> Result<Self, IdentityError> {
        let key_path = dir.join(KEY_FILE);
        let cert_path = dir.join(CERT_FILE);
        let id_path = dir.join(ID_FILE);
        let (has_key, has_cert, has_id) = (key_path.exists(), cert_path.exists(), id_path.exists());
        if !has_key && !has_cert && !has_id {
            return Self::create(dir);
        }
        if !has_key {
            return Err(IdentityError::Incomplete(format!(
                "{} is missing while {} exist{}: the host identity cannot be rebuilt without its key. Restore the \
                 key from a backup, or remove the other identity files to create a new identity (every client must \
                 pair again)",
                key_path.display(),
                [(has_cert, CERT_FILE), (has_id, ID_FILE)]
                    .iter()
                    .filter(|(h, _)| *h)
                    .map(|(_, n)| *n)
                    .collect::<Vec<_>>()
                    .join(" and "),
                if has_cert && has_id { "" } else { "s" },
            )));
        }
        let read = |p: &Path| fs::read_to_string(p).map_err(|source| StoreError::Io { path: p.to_owned(), source });
        let key = RsaPrivateKey::from_pkcs8_pem(&read(&key_path)?).map_err(|e| IdentityError::Key(e.to_string()))?;
        let derived_id = derived_unique_id(&key)?;
        let cert_pem = if has_cert {
            let pem = read(&cert_path)?;
            check_cert_matches_key(&pem, &key, &cert_path)?;
            pem
        } else {
            let id = if has_id { read(&id_path)?.trim().to_owned() } else { derived_id.clone() };
            if id != derived_id {
                return Err(IdentityError::Incomplete(format!(
                    "{} is missing and cannot be rebuilt identically (this identity predates certificates derived \
                     from the key, and clients pinned the old certificate byte for byte). Restore it from a backup, \
                     or remove {} and {} to create a new identity (every client must pair again)",
                    cert_path.display(),
                    KEY_FILE,
                    ID_FILE
                )));
            }
            let pem = self_signed_pem(&key, HOST_CN)?;
            write_atomic(&cert_path, pem.as_bytes(), 0o644)?;
            if has_id {
                tracing::warn!(file = %cert_path.display(), "host-cert.pem was missing: rebuilt it from host-key.pem");
            } else {
                tracing::warn!(file = %cert_path.display(),
                    "host-cert.pem and host-uniqueid were missing: rebuilt both from host-key.pem (identities made \
                     before they were derived from the key get a new certificate: clients must pair again)");
            }
            pem
        };
        let unique_id = if has_id {
            read(&id_path)?.trim().to_owned()
        } else {
            if cert_pem != self_signed_pem(&key, HOST_CN)? {
                return Err(IdentityError::Incomplete(format!(
                    "{} is missing and cannot be rebuilt (this identity predates ids derived from the key; clients \
                     know the host by it). Restore it from a backup, or remove {} and {} to create a new identity \
                     (every client must pair again)",
                    id_path.display(),
                    KEY_FILE,
                    CERT_FILE
                )));
            }
            write_atomic(&id_path, derived_id.as_bytes(), 0o644)?;
            tracing::warn!(file = %id_path.display(), "host-uniqueid was missing: rebuilt it from host-key.pem");
            derived_id
        };
        Self::assemble(key, cert_pem, unique_id)
    }

    fn create(dir: &Path) -> Result<Self, IdentityError> {
        tracing::info!(dir = %dir.display(), "generating the host identity (RSA-2048 key, self-signed certificate)");
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| IdentityError::Key(e.to_string()))?;
        let cert_pem = self_signed_pem(&key, HOST_CN)?;
        let key_pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| IdentityError::Key(e.to_string()))?;
        let unique_id = derived_unique_id(&key)?;
        // The key first: after a crash between the writes the rest is rebuilt from it, exactly.
        write_atomic(&dir.join(KEY_FILE), key_pem.as_bytes(), 0o600)?;
        write_atomic(&dir.join(CERT_FILE), cert_pem.as_bytes(), 0o644)?;
        write_atomic(&dir.join(ID_FILE), unique_id.as_bytes(), 0o644)?;
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

    #[test]
    fn lost_public_parts_are_rebuilt_exactly_and_a_lost_key_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let a = HostIdentity::load_or_create(dir.path()).unwrap();
        let cert = fs::read(dir.path().join(CERT_FILE)).unwrap();
        for lost in [&[CERT_FILE][..], &[ID_FILE], &[CERT_FILE, ID_FILE]] {
            for f in lost {
                fs::remove_file(dir.path().join(f)).unwrap();
            }
            let b = HostIdentity::load_or_create(dir.path()).unwrap();
            assert_eq!((&b.cert_der, &b.unique_id), (&a.cert_der, &a.unique_id), "lost {lost:?}");
            assert_eq!(fs::read(dir.path().join(CERT_FILE)).unwrap(), cert);
        }
        // A legacy identity (random uniqueid) with its certificate lost: refused, nothing written.
        fs::write(dir.path().join(ID_FILE), "0123456789ABCDEF0123456789ABCDEF").unwrap();
        fs::remove_file(dir.path().join(CERT_FILE)).unwrap();
        assert!(matches!(HostIdentity::load_or_create(dir.path()), Err(IdentityError::Incomplete(_))));
        assert!(!dir.path().join(CERT_FILE).exists());
        // The key lost: refused, the other files untouched.
        fs::write(dir.path().join(CERT_FILE), &cert).unwrap();
        fs::remove_file(dir.path().join(KEY_FILE)).unwrap();
        let e = HostIdentity::load_or_create(dir.path()).unwrap_err().to_string();
        assert!(e.contains("host-key.pem is missing"), "{e}");
        assert!(!dir.path().join(KEY_FILE).exists());
    }
}
