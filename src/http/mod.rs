//! HTTP routes.

mod health;
mod mirror;
mod range;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").get(health::healthz))
        .service(web::resource("/readyz").get(health::readyz))
        .default_service(web::to(mirror::dispatch));
}
