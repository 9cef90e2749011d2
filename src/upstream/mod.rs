//! Upstream registries: the Provider Registry Protocol client and package verification.

pub mod client;
pub mod signature;
pub mod verify;

pub use client::{RegistryClient, UpstreamError};
