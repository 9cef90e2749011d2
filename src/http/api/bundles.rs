//! Air-gap bundles in the admin API (`crate::bundle`): export a bundle as a download,
//! import an uploaded one against a trusted key with the verification result per entry, and
//! the mirror's public key that the disconnected side trusts.

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::audit_record;
use super::body::receive_upload;
use crate::bundle::{BundleError, Importer, Quiet, Selection};
use crate::http::caller::Caller;
use crate::http::error::AppError;
use crate::state::AppState;

/// Largest trusted key an import accepts (an ASCII-armored public key is a few KiB).
const MAX_KEY_BYTES: usize = 64 << 10;

/// One import at a time per replica: two at once would verify the same blobs twice.
static IMPORTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/bundles/export", web::post().to(export))
        .route("/bundles/import", web::post().to(import))
        .route("/bundles/signing-key", web::get().to(signing_key));
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportBody {
    /// Every stored package and module version that is not blocked.
    #[serde(default)]
    all: bool,
    /// Or only what this definitions file lists.
    #[serde(default)]
    definitions: Option<String>,
}

/// Streams the bundle as it is written (`application/x-tar`); a failure part-way aborts the
/// response, so a client never keeps a short bundle for a whole one (and import refuses a
/// truncated one anyway).
async fn export(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ExportBody>,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let selection = match (body.all, &body.definitions) {
        (true, None) => Selection::All,
        (false, Some(text)) => {
            if text.len() > state.config.limits.max_definitions_bytes {
                return Err(AppError::TooLarge(format!(
                    "the definitions are larger than {} bytes",
                    state.config.limits.max_definitions_bytes
                )));
            }
            Selection::Definitions(crate::definitions::parse_definitions(text).map_err(
                |problems| AppError::BadRequest(format!("definitions: {}", problems.summary())),
            )?)
        }
        _ => {
            return Err(AppError::BadRequest(
                "give either `all: true` or `definitions`".into(),
            ));
        }
    };
    let plan = crate::bundle::plan(&state.db, &selection, &state.signing_key.key_id).await?;
    if plan.entries.is_empty() {
        return Err(AppError::NotFound(
            "nothing to export: no stored package or module version matches".into(),
        ));
    }
    let packages = plan.packages();
    audit_record(
        &state,
        &caller,
        "bundle.export",
        None,
        json!({
            "packages": packages,
            "modules": plan.manifest.modules.len(),
            "bytes": plan.bytes(),
            "unmatched": plan.unmatched,
        }),
    )
    .await?;
    let (mut writer, reader) = tokio::io::duplex(1 << 20);
    let (done, outcome) = tokio::sync::oneshot::channel();
    let writing = state.clone();
    tokio::spawn(async move {
        let result = crate::bundle::write(
            writing.catalog.store().as_ref(),
            &writing.signing_key,
            &plan,
            &mut writer,
            &Quiet,
        )
        .await;
        if let Err(e) = &result {
            tracing::warn!(error = format!("{e:#}"), "a bundle export failed part-way");
        }
        let _ = done.send(result.is_ok());
    });
    let tail = futures_util::stream::once(async move {
        match outcome.await {
            Ok(true) => None,
            _ => Some(Err(std::io::Error::other("the export failed part-way"))),
        }
    })
    .filter_map(|x| async move { x });
    let name = format!(
        "tfmirror-{}.bundle",
        crate::clock::iso8601(crate::clock::now())
            .replace([':', '-'], "")
            .trim_end_matches('Z')
    );
    Ok(HttpResponse::Ok()
        .content_type("application/x-tar")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .streaming(tokio_util::io::ReaderStream::new(reader).chain(tail)))
}

/// A multipart upload: `file` (the bundle) and `trusted_key` (the exporting mirror's
/// ASCII-armored public key). 200 with the report per entry; 422 naming the entry that
/// failed a check, nothing from the bundle listed.
async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    caller.require_admin()?;
    let Ok(_one) = IMPORTING.try_lock() else {
        return Err(AppError::Conflict(
            "another bundle import is running on this replica: try again when it ends".into(),
        ));
    };
    let limit = state.config.limits.max_bundle_bytes;
    let upload = receive_upload(
        &req,
        &state,
        payload,
        limit,
        &[("trusted_key", MAX_KEY_BYTES)],
    )
    .await?;
    let key = upload.required("trusted_key")?.to_owned();
    let file = tokio::fs::File::open(upload.file.path())
        .await
        .map_err(AppError::internal)?;
    let tmp = state.config.data_dir.join("tmp/bundles");
    let keys = [key];
    let importer = Importer {
        catalog: &state.catalog,
        tmp_dir: &tmp,
        trusted_keys: &keys,
    };
    match importer
        .import(tokio::io::BufReader::with_capacity(1 << 20, file), &Quiet)
        .await
    {
        Ok(report) => {
            audit_record(
                &state,
                &caller,
                "bundle.import",
                Some(&format!("bundle signed by {}", report.signed_by)),
                json!({
                    "packages_added": report.packages_added,
                    "modules_added": report.modules_added,
                    "bytes": report.bytes,
                }),
            )
            .await?;
            Ok(HttpResponse::Ok().json(report))
        }
        Err(BundleError::Refused { entry, why }) => {
            Ok(HttpResponse::UnprocessableEntity().json(json!({
                "code": "bundle_refused",
                "message": format!("bundle refused at {entry}: {why}; nothing from it was imported"),
                "entry": entry,
                "why": why,
            })))
        }
        Err(BundleError::Catalog(e)) => Err(e.into()),
        Err(BundleError::Io(e)) => Err(AppError::internal(
            anyhow::Error::new(e).context("importing a bundle"),
        )),
    }
}

/// The mirror's ASCII-armored public key: what `import-bundle --trusted-key` on a
/// disconnected mirror trusts.
async fn signing_key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/pgp-keys")
        .body(state.signing_key.armored_public.clone())
}
