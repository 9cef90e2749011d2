//! The nouns every layer shares, with the rules that make them valid. Nothing here knows about
//! HTTP, SQL or storage: the database layer reads and writes these types, the front doors
//! (HTTP, CLI) parse input into them, and the workers pass them around.

mod module;
mod names;
mod net;
mod package;
mod status;
mod users;

pub use module::{ModuleAddress, ModuleName, ModuleNamespace, ModuleSystem};
pub use names::*;
pub use net::IpRange;
pub use package::{Evidence, PackageId, PackageSource};
pub use status::{ItemStatus, JobStatus, Role, UnknownValue, VersionStatus};
pub use users::valid_username;
