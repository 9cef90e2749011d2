//! Blobs in an S3-compatible object store (AWS S3, MinIO, SeaweedFS). Large objects go up in
//! parts; an object becomes visible only when its upload completes, so readers never see a
//! partial archive.

use std::path::Path;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream as S3Body, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures_util::StreamExt;

use super::{BlobKey, BlobStore, ByteRange, ByteStream, StorageError};
use crate::config::S3Config;

pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    part_size: u64,
    /// The bound on one request (`storage.s3.timeout_seconds`), and on the wait for the next
    /// bytes of an object being read.
    timeout: Duration,
}

/// Timeouts for one request that may take `total`: an object store that accepts the
/// connection and then says nothing must not hold a client (or a worker) forever.
fn timeouts(total: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(total.min(Duration::from_secs(5)))
        .operation_timeout(total)
        .build()
}

fn backend_err(e: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(e.to_string())
}

/// The SDK's errors hide the useful part behind `Display`; this shows the service message.
fn sdk_err<E: std::error::Error + 'static>(e: aws_sdk_s3::error::SdkError<E>) -> StorageError {
    use aws_sdk_s3::error::SdkError;
    let down = match &e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(se) => se.raw().status().is_server_error(),
        _ => false,
    };
    let message = aws_sdk_s3::error::DisplayErrorContext(e).to_string();
    if down {
        StorageError::Unavailable(message)
    } else {
        StorageError::Backend(message)
    }
}

impl S3Store {
    pub async fn new(cfg: &S3Config) -> anyhow::Result<Self> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()));
        if let Some(id) = &cfg.access_key_id {
            loader = loader.credentials_provider(Credentials::new(
                id,
                cfg.secret_access_key.expose(),
                None,
                None,
                "tfmirror-config",
            ));
        }
        let shared = loader.load().await;
        let timeout = Duration::from_secs(cfg.timeout_seconds);
        let mut builder = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(cfg.path_style)
            .timeout_config(timeouts(timeout));
        if let Some(endpoint) = &cfg.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        let prefix = cfg.prefix.trim_matches('/').to_owned();
        Ok(Self {
            client: Client::from_conf(builder.build()),
            bucket: cfg.bucket.clone(),
            prefix: if prefix.is_empty() {
                prefix
            } else {
                format!("{prefix}/")
            },
            part_size: cfg.multipart_part_mib << 20,
            timeout,
        })
    }

    /// The bound for a request that sends `bytes` of body: the usual one plus a second per
    /// MiB (a store slower than 1 MiB/s counts as stalled).
    fn upload_override(&self, bytes: u64) -> aws_sdk_s3::config::Builder {
        let total = self.timeout + Duration::from_secs(bytes.div_ceil(1 << 20));
        aws_sdk_s3::config::Builder::default().timeout_config(timeouts(total))
    }

    fn object_key(&self, key: &BlobKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }

    async fn put_multipart(&self, object: &str, src: &Path, size: u64) -> Result<(), StorageError> {
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(object)
            .content_type(content_type(object))
            .send()
            .await
            .map_err(sdk_err)?;
        let upload_id = upload
            .upload_id()
            .ok_or_else(|| backend_err("object store returned no upload id"))?
            .to_owned();
        let result = self.upload_parts(object, &upload_id, src, size).await;
        if result.is_err() {
            // Do not leave invisible parts accruing storage costs.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(object)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(
        &self,
        object: &str,
        upload_id: &str,
        src: &Path,
        size: u64,
    ) -> Result<(), StorageError> {
        let mut parts = Vec::new();
        let mut offset = 0u64;
        let mut number = 1i32;
        while offset < size {
            let len = self.part_size.min(size - offset);
            let body = S3Body::read_from()
                .path(src)
                .offset(offset)
                .length(Length::Exact(len))
                .build()
                .await
                .map_err(backend_err)?;
            let part = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(object)
                .upload_id(upload_id)
                .part_number(number)
                .body(body)
                .customize()
                .config_override(self.upload_override(len))
                .send()
                .await
                .map_err(sdk_err)?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag().map(str::to_owned))
                    .build(),
            );
            offset += len;
            number += 1;
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(object)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }
}

/// What a stored object is, by its key's suffix.
fn content_type(object: &str) -> &'static str {
    if object.ends_with(".tar.gz") {
        "application/gzip"
    } else {
        "application/zip"
    }
}

#[async_trait::async_trait]
impl BlobStore for S3Store {
    async fn put_file(&self, key: &BlobKey, src: &Path, size: u64) -> Result<(), StorageError> {
        if self.exists(key).await? {
            return Ok(());
        }
        let object = self.object_key(key);
        if size > self.part_size {
            return self.put_multipart(&object, src, size).await;
        }
        let body = S3Body::from_path(src).await.map_err(backend_err)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(&object)
            .content_type(content_type(&object))
            .content_length(size as i64)
            .body(body)
            .customize()
            .config_override(self.upload_override(size))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn get(
        &self,
        key: &BlobKey,
        range: Option<ByteRange>,
    ) -> Result<ByteStream, StorageError> {
        let mut req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key));
        if let Some(r) = range {
            req = req.range(format!("bytes={}-{}", r.start, r.end));
        }
        let out = req.send().await.map_err(|e| match e.as_service_error() {
            Some(se) if se.is_no_such_key() => StorageError::NotFound(key.as_str().to_owned()),
            _ => sdk_err(e),
        })?;
        let body = out.body;
        let stall = self.timeout;
        // A store that stops sending mid-object ends the stream with an error after `stall`
        // (the client sees a short body and retries) instead of holding the connection.
        let stream = futures_util::stream::unfold(Some(body), move |body| async move {
            let mut body = body?;
            match tokio::time::timeout(stall, body.try_next()).await {
                Ok(Ok(Some(chunk))) => Some((Ok(chunk), Some(body))),
                Ok(Ok(None)) => None,
                Ok(Err(e)) => Some((Err(std::io::Error::other(e)), None)),
                Err(_) => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("the object store sent nothing for {}s", stall.as_secs()),
                    )),
                    None,
                )),
            }
        });
        Ok(stream.boxed())
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, StorageError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(false),
            Err(e) => Err(sdk_err(e)),
        }
    }

    async fn list_shard(
        &self,
        shard: u8,
    ) -> Result<Vec<(BlobKey, std::time::SystemTime)>, StorageError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{}sha256/{shard:02x}/", self.prefix))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(sdk_err)?;
            for object in page.contents() {
                let key = object
                    .key()
                    .and_then(|k| k.strip_prefix(&self.prefix))
                    .and_then(BlobKey::parse);
                let modified = object
                    .last_modified()
                    .and_then(|t| std::time::SystemTime::try_from(*t).ok())
                    .unwrap_or(std::time::UNIX_EPOCH);
                if let Some(key) = key {
                    keys.push((key, modified));
                }
            }
        }
        Ok(keys)
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn presigned_url(
        &self,
        key: &BlobKey,
        ttl: Duration,
    ) -> Result<Option<String>, StorageError> {
        let presign = PresigningConfig::expires_in(ttl).map_err(backend_err)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .presigned(presign)
            .await
            .map_err(sdk_err)?;
        Ok(Some(req.uri().to_owned()))
    }

    async fn check(&self) -> Result<(), StorageError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }
}
