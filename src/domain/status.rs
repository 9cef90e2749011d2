//! The closed sets of states the mirror records. Each has one spelling, used in the database,
//! in the API's JSON and in logs; the database layer reads and writes these types, so a typo
//! is a compile error rather than a row no query matches.

/// A stored value outside its closed set (a database edited by hand, a newer schema).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident, $kind:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue { kind: $kind, value: s.chars().take(64).collect() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            // `pad`, so `{:<9}` lines up tables.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

closed_set! {
    /// Where one package of a job stands.
    ItemStatus, "item status" {
        /// Waiting for its turn (or for its retry time).
        Pending = "pending",
        /// Claimed by a worker, heart-beaten while it runs.
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        /// Already stored with matching hashes: nothing to do.
        Skipped = "skipped",
        Cancelled = "cancelled",
    }
}

impl ItemStatus {
    /// No worker will touch the item again (until an operator retries it).
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Pending | Self::Running)
    }
}

closed_set! {
    /// A whole job, derived from its items.
    JobStatus, "job status" {
        Pending = "pending",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

closed_set! {
    /// What the mirror does with a stored version.
    VersionStatus, "version status" {
        /// Served.
        Active = "active",
        /// Served, flagged in the admin API and UI.
        Deprecated = "deprecated",
        /// Never served, never fetched.
        Blocked = "blocked",
    }
}

closed_set! {
    /// What an account or API token may do: the admin API (admin, viewer) or only reading
    /// the mirror (consumer, tokens only).
    Role, "role" {
        /// Everything.
        Admin = "admin",
        /// Every read.
        Viewer = "viewer",
        /// API tokens only: reads the mirror and registry protocols (for Terraform's
        /// `credentials` block when `auth.read_access = "token"`), nothing of the admin API.
        Consumer = "consumer",
    }
}

impl Role {
    /// Kept for callers that parse user input: `None` for anything but the three roles.
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_spelling() {
        for s in ItemStatus::ALL {
            assert_eq!(s.as_str().parse::<ItemStatus>().unwrap(), *s);
        }
        for s in VersionStatus::ALL {
            assert_eq!(s.as_str().parse::<VersionStatus>().unwrap(), *s);
        }
        for s in Role::ALL {
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(format!("{:<9}|", ItemStatus::Failed), "failed   |");
        let err = "Admin".parse::<Role>().unwrap_err();
        assert_eq!(err.to_string(), "unknown role \"Admin\"");
        assert!(ItemStatus::Skipped.is_final() && !ItemStatus::Running.is_final());
    }
}
