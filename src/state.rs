//! Shared state, built once at start-up and handed to every worker thread.

use std::sync::Arc;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::pull::PullThrough;
use crate::signing::MirrorKey;
use crate::upstream::RegistryClient;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub catalog: Arc<Catalog>,
    pub registry: Arc<RegistryClient>,
    pub pull: Arc<PullThrough>,
    pub signing_key: Arc<MirrorKey>,
    pub auth_keys: Arc<crate::auth::Keys>,
    pub throttle: Arc<crate::auth::throttle::Throttle>,
    pub downloads: Arc<crate::downloads::DownloadCounter>,
}
