//! The Module Registry Protocol (`modules.v1`) client: a module's versions, where a version
//! is downloaded from (the `X-Terraform-Get` of its `download`, resolved as Terraform
//! resolves it), and the archive itself.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use super::client::{RegistryClient, SMALL_FILE_LIMIT, Unobserved, Upstream, allowed_host};
use super::{UpstreamError, location};
use crate::domain::{Hostname, ModuleAddress, Version};

#[derive(Deserialize)]
struct VersionsDoc {
    modules: Vec<ModuleEntry>,
}

#[derive(Deserialize)]
struct ModuleEntry {
    #[serde(default)]
    versions: Vec<VersionEntry>,
}

#[derive(Deserialize)]
struct VersionEntry {
    version: String,
}

#[derive(Deserialize)]
struct LocationDoc {
    location: String,
}

const X_TERRAFORM_GET: &str = "x-terraform-get";

impl RegistryClient {
    /// Whether modules of `host` may be fetched (an upstream with `modules = true`).
    pub fn serves_modules(&self, host: &Hostname) -> bool {
        self.upstream(host).is_ok_and(|u| u.config.modules)
    }

    /// Whether modules of `host` not stored are fetched on demand.
    pub fn pulls_modules(&self, host: &Hostname) -> bool {
        self.upstream(host)
            .is_ok_and(|u| u.config.modules && u.config.pull_through)
    }

    fn module_upstream(&self, a: &ModuleAddress) -> Result<&Upstream, UpstreamError> {
        let up = self.upstream(&a.hostname)?;
        if !up.config.modules {
            return Err(UpstreamError::permanent(format!(
                "modules are not fetched from {}: its upstream block says `modules = false`",
                a.hostname
            )));
        }
        Ok(up)
    }

    async fn module_url(&self, up: &Upstream, rel: &str) -> Result<reqwest::Url, UpstreamError> {
        let base = self
            .service_base(up, &up.modules_base, "modules.v1")
            .await?;
        base.join(rel)
            .map_err(|e| UpstreamError::permanent(e.to_string()))
    }

    /// Every version the upstream offers for a module (unparsed strings, as listed).
    pub async fn module_versions(&self, a: &ModuleAddress) -> Result<Vec<String>, UpstreamError> {
        let up = self.module_upstream(a)?;
        let url = self
            .module_url(up, &format!("{}/versions", a.path()))
            .await?;
        let doc: VersionsDoc = match self
            .get_json(up, &url, &format!("versions of module {a}"))
            .await
        {
            Err(UpstreamError::NotFound(_)) => {
                return Err(UpstreamError::NotFound(format!(
                    "module {a} is not in its origin registry"
                )));
            }
            other => other?,
        };
        // Terraform reads only the first element.
        Ok(doc
            .modules
            .into_iter()
            .next()
            .map(|m| m.versions.into_iter().map(|v| v.version).collect())
            .unwrap_or_default())
    }

    /// Where the origin says a version is downloaded from: its `X-Terraform-Get` (or, from a
    /// 200, the JSON `location`), a relative value resolved against the download URL.
    pub async fn module_location(
        &self,
        a: &ModuleAddress,
        version: &Version,
    ) -> Result<String, UpstreamError> {
        let up = self.module_upstream(a)?;
        let url = self
            .module_url(up, &format!("{}/{version}/download", a.path()))
            .await?;
        let what = format!("download location of module {a} {version}");
        let res = match self
            .get(
                up,
                &url,
                &what,
                Some(Duration::from_secs(up.config.timeout_seconds)),
            )
            .await
        {
            Err(UpstreamError::NotFound(_)) => {
                return Err(UpstreamError::NotFound(format!(
                    "module {a} {version} is not in its origin registry"
                )));
            }
            other => other?,
        };
        let header = res
            .headers()
            .get(X_TERRAFORM_GET)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let raw = match header {
            Some(h) if !h.is_empty() => h,
            _ => {
                let body = super::client::read_limited(res, SMALL_FILE_LIMIT, &what).await?;
                serde_json::from_slice::<LocationDoc>(&body)
                    .map(|d| d.location)
                    .map_err(|_| {
                        UpstreamError::permanent(format!(
                            "{what}: the registry answered without an X-Terraform-Get header or a location"
                        ))
                    })?
            }
        };
        Ok(resolve(&url, &raw))
    }

    /// Asks an HTTP(S) page that is not an archive for the location it stands for (go-getter
    /// sends `?terraform-get=1` and reads `X-Terraform-Get`).
    pub async fn module_indirect(
        &self,
        a: &ModuleAddress,
        url: &reqwest::Url,
    ) -> Result<String, UpstreamError> {
        let up = self.module_upstream(a)?;
        allowed_host(up, url)?;
        let mut asked = url.clone();
        asked.query_pairs_mut().append_pair("terraform-get", "1");
        let what = format!("location behind {}", without_query(url));
        let res = self
            .get(
                up,
                &asked,
                &what,
                Some(Duration::from_secs(up.config.timeout_seconds)),
            )
            .await?;
        let raw = res
            .headers()
            .get(X_TERRAFORM_GET)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                UpstreamError::permanent(format!(
                    "{what}: neither an archive (by its suffix or ?archive=) nor a page with an X-Terraform-Get header"
                ))
            })?;
        Ok(resolve(url, &raw))
    }

    /// Whether a location's host may be fetched from (`download_hosts`).
    pub fn check_module_host(
        &self,
        a: &ModuleAddress,
        url: &reqwest::Url,
    ) -> Result<(), UpstreamError> {
        allowed_host(self.module_upstream(a)?, url)
    }

    /// Downloads a module archive into `dest`, at most `max_bytes`. Returns its size.
    pub async fn module_archive_to(
        &self,
        a: &ModuleAddress,
        url: &reqwest::Url,
        dest: &Path,
        max_bytes: u64,
        cancel: &CancellationToken,
    ) -> Result<u64, UpstreamError> {
        let up = self.module_upstream(a)?;
        allowed_host(up, url)?;
        let (_, size) = self
            .stream_to(up, url, dest, max_bytes, Arc::new(Unobserved), cancel)
            .await?;
        Ok(size)
    }
}

/// A location relative to the document it came in (`/`, `./`, `../`), made absolute, as
/// Terraform's registry client does; anything else is a go-getter address as it is.
fn resolve(base: &reqwest::Url, raw: &str) -> String {
    if raw.starts_with('/') || raw.starts_with("./") || raw.starts_with("../") {
        // `//subdir` must survive: join the package part and put the subdir back.
        let (source, subdir) = location::split_subdir(raw);
        let (path, query) = match source.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (source, None),
        };
        if let Ok(mut url) = base.join(&path) {
            url.set_query(query.as_deref());
            let mut out = url.to_string();
            if !subdir.is_empty() {
                let (before, after) = match out.split_once('?') {
                    Some((b, q)) => (b.to_owned(), format!("?{q}")),
                    None => (out.clone(), String::new()),
                };
                out = format!("{before}//{subdir}{after}");
            }
            return out;
        }
    }
    raw.to_owned()
}

fn without_query(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_locations_resolve_against_the_download_url() {
        let base =
            reqwest::Url::parse("https://r.example/v1/modules/a/b/c/1.0.0/download").unwrap();
        assert_eq!(
            resolve(&base, "./m.tar.gz"),
            "https://r.example/v1/modules/a/b/c/1.0.0/m.tar.gz"
        );
        assert_eq!(
            resolve(&base, "/files/m.tgz?x=1"),
            "https://r.example/files/m.tgz?x=1"
        );
        assert_eq!(
            resolve(&base, "../m.tar.gz//sub/dir?x=1"),
            "https://r.example/v1/modules/a/b/c/m.tar.gz//sub/dir?x=1"
        );
        assert_eq!(
            resolve(&base, "git::https://h/r?ref=v1"),
            "git::https://h/r?ref=v1"
        );
    }
}
