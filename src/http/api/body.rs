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
