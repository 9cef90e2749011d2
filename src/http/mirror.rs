//! The Provider Network Mirror Protocol:
//! `/{hostname}/{namespace}/{type}/index.json`, `/{version}.json` and the archives.

use std::time::Duration;

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};

use super::range::{self, RangeRequest};

use crate::catalog::{ProviderView, Rendered, StoredPackage};
use crate::domain::{MirrorFile, PackageId, ProviderAddress, parse_package_filename};
use crate::http::error::AppError;
use crate::pull::{PullError, Pulled};
use crate::state::AppState;
use crate::storage::StorageError;

/// Routes mirror paths by hand rather than with a `{param}` pattern: the router's regex
/// matching cost more than everything else in a metadata request.
/// Anything that is not `/{hostname}/{namespace}/{type}/{file}` is a 404.
pub async fn dispatch(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let mut parts = req.path().strip_prefix('/').unwrap_or("").split('/');
    let segments = match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some(h), Some(n), Some(t), Some(f), None) => [h, n, t, f],
        _ => return Err(AppError::not_found("no such resource")),
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(AppError::MethodNotAllowed);
    }
    super::access::allow_read(&req, &state).await?;
    let decoded: Vec<std::borrow::Cow<'_, str>> = segments
        .iter()
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy())
        .collect();
    get_mirror_file(
        &req,
        &state,
        [&decoded[0], &decoded[1], &decoded[2], &decoded[3]],
    )
    .await
}

fn parse_file(address: &ProviderAddress, file: &str) -> Result<MirrorFile, AppError> {
    MirrorFile::parse(&address.provider_type, file)?.ok_or_else(|| {
        AppError::not_found("expected index.json, VERSION.json or a package archive")
    })
}

async fn get_mirror_file(
    req: &HttpRequest,
    state: &AppState,
    [hostname, namespace, provider_type, file]: [&str; 4],
) -> Result<HttpResponse, AppError> {
    let address = ProviderAddress::new(hostname, namespace, provider_type)?;
    let file = parse_file(&address, file)?;
    let view = state.catalog.provider_view(&address).await?;
    if state.pull.enabled_for(&address) {
        return pull_through(req, state, &address, &view, file).await;
    }
    match file {
        MirrorFile::Index => {
            let doc = view.index.as_ref().ok_or_else(|| {
                AppError::not_found(format!("provider {address} is not in this mirror"))
            })?;
            Ok(json_response(req, doc))
        }
        MirrorFile::Version(version) => {
            let doc = view
                .versions
                .get(&version.to_string())
                .map(|v| &v.doc)
                .ok_or_else(|| {
                    AppError::not_found(format!(
                        "version {version} of {address} is not in this mirror"
                    ))
                })?;
            Ok(json_response(
                req,
                &super::access::version_doc(req, state, doc),
            ))
        }
        MirrorFile::Archive(name) => archive_response(req, state, &view, &name).await,
    }
}

/// A provider whose origin allows pull-through: stored data plus what the upstream offers.
async fn pull_through(
    req: &HttpRequest,
    state: &AppState,
    address: &ProviderAddress,
    view: &ProviderView,
    file: MirrorFile,
) -> Result<HttpResponse, AppError> {
    match file {
        MirrorFile::Index => {
            let doc = state.pull.index(address, view).await.ok_or_else(|| {
                AppError::not_found(format!(
                    "provider {address} is neither in this mirror nor available from its origin"
                ))
            })?;
            Ok(json_response(req, &doc))
        }
        MirrorFile::Version(version) => match state.pull.version(address, &version, view).await {
            Ok(Some(doc)) => Ok(json_response(
                req,
                &super::access::version_doc(req, state, &doc),
            )),
            Ok(None) => Err(AppError::not_found(format!(
                "version {version} of {address} is not available"
            ))),
            Err(e) => Err(AppError::not_found(format!(
                "version {version} of {address} is not in this mirror and its origin failed: {e}"
            ))),
        },
        MirrorFile::Archive(name) if view.package(&name).is_some() => {
            archive_response(req, state, view, &name).await
        }
        MirrorFile::Archive(name) => pull_archive(req, state, address, view, &name).await,
    }
}

/// Streams a package that is not stored from the shared upstream download, or serves it from
/// storage once that download has finished.
async fn pull_archive(
    req: &HttpRequest,
    state: &AppState,
    address: &ProviderAddress,
    view: &ProviderView,
    name: &str,
) -> Result<HttpResponse, AppError> {
    let (version, platform) = parse_package_filename(&address.provider_type, name)?;
    if view.blocked.contains(&version.to_string()) {
        return Err(AppError::not_found(format!(
            "version {version} of {address} is blocked"
        )));
    }
    let id = PackageId {
        address: address.clone(),
        version,
        platform,
    };
    match state.pull.archive(&id).await {
        Ok(Pulled::Streaming { total, body }) => {
            let mut res = HttpResponse::Ok();
            res.content_type("application/zip")
                .insert_header((header::CACHE_CONTROL, "no-store"));
            if req.method() == Method::HEAD {
                let empty = futures_util::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
                return Ok(res.body(SizedStream::new(total, empty)));
            }
            state
                .metrics
                .bytes_served
                .fetch_add(total, std::sync::atomic::Ordering::Relaxed);
            Ok(res.body(SizedStream::new(total, body)))
        }
        Ok(Pulled::Stored) => {
            // Stored here or by another replica: read it afresh.
            state.catalog.invalidate_local(address).await;
            let view = state.catalog.provider_view(address).await?;
            archive_response(req, state, &view, name).await
        }
        Err(PullError::Failed(e)) => Err(AppError::not_found(format!(
            "package {name} is not in this mirror and could not be fetched from {}: {e}",
            address.hostname
        ))),
        Err(e @ PullError::Busy(_)) => Err(AppError::Unavailable(e.to_string())),
        Err(PullError::Db(e)) => Err(e.into()),
        Err(e @ PullError::Vanished) => Err(AppError::internal(e)),
    }
}

/// Metadata changes when packages are added or blocked; let caches revalidate.
const JSON_CACHE_CONTROL: &str = "no-cache";
/// An archive never changes under its name: `zh:` pins its bytes.
const ARCHIVE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";
/// The same when reading needs a token: no shared cache may keep it.
const PRIVATE_ARCHIVE_CACHE_CONTROL: &str = "private, max-age=31536000, immutable";

fn archive_cache_control(state: &AppState) -> &'static str {
    if super::access::required(state) {
        PRIVATE_ARCHIVE_CACHE_CONTROL
    } else {
        ARCHIVE_CACHE_CONTROL
    }
}

/// The opaque tag of an entity tag, without the weakness marker.
fn opaque_tag(tag: &str) -> &str {
    let tag = tag.trim();
    tag.strip_prefix("W/").unwrap_or(tag)
}

/// `If-None-Match` uses the weak comparison (RFC 9110 13.1.2): `W/"x"` matches `"x"`.
fn etag_matches(req: &HttpRequest, etag: &str) -> bool {
    let ours = opaque_tag(etag);
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || opaque_tag(t) == ours)
        })
}

/// A 304 carries the validator and caching headers the 200 would have (RFC 9110 15.4.5).
fn not_modified(etag: &str, cache_control: &'static str) -> HttpResponse {
    HttpResponse::NotModified()
        .insert_header((header::ETAG, etag.to_owned()))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .finish()
}

fn json_response(req: &HttpRequest, doc: &Rendered) -> HttpResponse {
    if etag_matches(req, &doc.etag) {
        return not_modified(&doc.etag, JSON_CACHE_CONTROL);
    }
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::ETAG, doc.etag.clone()))
        .insert_header((header::CACHE_CONTROL, JSON_CACHE_CONTROL))
        .body(doc.body.clone())
}

async fn archive_response(
    req: &HttpRequest,
    state: &AppState,
    view: &ProviderView,
    name: &str,
) -> Result<HttpResponse, AppError> {
    let pkg: &StoredPackage = view
        .package(name)
        .ok_or_else(|| AppError::not_found(format!("package {name} is not in this mirror")))?;
    let id = pkg.id;
    blob_response(
        req,
        state,
        Blob {
            key: &pkg.key,
            size: pkg.size,
            sha256: &pkg.sha256,
            content_type: "application/zip",
            name,
        },
        || state.downloads.count(id),
    )
    .await
}

/// A stored archive to serve.
pub(super) struct Blob<'a> {
    pub key: &'a crate::storage::BlobKey,
    pub size: u64,
    pub sha256: &'a str,
    pub content_type: &'static str,
    /// What the client asked for, for messages.
    pub name: &'a str,
}

/// Serves a stored archive: GET and HEAD with Content-Length, its sha256 as a strong ETag,
/// conditional requests and one byte range (If-Range honoured), or a redirect to a presigned
/// URL when the store offers one. `counted` runs once per full download.
pub(super) async fn blob_response(
    req: &HttpRequest,
    state: &AppState,
    blob: Blob<'_>,
    counted: impl FnOnce(),
) -> Result<HttpResponse, AppError> {
    let Blob {
        key,
        size,
        sha256,
        content_type,
        name,
    } = blob;
    let store = state.catalog.store();
    if let Some(s3) = state.config.storage.s3()
        && s3.redirect_downloads
        && let Some(url) = store
            .presigned_url(key, Duration::from_secs(s3.presign_ttl_seconds))
            .await?
    {
        if req.method() == Method::GET {
            counted();
        }
        return Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    }

    let etag = format!("\"{sha256}\"");
    if etag_matches(req, &etag) {
        return Ok(not_modified(&etag, archive_cache_control(state)));
    }
    let range_header = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    // A range only applies to the representation the client already has (If-Range). The
    // comparison is strong (RFC 9110 13.1.5): a weak validator never matches.
    let if_range_ok = req
        .headers()
        .get(header::IF_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim() == etag);
    let range = if if_range_ok {
        range::parse(range_header, size)
    } else {
        RangeRequest::Full
    };

    let mut res = HttpResponse::build(StatusCode::OK);
    res.content_type(content_type)
        .insert_header((header::ETAG, etag))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, archive_cache_control(state)));
    let byte_range = match range {
        RangeRequest::Full => None,
        RangeRequest::Partial(r) => {
            res.status(StatusCode::PARTIAL_CONTENT).insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", r.start, r.end),
            ));
            Some(r)
        }
        RangeRequest::Unsatisfiable => {
            return Ok(HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .finish());
        }
    };
    let len = byte_range.map_or(size, |r| r.len());
    if req.method() == Method::HEAD {
        // A sized body that is never polled: correct Content-Length, no storage read.
        let empty = futures_util::stream::empty::<Result<bytes::Bytes, std::io::Error>>();
        return Ok(res.body(SizedStream::new(len, empty)));
    }
    if byte_range.is_none() {
        counted();
    }
    state
        .metrics
        .bytes_served
        .fetch_add(len, std::sync::atomic::Ordering::Relaxed);
    let stream = store.get(key, byte_range).await.map_err(|e| match e {
        // Down for now: 503 with Retry-After, and Terraform retries.
        StorageError::Unavailable(_) => AppError::from(e),
        e => AppError::internal(
            anyhow::Error::new(e).context(format!("reading stored archive {name}")),
        ),
    })?;
    Ok(res.body(SizedStream::new(len, stream)))
}
