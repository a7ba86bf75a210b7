//! PIN pairing, the client side of the host's five stages (`lumen_stream::pairing` is the spec): the
//! shared AES key from salt and PIN, challenges both ways, the host's signature checked against the
//! certificate it sent, the host certificate pinned for later HTTPS.

use anyhow::{bail, ensure, Context};
use lumen_stream::pairing::{certificate_signature, derive_key, ecb_decrypt, ecb_encrypt};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use rsa::RsaPublicKey;
use sha2::{Digest, Sha256};

use crate::http::{xml_one, Nvhttp};
use crate::identity::ClientIdentity;

fn base_query(id: &ClientIdentity) -> Vec<(&'static str, String)> {
    vec![
        ("uniqueid", id.unique_id.clone()),
        ("uuid", hex::encode(rand::random::<[u8; 16]>())),
        ("devicename", "lumen-client".into()),
        ("updateState", "1".into()),
    ]
}

fn stage(http: &Nvhttp, id: &ClientIdentity, extra: &[(&'static str, String)], tls: bool) -> anyhow::Result<String> {
    let mut q = base_query(id);
    q.extend_from_slice(extra);
    let xml = if tls { http.get_tls("/pair", &q)? } else { http.get_plain("/pair", &q)? };
    ensure!(xml_one(&xml, "paired")? == "1", "pairing refused by the host (wrong PIN?)");
    Ok(xml)
}

/// Pairs with the host behind `http` using `pin`; pins and saves the host certificate.
pub fn pair(http: &Nvhttp, id: &ClientIdentity, host: &str, pin: &str) -> anyhow::Result<()> {
    let salt: [u8; 16] = rand::random();
    let key = derive_key(&salt, pin);
    tracing::info!("pairing: waiting for the host owner to enter the PIN");
    let xml = stage(
        http,
        id,
        &[("phrase", "getservercert".into()), ("salt", hex::encode(salt)), ("clientcert", hex::encode(&id.cert_pem))],
        false,
    )?;
    let host_pem = hex::decode(xml_one(&xml, "plaincert")?).context("plaincert hex")?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&host_pem).context("host certificate PEM")?;
    let host_der = pem.contents;
    let host_sig = certificate_signature(&host_der).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&host_der).context("host certificate")?;
    let host_key = RsaPublicKey::from_public_key_der(cert.public_key().raw).context("host key")?;

    let challenge: [u8; 16] = rand::random();
    let enc = ecb_encrypt(&key, &challenge).map_err(|e| anyhow::anyhow!("{e}"))?;
    let xml = stage(http, id, &[("clientchallenge", hex::encode(enc))], false)?;
    let resp =
        ecb_decrypt(&key, &hex::decode(xml_one(&xml, "challengeresponse")?)?).map_err(|e| anyhow::anyhow!("{e}"))?;
    ensure!(resp.len() >= 48, "challenge response too short");
    let (server_hash, server_challenge) = (&resp[..32], &resp[32..48]);

    let client_secret: [u8; 16] = rand::random();
    let own_sig = certificate_signature(&id.cert_der).map_err(|e| anyhow::anyhow!("{e}"))?;
    let client_hash: [u8; 32] = Sha256::new()
        .chain_update(server_challenge)
        .chain_update(&own_sig)
        .chain_update(client_secret)
        .finalize()
        .into();
    let enc = ecb_encrypt(&key, &client_hash).map_err(|e| anyhow::anyhow!("{e}"))?;
    let xml = stage(http, id, &[("serverchallengeresp", hex::encode(enc))], false)?;
    let secret = hex::decode(xml_one(&xml, "pairingsecret")?)?;
    ensure!(secret.len() > 16, "pairing secret too short");
    let (server_secret, sig) = secret.split_at(16);
    let sig = Signature::try_from(sig).context("host signature")?;
    if VerifyingKey::<Sha256>::new(host_key).verify(server_secret, &sig).is_err() {
        bail!("the host's pairing secret is not signed by its certificate (man in the middle?)");
    }
    let expect: [u8; 32] =
        Sha256::new().chain_update(challenge).chain_update(&host_sig).chain_update(server_secret).finalize().into();
    ensure!(server_hash == expect, "the host's challenge hash does not match (wrong PIN or not this host)");

    let mut pairing_secret = client_secret.to_vec();
    pairing_secret.extend_from_slice(&id.sign(&client_secret));
    stage(http, id, &[("clientpairingsecret", hex::encode(pairing_secret))], false)?;
    id.save_host_cert(host, &host_der)?;
    // Stage 5 over HTTPS, with the host certificate now pinned.
    let pinned = Nvhttp::new(id, host, http.base())?;
    stage(&pinned, id, &[("phrase", "pairchallenge".into())], true)?;
    tracing::info!("paired");
    Ok(())
}
