//! HTTP routes.

mod access;
pub mod api;
pub mod body_deadline;
pub mod caller;
pub mod error;
mod health;
mod lock;
mod mirror;
mod modules;
pub mod observe;
mod range;
mod registry;
mod ui;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig, json_limit: usize) {
    api::configure(cfg, json_limit);
    cfg.service(web::resource("/healthz").get(health::healthz))
        .service(web::resource("/readyz").get(health::readyz))
        .service(web::resource("/metrics").get(health::metrics))
        .configure(|c| lock::configure(c, json_limit))
        .configure(registry::configure)
        .configure(ui::configure)
        .default_service(web::to(mirror::dispatch));
}
