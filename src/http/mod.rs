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

use error::AppError;

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

/// How every JSON body is read: at most `limit` bytes (413 beyond), a body that breaks off
/// or arrives too slowly as [`AppError::payload`] says, anything else a 400 naming the fault.
pub(crate) fn json_config(limit: usize) -> web::JsonConfig {
    use actix_web::error::JsonPayloadError;
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _| {
            let message = err.to_string();
            match err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => {
                    AppError::TooLarge(format!("request body too large: {message}")).into()
                }
                JsonPayloadError::Payload(e) => AppError::payload(&e, "invalid JSON body").into(),
                _ => AppError::BadRequest(format!("invalid JSON body: {message}")).into(),
            }
        })
}
