//! Shared state, built once at start-up and handed to every worker thread.

use std::sync::Arc;

use crate::auth::Keys;
use crate::auth::throttle::Throttle;
use crate::catalog::Catalog;
use crate::config::Config;
use crate::db::Pool;
use crate::downloads::DownloadCounter;
use crate::metrics::Metrics;
use crate::pull::PullThrough;
use crate::signing::MirrorKey;
use crate::upstream::RegistryClient;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// The metadata database: every table, for every route that reads or writes rows.
    pub db: Pool,
    pub metrics: Arc<Metrics>,
    /// Packages in (hash, verify, store, record) and the rendered mirror documents out.
    pub catalog: Arc<Catalog>,
    pub registry: Arc<RegistryClient>,
    pub pull: Arc<PullThrough>,
    /// Modules: fetching, uploads, and on demand from their origins.
    pub modules: Arc<crate::pull::modules::ModulePull>,
    pub signing_key: Arc<MirrorKey>,
    pub auth_keys: Arc<Keys>,
    pub throttle: Arc<Throttle>,
    pub downloads: Arc<DownloadCounter>,
    /// Single sign-on, when `auth.oidc` is configured.
    pub oidc: Option<Arc<crate::auth::oidc::Oidc>>,
}
