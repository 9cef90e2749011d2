//! HTTPS. Terraform refuses `http://` mirrors, so a first run needs a certificate: with
//! `--self-signed-tls` the server makes a local CA once (kept under the data dir) and issues
//! itself a certificate for localhost, 127.0.0.1 and the configured host names.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Paths of the generated material.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    pub ca_cert: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Creates (or reuses) the local CA and a server certificate covering `hostnames`.
/// The CA is made once; the server certificate is re-issued when the names change.
pub fn ensure_self_signed(data_dir: &Path, hostnames: &[String]) -> anyhow::Result<SelfSigned> {
    let dir = data_dir.join("tls");
    // It holds the CA's private key: the owner's only, like the data directory.
    crate::fsutil::create_private_dir(data_dir)
        .and_then(|()| crate::fsutil::create_private_dir(&dir))
        .with_context(|| format!("creating {}", dir.display()))?;
    let out = SelfSigned {
        ca_cert: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    };
    let ca_key_path = dir.join("ca.key");
    let names_path = dir.join("server.names");

    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for h in hostnames {
        if !names.contains(h) {
            names.push(h.clone());
        }
    }
    let names_line = names.join(",");

    if !out.ca_cert.exists() || !ca_key_path.exists() {
        let ca_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params
            .distinguished_name
            .push(DnType::CommonName, "tfmirror local CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_after = rcgen::date_time_ymd(2036, 1, 1);
        let cert = params.self_signed(&ca_key)?;
        crate::fsutil::write_private(&ca_key_path, ca_key.serialize_pem().as_bytes())?;
        std::fs::write(&out.ca_cert, cert.pem())?;
        let _ = std::fs::remove_file(&names_path);
    }
    let current = std::fs::read_to_string(&names_path).unwrap_or_default();
    if current != names_line || !out.cert.exists() || !out.key.exists() {
        let ca_key = KeyPair::from_pem(&std::fs::read_to_string(&ca_key_path)?)?;
        let issuer = Issuer::from_ca_cert_pem(&std::fs::read_to_string(&out.ca_cert)?, ca_key)?;
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.clone())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "tfmirror");
        params.not_after = rcgen::date_time_ymd(2036, 1, 1);
        let cert = params.signed_by(&key, &issuer)?;
        crate::fsutil::write_private(&out.key, key.serialize_pem().as_bytes())?;
        std::fs::write(&out.cert, cert.pem())?;
        std::fs::write(&names_path, &names_line)?;
    }
    Ok(out)
}

/// A rustls server config from PEM files.
pub fn server_config(cert_file: &Path, key_file: &Path) -> anyhow::Result<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .with_context(|| format!("reading certificate {}", cert_file.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing certificate {}", cert_file.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{} holds no certificate", cert_file.display());
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .with_context(|| format!("reading private key {}", key_file.display()))?;
    let provider = std::sync::Arc::new(provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not match")?;
    // Our order, not the client's: OpenSSL-based clients (curl, wrk, proxies) list
    // AES-256-GCM-SHA384 first, whose key schedule runs SHA-384 in software, where SHA-256
    // has the CPU's SHA extensions (bench/README.md: handshakes 1.6x cheaper, bulk
    // encryption faster). Go's client, Terraform's, already asks for AES-128-GCM first.
    config.ignore_client_order = true;
    Ok(config)
}

/// ring's cipher suites, AES-128-GCM first, then AES-256-GCM, then ChaCha20-Poly1305 (for
/// each protocol version): all of them safe, ordered by what they cost a server with AES
/// instructions.
fn provider() -> rustls::crypto::CryptoProvider {
    use rustls::CipherSuite as S;
    let mut provider = rustls::crypto::ring::default_provider();
    let rank = |suite: S| match suite {
        S::TLS13_AES_128_GCM_SHA256
        | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 0,
        S::TLS13_AES_256_GCM_SHA384
        | S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        | S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => 1,
        _ => 2,
    };
    // TLS 1.3 suites first, then TLS 1.2 ones, each by rank.
    provider
        .cipher_suites
        .sort_by_key(|s| (s.version() != &rustls::version::TLS13, rank(s.suite())));
    provider
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConnection};
    use rustls_pki_types::pem::PemObject;

    /// Runs a handshake in memory between a client that offers only `client_suites`, in that
    /// order, and the server config that `serve` uses; returns the suite agreed on.
    fn negotiated(client_suites: &[rustls::CipherSuite]) -> rustls::CipherSuite {
        let dir = tempfile::tempdir().unwrap();
        let tls = super::ensure_self_signed(dir.path(), &[]).unwrap();
        let server = Arc::new(super::server_config(&tls.cert, &tls.key).unwrap());
        let mut roots = RootCertStore::empty();
        for ca in super::CertificateDer::pem_file_iter(&tls.ca_cert).unwrap() {
            roots.add(ca.unwrap()).unwrap();
        }
        let mut provider = rustls::crypto::ring::default_provider();
        provider
            .cipher_suites
            .retain(|s| client_suites.contains(&s.suite()));
        provider.cipher_suites.sort_by_key(|s| {
            client_suites
                .iter()
                .position(|c| *c == s.suite())
                .unwrap_or(usize::MAX)
        });
        let client = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut client =
            ClientConnection::new(Arc::new(client), "localhost".try_into().unwrap()).unwrap();
        let mut server = ServerConnection::new(server).unwrap();
        for _ in 0..10 {
            if !client.is_handshaking() && !server.is_handshaking() {
                break;
            }
            let mut wire = Vec::new();
            client.write_tls(&mut wire).unwrap();
            server.read_tls(&mut wire.as_slice()).unwrap();
            server.process_new_packets().unwrap();
            let mut back = Vec::new();
            server.write_tls(&mut back).unwrap();
            client.read_tls(&mut back.as_slice()).unwrap();
            client.process_new_packets().unwrap();
        }
        assert!(!server.is_handshaking(), "the handshake completed");
        server.negotiated_cipher_suite().unwrap().suite()
    }

    #[test]
    fn the_server_picks_aes_128_gcm_whatever_order_the_client_lists() {
        use rustls::CipherSuite as S;
        // OpenSSL's default order (curl, wrk, nginx as a proxy).
        let openssl = [
            S::TLS13_AES_256_GCM_SHA384,
            S::TLS13_CHACHA20_POLY1305_SHA256,
            S::TLS13_AES_128_GCM_SHA256,
        ];
        assert_eq!(negotiated(&openssl), S::TLS13_AES_128_GCM_SHA256);
        // A client that offers only one suite still gets it.
        assert_eq!(
            negotiated(&[S::TLS13_CHACHA20_POLY1305_SHA256]),
            S::TLS13_CHACHA20_POLY1305_SHA256
        );
    }
}
