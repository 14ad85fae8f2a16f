//! Switchyard's CTI adapter: the data an agent attaches to a call for the CRM (G1) — a
//! disposition from an admin list, tags, free-text notes, and the CRM records the call is
//! about (Name / "who", Related To / "what").
//!
//! This crate starts with the data model and its validation rules; the Open CTI shim, the CRM
//! connectors and the durable outbox that deliver it are built on top of it (see the README's
//! roadmap).

#![deny(missing_docs)]

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A reference to a CRM record (a contact, lead, account, case…), by the CRM's own id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrmRef {
    /// The record's type in the CRM (`Contact`, `Case`…).
    pub object: String,
    /// The record's id in the CRM.
    pub id: String,
}

/// What an agent records about a call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallData {
    /// The outcome chosen from the admin's list.
    pub disposition: Option<String>,
    /// Tags from the admin's list; a set, so a tag counts once.
    pub tags: BTreeSet<String>,
    /// Free text.
    pub notes: String,
    /// Name: the person the call is with.
    pub who: Option<CrmRef>,
    /// Related To: what the call is about.
    pub what: Option<CrmRef>,
}

/// The admin's lists a [`CallData`] is checked against.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Allowed dispositions.
    pub dispositions: Vec<String>,
    /// Allowed tags.
    pub tags: Vec<String>,
}

/// Longest notes accepted, in bytes: a CRM's long-text field holds about this much.
pub const MAX_NOTES_BYTES: usize = 32 * 1024;

/// Why call data was refused. Nothing of a refused change is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallDataError {
    /// The disposition is not in the admin's list.
    #[error("unknown disposition {0}")]
    UnknownDisposition(String),
    /// A tag is not in the admin's list.
    #[error("unknown tag {0}")]
    UnknownTag(String),
    /// The notes are longer than [`MAX_NOTES_BYTES`].
    #[error("notes are {0} bytes; at most {MAX_NOTES_BYTES} are kept")]
    NotesTooLong(usize),
    /// A CRM reference with an empty type or id.
    #[error("a CRM reference needs a non-empty object and id")]
    EmptyReference,
}

impl CallData {
    /// Checks every field against the catalog and the limits.
    pub fn validate(&self, catalog: &Catalog) -> Result<(), CallDataError> {
        if let Some(d) = &self.disposition {
            if !catalog.dispositions.iter().any(|x| x == d) {
                return Err(CallDataError::UnknownDisposition(d.clone()));
            }
        }
        if let Some(t) = self.tags.iter().find(|t| !catalog.tags.contains(t)) {
            return Err(CallDataError::UnknownTag(t.clone()));
        }
        if self.notes.len() > MAX_NOTES_BYTES {
            return Err(CallDataError::NotesTooLong(self.notes.len()));
        }
        for r in [&self.who, &self.what].into_iter().flatten() {
            if r.object.trim().is_empty() || r.id.trim().is_empty() {
                return Err(CallDataError::EmptyReference);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog {
            dispositions: vec!["resolved".into(), "callback".into()],
            tags: vec!["billing".into(), "vip".into()],
        }
    }

    #[test]
    fn valid_data_passes_and_each_rule_names_its_field() {
        let mut d = CallData {
            disposition: Some("resolved".into()),
            tags: ["vip".to_string()].into(),
            notes: "asked about invoice 42".into(),
            who: Some(CrmRef {
                object: "Contact".into(),
                id: "003xx".into(),
            }),
            what: None,
        };
        assert_eq!(d.validate(&catalog()), Ok(()));
        d.tags.insert("angry".into());
        assert_eq!(
            d.validate(&catalog()),
            Err(CallDataError::UnknownTag("angry".into()))
        );
        d.tags.remove("angry");
        d.disposition = Some("lost".into());
        assert_eq!(
            d.validate(&catalog()),
            Err(CallDataError::UnknownDisposition("lost".into()))
        );
        d.disposition = None;
        d.notes = "x".repeat(MAX_NOTES_BYTES + 1);
        assert_eq!(
            d.validate(&catalog()),
            Err(CallDataError::NotesTooLong(MAX_NOTES_BYTES + 1))
        );
        d.notes.clear();
        d.what = Some(CrmRef {
            object: "Case".into(),
            id: " ".into(),
        });
        assert_eq!(d.validate(&catalog()), Err(CallDataError::EmptyReference));
    }
}
