//! The mirror's own OpenPGP key. Packages that reached the mirror without a registry's
//! signature (imports, uploads) are served through the registry protocol with a
//! `SHA256SUMS` the mirror generates and signs with this key, which it publishes as the
//! signing key. Generated on first start (ECDSA P-256, which Terraform 1.0's OpenPGP library
//! verifies; it knows no EdDSA) as `DATA_DIR/signing-key.asc` with mode 0600, or read from
//! `registry.signing_key_file`.

use anyhow::Context;
use pgp::composed::{
    ArmorOptions, Deserializable, DetachedSignature, KeyType, SecretKeyParamsBuilder,
    SignedSecretKey,
};
use pgp::crypto::ecc_curve::ECCCurve;
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, Password};

use crate::config::Config;

pub struct MirrorKey {
    secret: SignedSecretKey,
    /// 16 upper-case hex digits.
    pub key_id: String,
    pub armored_public: String,
}

impl MirrorKey {
    /// Reads the configured key, or the generated one, generating it on first use.
    pub fn load_or_generate(config: &Config) -> anyhow::Result<Self> {
        let (path, configured) = match &config.registry.signing_key_file {
            Some(p) => (p.clone(), true),
            None => (config.data_dir.join("signing-key.asc"), false),
        };
        if path.exists() || configured {
            let armor = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the signing key {}", path.display()))?;
            let (secret, _) = SignedSecretKey::from_string(&armor).with_context(|| {
                format!(
                    "{} is not an ASCII-armored OpenPGP secret key",
                    path.display()
                )
            })?;
            return Self::from_secret(secret);
        }
        let key = generate("tfmirror <tfmirror@localhost>")?;
        crate::fsutil::write_private(
            &path,
            key.to_armored_string(ArmorOptions::default())?.as_bytes(),
        )?;
        tracing::info!(path = %path.display(), "generated the mirror's signing key");
        Self::from_secret(key)
    }

    /// A key from its ASCII-armored secret key (as several replicas share it).
    pub fn from_armor(armor: &str) -> anyhow::Result<Self> {
        let (secret, _) = SignedSecretKey::from_string(armor)
            .context("the stored signing key is not an ASCII-armored OpenPGP secret key")?;
        Self::from_secret(secret)
    }

    /// A new key, ASCII-armored: the data directory's key file when there is one (a node
    /// moving to PostgreSQL keeps its key), else a fresh key.
    pub fn local_or_new_armor(config: &Config) -> anyhow::Result<String> {
        let path = config.data_dir.join("signing-key.asc");
        if path.exists() {
            return std::fs::read_to_string(&path)
                .with_context(|| format!("reading the signing key {}", path.display()));
        }
        Ok(generate("tfmirror <tfmirror@localhost>")?.to_armored_string(ArmorOptions::default())?)
    }

    fn from_secret(secret: SignedSecretKey) -> anyhow::Result<Self> {
        let armored_public = secret
            .to_public_key()
            .to_armored_string(ArmorOptions::default())?;
        Ok(Self {
            key_id: hex::encode_upper(secret.primary_key.legacy_key_id()),
            armored_public,
            secret,
        })
    }

    /// A binary detached signature over `data`, as registries serve `SHA256SUMS.sig`.
    pub fn sign(&self, data: &[u8]) -> anyhow::Result<Vec<u8>> {
        let sig = DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            &self.secret.primary_key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            data,
        )?;
        Ok(sig.to_bytes()?)
    }
}

fn generate(user_id: &str) -> anyhow::Result<SignedSecretKey> {
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::ECDSA(ECCCurve::P256))
        .can_certify(true)
        .can_sign(true)
        .primary_user_id(user_id.into());
    Ok(params.build()?.generate(rand::thread_rng())?)
}
