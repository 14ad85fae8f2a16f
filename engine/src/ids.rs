//! Identifiers of the domain's entities. They are plain strings (configuration names for agents
//! and queues, generated ids for calls) wrapped so that one cannot be passed for another.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// A map keyed by ids, for the maps every call step reads (a queue's members and line, the
/// actors' registries, the memory store): std's `HashMap` hashing with foldhash instead of
/// SipHash, seeded at random per process as std's is, and several times cheaper on short
/// string keys (SipHash was 6 % of the instructions of a routed call). Its seed, and so its
/// order of iteration, changes from process to process: nothing may depend on that order.
/// Build one with `IdMap::default()`.
pub type IdMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// Shared, not copied: a clone is a reference count's increment (ids are cloned into
        /// every message, event and step that names them).
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[cfg_attr(feature = "schema", schemars(transparent))]
        pub struct $name(Arc<str>);

        impl $name {
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.into())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s.into())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0.as_ref().to_owned()
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self(String::deserialize(d)?.into()))
            }
        }
    };
}

id_type!(
    /// An agent's id: its configured user name (`alice`).
    AgentId
);
id_type!(
    /// A queue's id: its configured name (`support`).
    QueueId
);
id_type!(
    /// A call's id, generated when the call enters the system.
    CallId
);
