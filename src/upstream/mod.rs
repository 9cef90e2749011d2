//! Upstream registries: the Provider Registry Protocol client and package verification.

pub mod client;
pub mod signature;

pub use client::{RegistryClient, UpstreamError};
