//! Reading request bodies that are not JSON: raw text or a multipart form's `file` field.

use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

use crate::http::error::AppError;

/// Reads a request body up to `limit` bytes: the raw body, or the `file` field of a
/// multipart form.
pub async fn read_text_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, AppError> {
    let too_large = || AppError::TooLarge(format!("the file is larger than {limit} bytes"));
    if is_multipart(req) {
        let mut form = actix_multipart::Multipart::new(req.headers(), payload);
        while let Some(field) = form.next().await {
            let mut field = field.map_err(multipart_error)?;
            if field.name() != Some("file") {
                continue;
            }
            let mut out = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(multipart_error)?;
                if out.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                out.extend_from_slice(&chunk);
            }
            return Ok(out);
        }
        return Err(AppError::BadRequest(
            "the multipart form has no `file` field".into(),
        ));
    }
    let mut payload = payload;
    let mut out = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::payload(&e, "reading the body"))?;
        if out.len() + chunk.len() > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

pub fn is_multipart(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// A multipart body that could not be read: too slow (408) or malformed (400).
pub fn multipart_error(e: actix_multipart::MultipartError) -> AppError {
    match e {
        actix_multipart::MultipartError::Payload(p) => {
            AppError::payload(&p, "invalid multipart body")
        }
        other => AppError::BadRequest(format!("invalid multipart body: {other}")),
    }
}

/// A received multipart upload: its `file` spooled to a temp file, and its other fields.
pub struct Upload {
    pub file: tempfile::NamedTempFile,
    fields: std::collections::HashMap<String, String>,
}

impl Upload {
    /// A field that must be given and not empty.
    pub fn required(&self, name: &str) -> Result<&str, AppError> {
        self.optional(name)
            .ok_or_else(|| AppError::BadRequest(format!("the `{name}` field is required")))
    }

    /// A field that may be left out or empty.
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// The longest a multipart text field may be, unless the route names it longer.
const FIELD_LIMIT: usize = 1024;

/// A multipart upload: its `file` field spooled to a temp file (at most `limit` bytes,
/// written off the executor), and its other fields by name: each at most 1 KiB, or the bound `long_fields` gives it.
pub async fn receive_upload(
    req: &HttpRequest,
    state: &crate::state::AppState,
    payload: actix_web::web::Payload,
    limit: u64,
    long_fields: &[(&str, usize)],
) -> Result<Upload, AppError> {
    use futures_util::StreamExt;

    use crate::http::error::OrInternal;
    if !is_multipart(req) {
        return Err(AppError::BadRequest(
            "expected a multipart/form-data body".into(),
        ));
    }
    let tmp_dir = state.config.data_dir.join("tmp/uploads");
    tokio::fs::create_dir_all(&tmp_dir)
        .await
        .or_internal("creating the upload directory")?;
    let tmp = tempfile::NamedTempFile::new_in(&tmp_dir).or_internal("creating an upload file")?;
    let mut fields = std::collections::HashMap::new();
    let mut got_file = false;
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(multipart_error)?;
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            use std::io::Write;
            let mut file = tmp.reopen().or_internal("opening the upload file")?;
            let mut size = 0u64;
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(multipart_error)?;
                size += chunk.len() as u64;
                if size > limit {
                    return Err(AppError::TooLarge(format!(
                        "the archive is larger than {limit} bytes"
                    )));
                }
                file = tokio::task::spawn_blocking(move || file.write_all(&chunk).map(|_| file))
                    .await
                    .or_internal("writing an upload")?
                    .or_internal("writing an upload")?;
            }
            got_file = true;
        } else {
            let mut value = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(multipart_error)?;
                let bound = long_fields
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(FIELD_LIMIT, |(_, b)| *b);
                if value.len() + chunk.len() > bound {
                    return Err(AppError::BadRequest(format!("field {name} is too long")));
                }
                value.extend_from_slice(&chunk);
            }
            fields.insert(name, String::from_utf8_lossy(&value).trim().to_owned());
        }
    }
    if !got_file {
        return Err(AppError::BadRequest(
            "the multipart form has no `file` field".into(),
        ));
    }
    Ok(Upload { file: tmp, fields })
}
