//! The checks every package from a registry passes before it is stored, shared by the job
//! worker and pull-through: the `SHA256SUMS` file must carry a valid detached signature by one
//! of the registry's keys (unless the upstream allows unsigned packages), and must list the
//! registry's `shasum` for the archive.

use super::client::{DownloadInfo, RegistryClient};
use super::{UpstreamError, signature};
use crate::domain::{Evidence, PackageId, ProviderAddress};

/// The registry's download info for a package, checked to name the archive the mirror
/// expects; returned with the registry's `shasum` in lower case.
pub async fn package_info(
    client: &RegistryClient,
    id: &PackageId,
) -> Result<(DownloadInfo, String), UpstreamError> {
    let info = client
        .download_info(&id.address, &id.version, &id.platform)
        .await?;
    let filename = id.filename();
    if info.filename != filename {
        return Err(UpstreamError::permanent(format!(
            "the registry names the archive {:?}, expected {filename}",
            info.filename
        )));
    }
    let shasum = info.shasum.to_ascii_lowercase();
    Ok((info, shasum))
}

/// The downloaded bytes must hash to the registry's signed `shasum`.
pub fn check_sha256(shasum: &str, sha256: &str) -> Result<(), UpstreamError> {
    if sha256 == shasum {
        Ok(())
    } else {
        Err(UpstreamError::permanent(format!(
            "sha256 mismatch: expected {shasum}, got {sha256}"
        )))
    }
}

/// Fetches the version's `SHA256SUMS` and its signature and verifies them against the keys in
/// `info`. Returns the evidence to record with the packages of that version. A bad signature
/// is permanent; a network problem is transient.
pub async fn verified_sums(
    client: &RegistryClient,
    address: &ProviderAddress,
    info: &DownloadInfo,
) -> Result<Evidence, UpstreamError> {
    let sums = client
        .fetch_small(address, &info.shasums_url, "SHA256SUMS")
        .await?;
    let sums =
        String::from_utf8(sums).map_err(|_| UpstreamError::permanent("SHA256SUMS is not text"))?;
    let keys: Vec<String> = info
        .signing_keys
        .gpg_public_keys
        .iter()
        .map(|k| k.ascii_armor.clone())
        .collect();
    let mut evidence = Evidence {
        shasums: sums.clone(),
        protocols: info.protocols.clone(),
        ..Default::default()
    };
    if keys.is_empty() {
        if !client.allows_unsigned(&address.hostname) {
            return Err(UpstreamError::permanent(
                "the registry offered no signing key: refusing an unsigned package (set allow_unsigned = true on this upstream to accept it)",
            ));
        }
        tracing::warn!(%address, "accepting an UNSIGNED package: allow_unsigned is set for this upstream");
        return Ok(evidence);
    }
    let sig = client
        .fetch_small(address, &info.shasums_signature_url, "SHA256SUMS signature")
        .await?;
    let signed = sums.into_bytes();
    let sig_for_check = sig.clone();
    let verified = tokio::task::spawn_blocking(move || {
        signature::verify_detached(&signed, &sig_for_check, &keys)
    })
    .await
    .map_err(|e| UpstreamError::transient(e.to_string()))?
    .map_err(|e| UpstreamError::permanent(e.to_string()))?;
    let armor = info
        .signing_keys
        .gpg_public_keys
        .iter()
        .find(|k| k.key_id.eq_ignore_ascii_case(&verified.key_id))
        .or(info.signing_keys.gpg_public_keys.first())
        .map(|k| k.ascii_armor.clone());
    evidence.signature = Some(sig);
    evidence.signing_key_id = Some(verified.key_id);
    evidence.signing_key_armor = armor;
    Ok(evidence)
}

/// The registry's `shasum` for `filename` must be the one the signed `SHA256SUMS` lists.
pub fn check_listed(sums: &str, filename: &str, shasum: &str) -> Result<(), UpstreamError> {
    crate::hashes::check_listed(sums, filename, shasum).map_err(UpstreamError::permanent)
}
