//! Blobs in a local directory. Writes go to a temp file in the same filesystem, are fsynced,
//! then renamed into place, so a crash never leaves a half-written file under a final name.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::fs::File;
use std::io::{Read, Seek};

use bytes::Bytes;
use futures_util::StreamExt;

use super::{BlobKey, BlobStore, ByteRange, ByteStream, StorageError};

/// Read size when streaming an object: large enough that per-chunk overhead is noise.
const CHUNK: usize = 512 * 1024;

/// Streams `len` bytes of `file` in chunks, each read on the blocking pool straight into the
/// buffer that is handed to the HTTP layer (no intermediate copy, no zero-fill).
fn file_chunks(file: File, len: u64) -> ByteStream {
    futures_util::stream::try_unfold((file, len), |(file, remaining)| async move {
        if remaining == 0 {
            return Ok(None);
        }
        let want = remaining.min(CHUNK as u64);
        let (file, chunk) =
            tokio::task::spawn_blocking(move || -> std::io::Result<(File, Vec<u8>)> {
                let mut buf = Vec::with_capacity(want as usize);
                (&file).take(want).read_to_end(&mut buf)?;
                Ok((file, buf))
            })
            .await
            .map_err(std::io::Error::other)??;
        if chunk.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "stored object is shorter than recorded",
            ));
        }
        let left = remaining - chunk.len() as u64;
        Ok(Some((Bytes::from(chunk), (file, left))))
    })
    .boxed()
}

pub struct LocalStore {
    root: PathBuf,
    tmp: PathBuf,
}

impl LocalStore {
    pub async fn open(root: &Path) -> Result<Self, StorageError> {
        let tmp = root.join(".tmp");
        tokio::fs::create_dir_all(&tmp).await?;
        // Anything left in .tmp is from a crash mid-write: never visible, safe to drop.
        let mut entries = tokio::fs::read_dir(&tmp).await?;
        while let Some(entry) = entries.next_entry().await? {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
        Ok(Self {
            root: root.to_owned(),
            tmp,
        })
    }

    fn path_of(&self, key: &BlobKey) -> PathBuf {
        self.root.join(key.as_str())
    }
}

#[async_trait::async_trait]
impl BlobStore for LocalStore {
    async fn put_file(&self, key: &BlobKey, src: &Path, size: u64) -> Result<(), StorageError> {
        let dest = self.path_of(key);
        if let Ok(meta) = tokio::fs::metadata(&dest).await
            && meta.len() == size
        {
            return Ok(());
        }
        let tmp = self.tmp.join(uuid::Uuid::new_v4().to_string());
        let src = src.to_owned();
        let tmp_for_task = tmp.clone();
        let result = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let parent = dest.parent().expect("blob keys have a directory");
            std::fs::create_dir_all(parent)?;
            std::fs::copy(&src, &tmp_for_task)?;
            std::fs::File::open(&tmp_for_task)?.sync_all()?;
            std::fs::rename(&tmp_for_task, &dest)?;
            // Make the rename itself durable.
            std::fs::File::open(parent)?.sync_all()?;
            Ok(())
        })
        .await
        .map_err(|e| StorageError::Backend(e.to_string()))?;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        Ok(result?)
    }

    async fn put_owned_file(
        &self,
        key: &BlobKey,
        src: &Path,
        size: u64,
    ) -> Result<(), StorageError> {
        let dest = self.path_of(key);
        let owned = src.to_owned();
        let moved = tokio::task::spawn_blocking(move || -> std::io::Result<bool> {
            let src = owned;
            let parent = dest.parent().expect("blob keys have a directory");
            std::fs::create_dir_all(parent)?;
            if std::fs::metadata(&dest).is_ok_and(|m| m.len() == size) {
                return Ok(true);
            }
            File::open(&src)?.sync_all()?;
            match std::fs::rename(&src, &dest) {
                Ok(()) => {
                    File::open(parent)?.sync_all()?;
                    Ok(true)
                }
                // Another filesystem: fall back to the copying path.
                Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await
        .map_err(|e| StorageError::Backend(e.to_string()))??;
        if moved {
            Ok(())
        } else {
            self.put_file(key, src, size).await
        }
    }

    async fn get(
        &self,
        key: &BlobKey,
        range: Option<ByteRange>,
    ) -> Result<ByteStream, StorageError> {
        let path = self.path_of(key);
        // An object of at most one chunk (most module archives, small providers) is read in
        // the same trip to the blocking pool that opens it: one thread hop per request, not two.
        let opened = tokio::task::spawn_blocking(
            move || -> std::io::Result<(File, u64, Option<Vec<u8>>)> {
                let mut file = File::open(path)?;
                let len = match range {
                    Some(r) => {
                        file.seek(SeekFrom::Start(r.start))?;
                        r.len()
                    }
                    None => file.metadata()?.len(),
                };
                if len > CHUNK as u64 {
                    return Ok((file, len, None));
                }
                let mut buf = Vec::with_capacity(len as usize);
                (&file).take(len).read_to_end(&mut buf)?;
                Ok((file, len, Some(buf)))
            },
        )
        .await
        .map_err(|e| StorageError::Backend(e.to_string()))?;
        let (file, len, whole) = match opened {
            Ok(v) => v,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StorageError::NotFound(key.as_str().to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(buf) = whole {
            if (buf.len() as u64) < len {
                return Err(StorageError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "stored object is shorter than recorded",
                )));
            }
            return Ok(futures_util::stream::once(async move { Ok(Bytes::from(buf)) }).boxed());
        }
        Ok(file_chunks(file, len))
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, StorageError> {
        Ok(tokio::fs::try_exists(self.path_of(key)).await?)
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), StorageError> {
        match tokio::fs::remove_file(self.path_of(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn presigned_url(
        &self,
        _key: &BlobKey,
        _ttl: Duration,
    ) -> Result<Option<String>, StorageError> {
        Ok(None)
    }

    async fn list_shard(
        &self,
        shard: u8,
    ) -> Result<Vec<(BlobKey, std::time::SystemTime)>, StorageError> {
        let dir = self.root.join("sha256").join(format!("{shard:02x}"));
        tokio::task::spawn_blocking(
            move || -> Result<Vec<(BlobKey, std::time::SystemTime)>, StorageError> {
                let mut keys = Vec::new();
                let entries = match std::fs::read_dir(&dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
                    Err(e) => return Err(e.into()),
                };
                for file in entries {
                    let file = file?;
                    let rel = format!("sha256/{shard:02x}/{}", file.file_name().to_string_lossy());
                    let Some(key) = BlobKey::parse(&rel) else {
                        continue;
                    };
                    // Deleted since the directory was read (another collection, a delete):
                    // nothing to list.
                    match file.metadata().and_then(|m| m.modified()) {
                        Ok(modified) => keys.push((key, modified)),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Ok(keys)
            },
        )
        .await
        .map_err(|e| StorageError::Backend(e.to_string()))?
    }

    async fn check(&self) -> Result<(), StorageError> {
        let meta = tokio::fs::metadata(&self.tmp).await?;
        if meta.permissions().readonly() {
            return Err(StorageError::Backend(format!(
                "{} is read-only",
                self.tmp.display()
            )));
        }
        Ok(())
    }
}
