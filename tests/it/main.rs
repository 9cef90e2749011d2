//! Every black-box test in one binary (one link instead of one per file): each module starts
//! the real server (or the real CLI) and speaks to it as a client would.

#[macro_use]
mod common;

mod admin_api;
mod api_fuzz;
mod architecture;
mod bundle;
mod cli;
mod contract;
mod crash_trials;
mod fake_registry_selftest;
mod faults;
mod first_run;
mod hardening;
mod jobs;
mod load_cli;
mod lock;
mod mirror;
mod modules;
mod operations;
mod postgres;
mod proxy;
mod pull_through;
mod read_access;
mod registry;
mod terraform;
mod terraform_modules;
mod ui_bundles;
mod ui_e2e;
mod verify;
mod worker_crash;
