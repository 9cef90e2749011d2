//! Upstream registries: the Provider Registry Protocol client and package verification.

#[cfg(not(fuzzing))]
pub mod client;
#[cfg(not(fuzzing))]
pub mod git;
#[cfg(not(fuzzing))]
pub mod health;
pub mod location;
#[cfg(not(fuzzing))]
pub mod modules;
pub mod signature;
#[cfg(not(fuzzing))]
pub mod verify;

#[cfg(not(fuzzing))]
pub use client::{RegistryClient, UpstreamError, outbound_client};
