//! tfmirror: a caching, verifying provider mirror for Terraform and OpenTofu.

pub mod auth;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod constraints;
pub mod db;
pub mod definitions;
pub mod domain;
pub mod downloads;
pub mod fetch;
pub mod fsutil;
pub mod hashes;
pub mod http;
pub mod import;
pub mod integrity;
pub mod jobs;
pub mod metrics;
pub mod pull;
pub mod signing;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod tls;
pub mod upstream;
