//! Where package archives live. One trait, two implementations chosen by config: a local
//! directory (the embedded default) and any S3-compatible object store.
//!
//! Objects are content-addressed by their sha256, so a key is always built from a validated
//! digest, never from request input, and an object, once written, never changes.

mod local;
mod s3;

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::Stream;

pub use local::LocalStore;
pub use s3::S3Store;

use crate::config::{Config, StorageConfig};

/// A chunked stream of object bytes; never the whole object in memory.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object {0} not found")]
    NotFound(String),
    #[error("storage i/o error: {0}")]
    Io(io::Error),
    /// The disk or quota of the store is exhausted: an operator must free or add space.
    #[error("the package store is full ({0})")]
    Full(String),
    #[error("object store error: {0}")]
    Backend(String),
    /// The store cannot be reached or answers 5xx: worth retrying later.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
}

/// A full disk or an exhausted quota is told apart from other i/o errors: it needs an
/// operator, and retrying later may succeed once space is freed.
impl From<io::Error> for StorageError {
    fn from(e: io::Error) -> Self {
        const ENOSPC: i32 = 28;
        const EDQUOT: i32 = 122;
        if e.kind() == io::ErrorKind::StorageFull
            || e.kind() == io::ErrorKind::QuotaExceeded
            || matches!(e.raw_os_error(), Some(ENOSPC | EDQUOT))
        {
            Self::Full(e.to_string())
        } else {
            Self::Io(e)
        }
    }
}

/// The key of a package archive: `sha256/ab/abcdef...zip`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    /// Builds the key of a provider package for a hex sha256; refuses anything that is not
    /// exactly 64 lowercase hex digits.
    pub fn for_sha256(hex: &str) -> Option<Self> {
        Self::with_suffix(hex, ".zip")
    }

    /// The key of a module archive (a `.tar.gz`) for its hex sha256.
    pub fn for_module_sha256(hex: &str) -> Option<Self> {
        Self::with_suffix(hex, ".tar.gz")
    }

    fn with_suffix(hex: &str, suffix: &str) -> Option<Self> {
        (hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| Self(format!("sha256/{}/{}{suffix}", &hex[..2], hex)))
    }

    /// Re-validates a key read back from the database.
    pub fn parse(key: &str) -> Option<Self> {
        let rest = key.strip_prefix("sha256/")?.get(3..)?;
        let (hex, suffix) = if let Some(hex) = rest.strip_suffix(".zip") {
            (hex, ".zip")
        } else {
            (rest.strip_suffix(".tar.gz")?, ".tar.gz")
        };
        Self::with_suffix(hex, suffix).filter(|k| k.0 == key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An inclusive byte range already checked against the object size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes in the range (never zero: ranges are inclusive).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }
}

#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores the file at `src` under `key`. Atomic: readers see the complete object or none.
    /// Storing a key that exists is a no-op (keys are content hashes).
    async fn put_file(&self, key: &BlobKey, src: &Path, size: u64) -> Result<(), StorageError>;

    /// Like `put_file`, for a temp file the caller no longer needs: a store on the same
    /// filesystem may move it into place instead of copying it.
    async fn put_owned_file(
        &self,
        key: &BlobKey,
        src: &Path,
        size: u64,
    ) -> Result<(), StorageError> {
        self.put_file(key, src, size).await
    }

    /// Streams the object, or the given range of it.
    async fn get(
        &self,
        key: &BlobKey,
        range: Option<ByteRange>,
    ) -> Result<ByteStream, StorageError>;

    async fn exists(&self, key: &BlobKey) -> Result<bool, StorageError>;

    async fn delete(&self, key: &BlobKey) -> Result<(), StorageError>;

    /// A short-lived URL a client can download the object from directly, where the backend
    /// supports it.
    async fn presigned_url(
        &self,
        key: &BlobKey,
        ttl: Duration,
    ) -> Result<Option<String>, StorageError>;

    /// Readiness: is the store reachable and writable-looking?
    async fn check(&self) -> Result<(), StorageError>;

    /// The blobs of one of the 256 shards of the store (keys `sha256/{shard:02x}/...`) with
    /// when each was written (objects that are no valid key are left out), for finding
    /// orphans a shard at a time: memory follows a shard, not the whole store.
    async fn list_shard(
        &self,
        shard: u8,
    ) -> Result<Vec<(BlobKey, std::time::SystemTime)>, StorageError>;
}

/// Opens the store the config names.
pub async fn from_config(config: &Config) -> anyhow::Result<Arc<dyn BlobStore>> {
    Ok(match &config.storage {
        StorageConfig::Local(local) => {
            Arc::new(LocalStore::open(&config.local_storage_path(local)).await?)
        }
        StorageConfig::S3(s3) => Arc::new(S3Store::new(s3).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_only_from_digests() {
        let hex = "1025a57c971aae713a02ceb7953bf9a30a6b2f4cf96da7f5c9e77cdb3b1f00cc";
        let key = BlobKey::for_sha256(hex).unwrap();
        assert_eq!(key.as_str(), format!("sha256/10/{hex}.zip"));
        assert_eq!(BlobKey::parse(key.as_str()), Some(key));
        assert!(BlobKey::for_sha256("../../etc/passwd").is_none());
        let module = BlobKey::for_module_sha256(hex).unwrap();
        assert_eq!(module.as_str(), format!("sha256/10/{hex}.tar.gz"));
        assert_eq!(BlobKey::parse(module.as_str()), Some(module));
        assert!(BlobKey::parse(&format!("sha256/10/{hex}.tar")).is_none());
        assert!(BlobKey::for_sha256(&hex.to_uppercase()).is_none());
        assert!(
            BlobKey::parse(
                "sha256/11/1025a57c971aae713a02ceb7953bf9a30a6b2f4cf96da7f5c9e77cdb3b1f00cc.zip"
            )
            .is_none()
        );
    }
}
