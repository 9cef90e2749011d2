//! The Provider Registry Protocol (`providers.v1`) over the stored packages, so that source
//! addresses on the mirror's own host, or a CLI `host` override of an origin, install from the
//! mirror with the registry's signature checks:
//!
//! * `/.well-known/terraform.json` announces `/v1/providers/`, which serves the default origin
//!   (`registry.default_origin`); `/registry/HOSTNAME/v1/providers/` serves any origin.
//! * Packages fetched from a registry are served with the registry's original `SHA256SUMS`,
//!   detached signature and key (kept at ingest), so Terraform checks the original
//!   publisher's signature and records the signed `zh:` of every platform in its lock file.
//! * Packages without a registry signature (imports, uploads) get a `SHA256SUMS` the mirror
//!   generates and signs with its own key.
//! * With pull-through, versions not stored yet are offered too: their download documents
//!   carry the upstream's verified `SHA256SUMS`, and the archive URL pulls them through.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::access;
use crate::db;
use crate::domain::{PackageId, Platform, ProviderAddress, Version};
use crate::http::error::{AppError, OrInternal};
use crate::state::AppState;
use crate::upstream::client::shasum_for;

/// The routes sit in scopes with static prefixes: a mirror request (the hot path, answered
/// by the default service) is then turned away by a prefix comparison instead of running
/// every pattern's regex (which took 15% of the CPU of an `index.json` request).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/.well-known/terraform.json").get(discovery))
        .service(
            web::scope("/v1/providers")
                .service(web::resource("/{ns}/{ptype}/versions").get(default_versions))
                .service(
                    web::resource("/{ns}/{ptype}/{version}/download/{os}/{arch}")
                        .get(default_download),
                ),
        )
        .service(web::scope("/v1/modules").configure(super::modules::default_routes))
        .service(
            web::scope("/registry")
                .configure(super::modules::origin_routes)
                .service(web::resource("/{host}/v1/providers/{ns}/{ptype}/versions").get(versions))
                .service(
                    web::resource(
                        "/{host}/v1/providers/{ns}/{ptype}/{version}/download/{os}/{arch}",
                    )
                    .get(download),
                )
                .service(
                    web::resource("/{host}/sums/{ns}/{ptype}/{version}/{file}").get(origin_sums),
                )
                .service(
                    web::resource("/{host}/mirror-sums/{ns}/{ptype}/{version}/{file}")
                        .get(mirror_sums),
                ),
        );
}

async fn discovery() -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({ "modules.v1": "/v1/modules/", "providers.v1": "/v1/providers/" }))
}

async fn default_versions(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    access::allow_read(&req, &state).await?;
    let (ns, ptype) = path.into_inner();
    let host = state.config.registry.default_origin.clone();
    versions_of(&state, &ProviderAddress::new(&host, &ns, &ptype)?).await
}

async fn versions(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    access::allow_read(&req, &state).await?;
    let (host, ns, ptype) = path.into_inner();
    versions_of(&state, &ProviderAddress::new(&host, &ns, &ptype)?).await
}

async fn default_download(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String, String, String)>,
) -> Result<HttpResponse, AppError> {
    access::allow_read(&req, &state).await?;
    let (ns, ptype, version, os, arch) = path.into_inner();
    let host = state.config.registry.default_origin.clone();
    download_of(&state, [&host, &ns, &ptype, &version, &os, &arch]).await
}

async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String, String, String, String)>,
) -> Result<HttpResponse, AppError> {
    access::allow_read(&req, &state).await?;
    let (host, ns, ptype, version, os, arch) = path.into_inner();
    download_of(&state, [&host, &ns, &ptype, &version, &os, &arch]).await
}

/// A version's protocols and (os, arch) platforms.
type Listed = (Vec<String>, BTreeSet<(String, String)>);

/// `versions`: stored versions with their platforms, plus what pull-through offers.
async fn versions_of(
    state: &AppState,
    address: &ProviderAddress,
) -> Result<HttpResponse, AppError> {
    let view = state.catalog.provider_view(address).await?;
    let mut listed: BTreeMap<String, Listed> = BTreeMap::new();
    for (version, stored) in &view.versions {
        let entry = listed.entry(version.clone()).or_default();
        for archive in &stored.archives {
            if let Ok(p) = Platform::parse(&archive.platform) {
                entry.1.insert((p.os, p.arch));
            }
        }
    }
    if state.pull.enabled_for(address) {
        match state.pull.offered(address, &view).await {
            Ok(offered) => {
                for v in offered {
                    let entry = listed.entry(v.version.clone()).or_default();
                    entry.0 = v.protocols.clone();
                    entry
                        .1
                        .extend(v.platforms.iter().map(|p| (p.os.clone(), p.arch.clone())));
                }
            }
            Err(e) => tracing::warn!(%address, error = %e, "upstream version list unavailable"),
        }
    }
    if listed.is_empty() {
        return Err(AppError::not_found(format!(
            "provider {address} is not in this mirror"
        )));
    }
    let versions: Vec<serde_json::Value> = listed
        .into_iter()
        .map(|(version, (protocols, platforms))| {
            let protocols = if protocols.is_empty() {
                vec!["5.0".to_owned()]
            } else {
                protocols
            };
            let platforms: Vec<_> = platforms
                .into_iter()
                .map(|(os, arch)| json!({ "os": os, "arch": arch }))
                .collect();
            json!({ "version": version, "protocols": protocols, "platforms": platforms })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "versions": versions })))
}

/// `download/{os}/{arch}` for one package.
async fn download_of(
    state: &AppState,
    [host, ns, ptype, version, os, arch]: [&str; 6],
) -> Result<HttpResponse, AppError> {
    let id = PackageId {
        address: ProviderAddress::new(host, ns, ptype)?,
        version: Version::parse(version)?,
        platform: Platform::new(os, arch)?,
    };
    let address = &id.address;
    let filename = id.filename();
    let view = state.catalog.provider_view(address).await?;
    let version_key = id.version.to_string();
    if view.blocked.contains(&version_key) {
        return Err(AppError::not_found(format!(
            "version {version_key} of {address} is blocked"
        )));
    }
    // Path-absolute references, which clients resolve against this document's own URL:
    // nothing a request says (`Host`, `X-Forwarded-Host`, `Forwarded`) can point a client
    // at another server.
    let origin_sums_url = format!(
        "/registry/{}/sums/{}/{}/{}/SHA256SUMS",
        address.hostname, address.namespace, address.provider_type, id.version
    );
    let (shasum, protocols, sums_url, key_id, armor) = if let Some(pkg) = view.package(&filename) {
        let evidence = db::packages::version_evidence(&state.db, address, &version_key).await?;
        match evidence {
            Some(e)
                if e.signature.is_some()
                    && shasum_for(&e.shasums, &filename).as_deref() == Some(&pkg.sha256) =>
            {
                (
                    pkg.sha256.clone(),
                    e.protocols,
                    origin_sums_url,
                    e.signing_key_id.unwrap_or_default(),
                    e.signing_key_armor.unwrap_or_default(),
                )
            }
            other => (
                pkg.sha256.clone(),
                other.map(|e| e.protocols).unwrap_or_default(),
                format!(
                    "/registry/{}/mirror-sums/{}/{}/{}/SHA256SUMS",
                    address.hostname, address.namespace, address.provider_type, id.version
                ),
                state.signing_key.key_id.clone(),
                state.signing_key.armored_public.clone(),
            ),
        }
    } else if state.pull.enabled_for(address) {
        let unavailable = |e: crate::upstream::UpstreamError| {
            AppError::not_found(format!(
                "{filename} is not in this mirror and its origin failed: {e}"
            ))
        };
        let (upstream, shasum, sums) = state.pull.verified_info(&id).await.map_err(unavailable)?;
        if sums.signature.is_none() {
            return Err(AppError::not_found(format!(
                "{filename} is unsigned at its origin; it is served through the network mirror protocol only"
            )));
        }
        (
            shasum,
            upstream.protocols,
            origin_sums_url,
            sums.signing_key_id.clone().unwrap_or_default(),
            sums.signing_key_armor.clone().unwrap_or_default(),
        )
    } else {
        return Err(AppError::not_found(format!(
            "{filename} is not in this mirror"
        )));
    };
    let protocols = if protocols.is_empty() {
        vec!["5.0".to_owned()]
    } else {
        protocols
    };
    Ok(HttpResponse::Ok().json(json!({
        "protocols": protocols,
        "os": id.platform.os,
        "arch": id.platform.arch,
        "filename": filename,
        "download_url": access::link(state, format!(
            "/{}/{}/{}/{filename}",
            address.hostname, address.namespace, address.provider_type
        )),
        "shasums_url": access::link(state, sums_url.clone()),
        "shasums_signature_url": access::link(state, format!("{sums_url}.sig")),
        "shasum": shasum,
        "signing_keys": { "gpg_public_keys": [{
            "key_id": key_id,
            "ascii_armor": armor,
            "trust_signature": "",
            "source": "tfmirror",
            "source_url": null,
        }]},
    })))
}

fn sums_path(
    path: (String, String, String, String, String),
) -> Result<(ProviderAddress, Version, bool), AppError> {
    let (host, ns, ptype, version, file) = path;
    let signature = match file.as_str() {
        "SHA256SUMS" => false,
        "SHA256SUMS.sig" => true,
        _ => return Err(AppError::not_found("expected SHA256SUMS or SHA256SUMS.sig")),
    };
    Ok((
        ProviderAddress::new(&host, &ns, &ptype)?,
        Version::parse(&version)?,
        signature,
    ))
}

fn file_response(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(body)
}

/// The origin registry's own `SHA256SUMS` and signature, as recorded at ingest (or verified
/// for a pull-through in progress).
async fn origin_sums(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String, String, String)>,
) -> Result<HttpResponse, AppError> {
    access::allow_read(&req, &state).await?;
    let (address, version, signature) = sums_path(path.into_inner())?;
    let evidence =
        match db::packages::version_evidence(&state.db, &address, &version.to_string()).await? {
            Some(e) => Some(e),
            None => state
                .pull
                .cached_sums(&address, &version)
                .await
                .map(|s| (*s).clone()),
        };
    let evidence = evidence.ok_or_else(|| {
        AppError::not_found(format!(
            "no registry checksums are recorded for {address} {version}"
        ))
    })?;
    Ok(file_response(if signature {
        evidence.signature.ok_or_else(|| {
            AppError::not_found(format!("{address} {version} was not signed by its origin"))
        })?
    } else {
        evidence.shasums.into_bytes()
    }))
}

/// A `SHA256SUMS` over every stored package of the version, signed with the mirror's key.
async fn mirror_sums(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String, String, String)>,
) -> Result<HttpResponse, AppError> {
    access::allow_read(&req, &state).await?;
    let (address, version, signature) = sums_path(path.into_inner())?;
    let view = state.catalog.provider_view(&address).await?;
    let version = version.to_string();
    let mut lines: Vec<(String, String)> = view
        .versions
        .get(&version)
        .map(|stored| {
            stored
                .archives
                .iter()
                .map(|a| {
                    (
                        view.filename(&version, &a.platform),
                        a.package.sha256.clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if lines.is_empty() {
        return Err(AppError::not_found(format!(
            "{address} {version} is not in this mirror"
        )));
    }
    lines.sort();
    let sums: String = lines
        .iter()
        .map(|(name, sha)| format!("{sha}  {name}\n"))
        .collect();
    if !signature {
        return Ok(file_response(sums.into_bytes()));
    }
    let key = state.signing_key.clone();
    let sig = tokio::task::spawn_blocking(move || key.sign(sums.as_bytes()))
        .await
        .or_internal("signing SHA256SUMS")?
        .or_internal("signing SHA256SUMS")?;
    Ok(file_response(sig))
}
