//! Download jobs: a definitions file is validated, resolved against the upstream registries
//! into a plan (provider x version x platform, module x version), and enqueued as one job
//! with one item per package or module version. The worker ([`worker`]) then fetches, verifies and stores each item.

pub mod worker;

use std::fmt::Write as _;

use serde::Serialize;

use crate::constraints;
use crate::db::{self, Pool, jobs::ItemSubject, jobs::NewItem};
use crate::definitions::{self, DefinitionError, Definitions, Problems};
use crate::domain::{ItemStatus, Platform, ProviderAddress, Version};
use crate::upstream::{RegistryClient, UpstreamError};

/// Why a definitions file cannot be planned: the file itself, or the configuration (an
/// origin the file names has no upstream). Both carry line and column.
#[derive(Debug)]
pub enum Invalid {
    File(Problems),
    Origins(Problems),
}

impl Invalid {
    pub fn problems(&self) -> &Problems {
        match self {
            Invalid::File(p) | Invalid::Origins(p) => p,
        }
    }
}

/// Parses a definitions file and checks that every origin it names is a configured upstream.
/// Every problem is reported, each with its line and column; problems of the file come
/// first (origins are checked only in a file that parses).
/// CPU-bound and linear in the text: callers on the async executor run it on the blocking
/// pool.
pub fn validate(text: &str, client: &RegistryClient) -> Result<Definitions, Invalid> {
    let defs = definitions::parse_definitions(text).map_err(Invalid::File)?;
    let mut problems = Problems::default();
    for p in defs
        .providers
        .iter()
        .filter(|p| !client.is_configured(&p.address.hostname))
    {
        problems.push(DefinitionError {
            line: p.line,
            column: 1,
            message: client.not_configured(&p.address.hostname),
        });
    }
    for m in &defs.modules {
        let host = &m.address.hostname;
        let message = if !client.is_configured(host) {
            client.not_configured(host)
        } else if !client.serves_modules(host) {
            format!(
                "modules are not fetched from {host}: its upstream block says `modules = false`"
            )
        } else {
            continue;
        };
        problems.push(DefinitionError {
            line: m.line,
            column: 1,
            message,
        });
    }
    if problems.total == 0 {
        Ok(defs)
    } else {
        Err(Invalid::Origins(problems))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedVersion {
    pub version: String,
    pub platforms: Vec<String>,
    /// Requested platforms the upstream does not build for this version.
    pub missing_platforms: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedProvider {
    pub address: String,
    pub versions: Vec<PlannedVersion>,
    /// Requested versions or constraints that matched nothing upstream.
    pub unmatched: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedModule {
    pub address: String,
    pub versions: Vec<String>,
    /// Requested versions or constraints that matched nothing upstream.
    pub unmatched: Vec<String>,
}

/// What a definitions file resolves to right now.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub providers: Vec<PlannedProvider>,
    pub modules: Vec<PlannedModule>,
    #[serde(skip)]
    items: Vec<NewItem>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot list the versions of {address}: {source}")]
pub struct PlanError {
    pub address: String,
    pub source: UpstreamError,
}

impl Plan {
    /// Packages to fetch.
    pub fn package_count(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.status == ItemStatus::Pending)
            .count()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for p in &self.providers {
            let _ = writeln!(out, "{}", p.address);
            for v in &p.versions {
                let _ = write!(out, "  {:<12} {} platform(s)", v.version, v.platforms.len());
                if !v.missing_platforms.is_empty() {
                    let _ = write!(out, "  (not offered: {})", v.missing_platforms.join(", "));
                }
                out.push('\n');
            }
            for u in &p.unmatched {
                let _ = writeln!(out, "  {u:<12} matches no version the upstream offers");
            }
        }
        for m in &self.modules {
            let _ = writeln!(out, "module {}", m.address);
            for v in &m.versions {
                let _ = writeln!(out, "  {v}");
            }
            for u in &m.unmatched {
                let _ = writeln!(out, "  {u:<12} matches no version the upstream offers");
            }
        }
        let _ = writeln!(out, "{} package(s) to fetch", self.package_count());
        out
    }
}

/// Resolves every provider's constraints against its upstream's version list.
pub async fn plan(client: &RegistryClient, defs: &Definitions) -> Result<Plan, PlanError> {
    let mut plan = Plan {
        providers: Vec::new(),
        modules: Vec::new(),
        items: Vec::new(),
    };
    for def in &defs.providers {
        let upstream = client
            .versions(&def.address)
            .await
            .map_err(|source| PlanError {
                address: def.address.to_string(),
                source,
            })?;
        let available: Vec<(Version, Vec<Platform>)> = upstream
            .iter()
            .filter_map(|v| {
                let version = Version::parse(&v.version).ok()?;
                let platforms = v
                    .platforms
                    .iter()
                    .filter_map(|p| Platform::new(&p.os, &p.arch).ok())
                    .collect();
                Some((version, platforms))
            })
            .collect();
        let versions: Vec<Version> = available.iter().map(|(v, _)| v.clone()).collect();
        let resolution = constraints::resolve(&def.versions, &versions);
        let mut planned = PlannedProvider {
            address: def.address.to_string(),
            versions: Vec::new(),
            unmatched: resolution.unmatched.clone(),
        };
        for version in &resolution.versions {
            let offered = available
                .iter()
                .find(|(v, _)| v == version)
                .map(|(_, p)| p.as_slice())
                .unwrap_or_default();
            let mut pv = PlannedVersion {
                version: version.to_string(),
                platforms: Vec::new(),
                missing_platforms: Vec::new(),
            };
            for platform in &def.platforms {
                let (status, note) = if offered.contains(platform) {
                    pv.platforms.push(platform.to_string());
                    (ItemStatus::Pending, None)
                } else {
                    pv.missing_platforms.push(platform.to_string());
                    (
                        ItemStatus::Failed,
                        Some(format!(
                            "{} {version} is not offered for {platform} by the upstream",
                            def.address
                        )),
                    )
                };
                plan.items
                    .push(item(&def.address, version, platform, status, note));
            }
            planned.versions.push(pv);
        }
        plan.providers.push(planned);
    }
    for def in &defs.modules {
        let listed = client
            .module_versions(&def.address)
            .await
            .map_err(|source| PlanError {
                address: format!("module {}", def.address),
                source,
            })?;
        let versions: Vec<Version> = listed
            .iter()
            .filter_map(|v| Version::parse(v).ok())
            .collect();
        let resolution = constraints::resolve(&def.versions, &versions);
        for version in &resolution.versions {
            plan.items.push(NewItem {
                subject: ItemSubject::Module(def.address.clone()),
                version: version.clone(),
                status: ItemStatus::Pending,
                note: None,
            });
        }
        plan.modules.push(PlannedModule {
            address: def.address.to_string(),
            versions: resolution
                .versions
                .iter()
                .map(ToString::to_string)
                .collect(),
            unmatched: resolution.unmatched,
        });
    }
    Ok(plan)
}

fn item(
    address: &ProviderAddress,
    version: &Version,
    platform: &Platform,
    status: ItemStatus,
    note: Option<String>,
) -> NewItem {
    NewItem {
        subject: ItemSubject::Package {
            address: address.clone(),
            platform: platform.clone(),
        },
        version: version.clone(),
        status,
        note,
    }
}

/// Records the plan as a job; returns its id.
pub async fn enqueue(
    pool: &Pool,
    source: &str,
    created_by: &str,
    plan: &Plan,
) -> Result<i64, db::DbError> {
    db::jobs::create_job(pool, source, created_by, &plan.items).await
}
