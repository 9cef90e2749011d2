//! tfmirror: a caching, verifying provider mirror for Terraform and OpenTofu.
//!
//! Built for fuzzing (`--cfg fuzzing`, which cargo-fuzz sets), only the parsers of untrusted
//! input are compiled, without the server's dependencies (Cargo.toml), so `scripts/fuzz.sh`
//! builds in minutes instead of compiling actix, the AWS SDK and sqlx with instrumentation.

pub mod archive;
#[cfg(not(fuzzing))]
pub mod auth;
#[cfg(not(fuzzing))]
pub mod bundle;
#[cfg(not(fuzzing))]
pub mod catalog;
#[cfg(not(fuzzing))]
pub mod cli;
#[cfg(not(fuzzing))]
pub mod clock;
pub mod config;
pub mod constraints;
#[cfg(not(fuzzing))]
pub mod db;
pub mod definitions;
pub mod domain;
#[cfg(not(fuzzing))]
pub mod downloads;
#[cfg(not(fuzzing))]
pub mod fetch;
#[cfg(not(fuzzing))]
pub mod fsutil;
pub mod hashes;
#[cfg(not(fuzzing))]
pub mod http;
#[cfg(not(fuzzing))]
pub mod import;
#[cfg(not(fuzzing))]
pub mod integrity;
#[cfg(not(fuzzing))]
pub mod jobs;
#[cfg(not(fuzzing))]
pub mod lock;
pub mod lockfile;
#[cfg(not(fuzzing))]
pub mod metrics;
#[cfg(not(fuzzing))]
pub mod module_fetch;
#[cfg(not(fuzzing))]
pub mod pull;
#[cfg(not(fuzzing))]
pub mod signing;
#[cfg(not(fuzzing))]
pub mod startup;
#[cfg(not(fuzzing))]
pub mod state;
#[cfg(not(fuzzing))]
pub mod storage;
#[cfg(not(fuzzing))]
pub mod telemetry;
pub mod textpos;
pub mod tfconfig;
#[cfg(not(fuzzing))]
pub mod tls;
pub mod upstream;
