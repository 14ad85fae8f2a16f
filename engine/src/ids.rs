//! Identifiers of the domain's entities. They are plain strings (configuration names for agents
//! and queues, generated ids for calls) wrapped so that one cannot be passed for another.

use serde::{Deserialize, Serialize};
use std::fmt;

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
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
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
                Self(s.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
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
