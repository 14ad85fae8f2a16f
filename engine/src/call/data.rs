//! What the agent records about a call for the CRM (G1): a disposition from the queue's list,
//! tags from the admin's list, free-text notes, Name (who: a person's CRM id) and Related To
//! (what: an account, case, opportunity… by CRM id). Editable by the owner while the call lasts
//! and by the agent who had it during its wrap-up; it travels with transfers (it belongs to
//! the call); every change is a journey entry naming the fields.

use super::{Call, CallState, JourneyEvent};
use crate::{AgentId, Error, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Longest notes kept, in bytes: about what a CRM's long-text field holds.
pub const MAX_NOTES_BYTES: usize = 32 * 1024;
/// Longest CRM id, disposition or tag, in bytes.
pub const MAX_FIELD_BYTES: usize = 255;
/// Most tags on one call.
pub const MAX_TAGS: usize = 32;

/// A call's CRM data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct CallData {
    /// The outcome, from the queue's list.
    pub disposition: Option<String>,
    /// Tags from the admin's list; a set, so a tag counts once.
    pub tags: BTreeSet<String>,
    /// Free text.
    pub notes: String,
    /// Name: the person the call is with (the CRM's id of a contact or lead).
    pub who: Option<String>,
    /// Related To: what the call is about (the CRM's id of an account, case…).
    pub what: Option<String>,
}

/// The lists call data is checked against: the queue's dispositions and the admin's tags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Allowed dispositions.
    pub dispositions: Vec<String>,
    /// Allowed tags.
    pub tags: Vec<String>,
}

impl CallData {
    /// Checks every field against the catalog and the limits; the error names the field.
    pub fn validate(&self, catalog: &Catalog) -> Result<(), Error> {
        self.validate_change(&CallData::default(), catalog)
    }

    /// Checks a change from `before`: the limits always, the catalog only for values that
    /// change (a disposition or tag set before a transfer to another queue, or before the
    /// admin's list changed, stays acceptable while the notes are edited).
    pub fn validate_change(&self, before: &CallData, catalog: &Catalog) -> Result<(), Error> {
        let bad = |why: String| Err(Error::InvalidCallData(why));
        if let Some(d) = self
            .disposition
            .as_ref()
            .filter(|d| before.disposition.as_ref() != Some(*d))
        {
            if !catalog.dispositions.contains(d) {
                return bad(format!(
                    "disposition {d:?} is not in the queue's list {:?}",
                    catalog.dispositions
                ));
            }
        }
        if self.tags.len() > MAX_TAGS {
            return bad(format!("tags: at most {MAX_TAGS}"));
        }
        if let Some(t) = self
            .tags
            .iter()
            .find(|t| !catalog.tags.contains(t) && !before.tags.contains(*t))
        {
            return bad(format!("tag {t:?} is not in the list {:?}", catalog.tags));
        }
        if self.notes.len() > MAX_NOTES_BYTES {
            return bad(format!(
                "notes are {} bytes; at most {MAX_NOTES_BYTES} are kept",
                self.notes.len()
            ));
        }
        for (name, v) in [("who", &self.who), ("what", &self.what)] {
            if let Some(id) = v {
                if id.trim().is_empty() || id.len() > MAX_FIELD_BYTES {
                    return bad(format!(
                        "{name}: a CRM id of 1 to {MAX_FIELD_BYTES} characters"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The names of the fields that differ from `other`.
    pub fn changed_from(&self, other: &CallData) -> Vec<String> {
        let mut out = Vec::new();
        if self.disposition != other.disposition {
            out.push("disposition".to_owned());
        }
        if self.tags != other.tags {
            out.push("tags".to_owned());
        }
        if self.notes != other.notes {
            out.push("notes".to_owned());
        }
        if self.who != other.who {
            out.push("who".to_owned());
        }
        if self.what != other.what {
            out.push("what".to_owned());
        }
        out
    }
}

impl Call {
    /// The call with custom attributes (set as it is created, before it is first saved):
    /// what routing strategies and extensions read, set by the ingress (`POST /calls`).
    pub fn with_attributes(mut self, attributes: crate::routing::Attributes) -> Self {
        self.attributes = attributes;
        self
    }

    /// Its custom attributes.
    pub fn attributes(&self) -> &crate::routing::Attributes {
        &self.attributes
    }

    /// The call's CRM data.
    pub fn data(&self) -> CallData {
        CallData {
            disposition: self.disposition.clone(),
            tags: self.tags.clone(),
            notes: self.notes.clone(),
            who: self.who.clone(),
            what: self.what.clone(),
        }
    }

    /// Whether `agent` may edit the call's data now: its owner while the call is connected
    /// (held, consulting or in conference included), or the agent who had it once it ended,
    /// while that agent is in its wrap-up (`wrapping_up`, which the agent's side knows).
    pub fn check_can_edit_data(&self, agent: &AgentId, wrapping_up: bool) -> Result<(), Error> {
        // An agent in wrap-up of this call took part in it: it files the call's data during its
        // wrap-up (G1), also when the call went on with someone else (an attended transfer).
        if wrapping_up && self.readable_by(agent) {
            return Ok(());
        }
        match self.state {
            CallState::Connected => self.check_owner(agent),
            CallState::Ended if self.agent.as_ref() == Some(agent) && wrapping_up => Ok(()),
            CallState::Ended if self.agent.as_ref() == Some(agent) => {
                Err(Error::NotInWrapUp(agent.clone()))
            }
            CallState::Ended => Err(Error::NotOwner(self.id.clone(), agent.clone())),
            _ => Err(Error::CallState(
                self.id.clone(),
                self.state.as_str().into(),
                "have its data edited",
            )),
        }
    }

    /// Replaces the call's data, checked whole first (nothing of a refused change is
    /// applied); a change is a journey entry naming the fields. Returns those fields.
    pub fn set_data(
        &mut self,
        now: Timestamp,
        agent: &AgentId,
        wrapping_up: bool,
        data: CallData,
        catalog: &Catalog,
    ) -> Result<Vec<String>, Error> {
        self.check_can_edit_data(agent, wrapping_up)?;
        let data = CallData {
            notes: data.notes.trim_end().to_owned(),
            ..data
        };
        let before = self.data();
        data.validate_change(&before, catalog)?;
        let fields = data.changed_from(&before);
        if !fields.is_empty() {
            let CallData {
                disposition,
                tags,
                notes,
                who,
                what,
            } = data;
            (self.disposition, self.tags, self.notes) = (disposition, tags, notes);
            (self.who, self.what) = (who, what);
            self.log(
                now,
                JourneyEvent::DataChanged {
                    by: agent.clone(),
                    fields: fields.clone(),
                },
            );
        }
        Ok(fields)
    }
}
