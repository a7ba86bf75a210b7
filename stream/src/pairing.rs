//! The GameStream PIN pairing exchange, host side (SHA-256 generation, `appversion` ≥ 7).
//!
//! * stage 1 `getservercert`: key = SHA-256(salt ‖ PIN)[..16]; keep the client certificate; send ours.
//! * stage 2 `clientchallenge`: AES-128-ECB-decrypt the challenge, reply
//!   ECB(SHA-256(challenge ‖ host cert signature ‖ server secret) ‖ server challenge).
//! * stage 3 `serverchallengeresp`: ECB-decrypt the client's hash, reply server secret ‖ RSA-SHA256 signature.
//! * stage 4 `clientpairingsecret`: verify the client's signature over its secret with its certificate's key
//!   and check SHA-256(server challenge ‖ client cert signature ‖ client secret) against the stage-3 hash.
//! * stage 5 `pairchallenge` arrives over HTTPS with the (now paired) client certificate.
//!
//! [`PairingAttempt`] is the per-attempt state machine; [`crate::pairing_gate`] decides which client may
//! run one, with which PIN.

use std::time::Instant;

use aes::cipher::{generic_array::GenericArray, BlockDecrypt, BlockEncrypt, KeyInit};
use aes::Aes128;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use sha2::{Digest, Sha256};

use crate::identity::HostIdentity;

/// Why a pairing step failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PairingError {
    #[error("malformed {0}")]
    Malformed(&'static str),
    #[error("client certificate: {0}")]
    BadCertificate(String),
    #[error("pairing request out of order: expected {expected}")]
    OutOfOrder { expected: &'static str },
    #[error("the client's pairing secret signature does not verify")]
    BadSignature,
    #[error("the client's challenge hash does not match (wrong PIN)")]
    WrongPin,
}

/// The raw signature bytes of an X.509 certificate (DER).
pub fn certificate_signature(der: &[u8]) -> Result<Vec<u8>, PairingError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| PairingError::BadCertificate(e.to_string()))?;
    Ok(cert.signature_value.data.to_vec())
}

fn certificate_public_key(der: &[u8]) -> Result<RsaPublicKey, PairingError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| PairingError::BadCertificate(e.to_string()))?;
    RsaPublicKey::from_public_key_der(cert.public_key().raw)
        .map_err(|e| PairingError::BadCertificate(format!("not an RSA key: {e}")))
}

/// The pairing AES key: SHA-256(salt ‖ PIN) cut to 16 bytes.
pub fn derive_key(salt: &[u8], pin: &str) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(pin.as_bytes());
    let d = h.finalize();
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

/// AES-128-ECB without padding (the data length must be a multiple of 16).
pub fn ecb_encrypt(key: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, PairingError> {
    ecb(key, data, true)
}

/// AES-128-ECB decryption without padding.
pub fn ecb_decrypt(key: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, PairingError> {
    ecb(key, data, false)
}

fn ecb(key: &[u8; 16], data: &[u8], encrypt: bool) -> Result<Vec<u8>, PairingError> {
    if data.is_empty() || !data.len().is_multiple_of(16) {
        return Err(PairingError::Malformed("AES-ECB data (not a whole number of blocks)"));
    }
    let cipher = Aes128::new(GenericArray::from_slice(key));
    let mut out = data.to_vec();
    for block in out.chunks_exact_mut(16) {
        let b = GenericArray::from_mut_slice(block);
        if encrypt {
            cipher.encrypt_block(b);
        } else {
            cipher.decrypt_block(b);
        }
    }
    Ok(out)
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    ClientChallenge,
    ServerChallengeResp,
    ClientPairingSecret,
    Done,
}

/// One pairing attempt, from stage 1 to stage 4.
pub struct PairingAttempt {
    /// The `devicename` the client gave.
    pub device_name: String,
    /// The client certificate, PEM and DER.
    pub client_cert_pem: String,
    pub client_cert_der: Vec<u8>,
    client_cert_signature: Vec<u8>,
    client_key: RsaPublicKey,
    aes_key: [u8; 16],
    server_secret: [u8; 16],
    server_challenge: [u8; 16],
    client_hash: Option<Vec<u8>>,
    expect: Expect,
    /// When stage 1 arrived.
    pub started: Instant,
    /// The user the owner bound the device to with its PIN (`pin --user`).
    pub bind_user: Option<String>,
}

impl std::fmt::Debug for PairingAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairingAttempt").field("device_name", &self.device_name).field("expect", &self.expect).finish()
    }
}

/// Checks stage-1 inputs (16-byte salt, a parseable RSA client certificate) before waiting for a PIN.
pub fn validate_stage1(salt: &[u8], client_cert_pem_bytes: &[u8]) -> Result<(), PairingError> {
    PairingAttempt::begin(salt, "0000", client_cert_pem_bytes, "").map(|_| ())
}

impl PairingAttempt {
    /// Stage 1: `salt` (16 bytes), the owner's PIN, and `clientcert` (hex of the client's PEM) decoded.
    pub fn begin(
        salt: &[u8],
        pin: &str,
        client_cert_pem_bytes: &[u8],
        device_name: &str,
    ) -> Result<Self, PairingError> {
        if salt.len() != 16 {
            return Err(PairingError::Malformed("salt (must be 16 bytes)"));
        }
        let pem_text = std::str::from_utf8(client_cert_pem_bytes)
            .map_err(|_| PairingError::Malformed("client certificate PEM"))?;
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes())
            .map_err(|e| PairingError::BadCertificate(e.to_string()))?;
        let der = pem.contents;
        let client_cert_signature = certificate_signature(&der)?;
        let client_key = certificate_public_key(&der)?;
        Ok(PairingAttempt {
            device_name: device_name.to_owned(),
            client_cert_pem: pem_text.to_owned(),
            client_cert_der: der,
            client_cert_signature,
            client_key,
            aes_key: derive_key(salt, pin),
            server_secret: rand::random(),
            server_challenge: rand::random(),
            client_hash: None,
            expect: Expect::ClientChallenge,
            started: Instant::now(),
            bind_user: None,
        })
    }

    /// Stage 2: the encrypted client challenge in, the encrypted challenge response out.
    pub fn client_challenge(&mut self, host: &HostIdentity, encrypted: &[u8]) -> Result<Vec<u8>, PairingError> {
        if self.expect != Expect::ClientChallenge {
            return Err(PairingError::OutOfOrder { expected: self.expected() });
        }
        let challenge = ecb_decrypt(&self.aes_key, encrypted)?;
        let hash = sha256(&[&challenge, &host.cert_signature, &self.server_secret]);
        let mut plain = Vec::with_capacity(48);
        plain.extend_from_slice(&hash);
        plain.extend_from_slice(&self.server_challenge);
        self.expect = Expect::ServerChallengeResp;
        ecb_encrypt(&self.aes_key, &plain)
    }

    /// Stage 3: the client's encrypted hash in, `server secret ‖ signature` out.
    pub fn server_challenge_resp(&mut self, host: &HostIdentity, encrypted: &[u8]) -> Result<Vec<u8>, PairingError> {
        if self.expect != Expect::ServerChallengeResp {
            return Err(PairingError::OutOfOrder { expected: self.expected() });
        }
        let hash = ecb_decrypt(&self.aes_key, encrypted)?;
        if hash.len() < 32 {
            return Err(PairingError::Malformed("server challenge response (shorter than a SHA-256 hash)"));
        }
        self.client_hash = Some(hash[..32].to_vec());
        let mut out = self.server_secret.to_vec();
        out.extend_from_slice(&host.sign(&self.server_secret));
        self.expect = Expect::ClientPairingSecret;
        Ok(out)
    }

    /// Stage 4: `client secret (16) ‖ RSA-SHA256 signature`; Ok means the PIN matched.
    pub fn client_pairing_secret(&mut self, data: &[u8]) -> Result<(), PairingError> {
        if self.expect != Expect::ClientPairingSecret {
            return Err(PairingError::OutOfOrder { expected: self.expected() });
        }
        if data.len() <= 16 {
            return Err(PairingError::Malformed("client pairing secret"));
        }
        let (secret, sig) = data.split_at(16);
        let sig = Signature::try_from(sig).map_err(|_| PairingError::BadSignature)?;
        VerifyingKey::<Sha256>::new(self.client_key.clone())
            .verify(secret, &sig)
            .map_err(|_| PairingError::BadSignature)?;
        let expected = sha256(&[&self.server_challenge, &self.client_cert_signature, secret]);
        self.expect = Expect::Done;
        if self.client_hash.as_deref() != Some(&expected[..]) {
            return Err(PairingError::WrongPin);
        }
        Ok(())
    }

    fn expected(&self) -> &'static str {
        match self.expect {
            Expect::ClientChallenge => "clientchallenge",
            Expect::ServerChallengeResp => "serverchallengeresp",
            Expect::ClientPairingSecret => "clientpairingsecret",
            Expect::Done => "nothing (attempt finished)",
        }
    }
}

/// Validates an owner-supplied PIN: 4 to 16 ASCII digits.
pub fn validate_pin(pin: &str) -> Result<(), &'static str> {
    if (4..=16).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err("a PIN is 4 to 16 digits")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::SigningKey;
    use rsa::signature::{SignatureEncoding, Signer};

    /// A client identity like moonlight's: RSA-2048, self-signed, SHA-256.
    fn client_identity() -> (rsa::RsaPrivateKey, String, Vec<u8>) {
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let pem = crate::identity::self_signed_pem(&key, "NVIDIA GameStream Client").unwrap();
        let der = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap().1.contents;
        (key, pem, der)
    }

    /// Plays the client side of the exchange; returns the stage-4 result.
    fn run(host: &HostIdentity, host_pin: &str, client_pin: &str) -> Result<(), PairingError> {
        let (ckey, cpem, cder) = client_identity();
        let salt: [u8; 16] = rand::random();
        let mut a = PairingAttempt::begin(&salt, host_pin, cpem.as_bytes(), "test").unwrap();
        let k = derive_key(&salt, client_pin);
        let challenge: [u8; 16] = rand::random();
        let resp = ecb_decrypt(&k, &a.client_challenge(host, &ecb_encrypt(&k, &challenge).unwrap()).unwrap()).unwrap();
        let (server_hash, server_challenge) = resp.split_at(32);
        let client_secret: [u8; 16] = rand::random();
        let csig = certificate_signature(&cder).unwrap();
        let my_hash = sha256(&[server_challenge, &csig, &client_secret]);
        let secret = a.server_challenge_resp(host, &ecb_encrypt(&k, &my_hash).unwrap()).unwrap();
        // The client's checks: the host's signature, then the hash over its own challenge.
        let (ss, ssig) = secret.split_at(16);
        let hkey = certificate_public_key(&host.cert_der).unwrap();
        VerifyingKey::<Sha256>::new(hkey).verify(ss, &Signature::try_from(ssig).unwrap()).unwrap();
        let pin_ok = sha256(&[&challenge, &host.cert_signature, ss]) == server_hash;
        assert_eq!(pin_ok, host_pin == client_pin);
        let sig = SigningKey::<Sha256>::new(ckey).sign(&client_secret).to_vec();
        let mut msg = client_secret.to_vec();
        msg.extend_from_slice(&sig);
        a.client_pairing_secret(&msg)
    }

    #[test]
    fn full_exchange_right_and_wrong_pin() {
        let dir = tempfile::tempdir().unwrap();
        let host = HostIdentity::load_or_create(dir.path()).unwrap();
        assert_eq!(run(&host, "1234", "1234"), Ok(()));
        assert_eq!(run(&host, "1234", "4321"), Err(PairingError::WrongPin));
    }

    #[test]
    fn malformed_inputs_are_errors() {
        assert!(PairingAttempt::begin(&[0; 15], "1234", b"x", "d").is_err());
        assert!(matches!(
            PairingAttempt::begin(&[0; 16], "1234", b"not a pem", "d"),
            Err(PairingError::BadCertificate(_))
        ));
        assert!(ecb_decrypt(&[0; 16], &[1, 2, 3]).is_err());
        assert!(validate_pin("12a4").is_err() && validate_pin("123").is_err() && validate_pin("0000").is_ok());
    }
}
