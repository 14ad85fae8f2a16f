//! Switchyard's CTI adapter: carries the call data an agent records (G1: disposition, tags,
//! notes, Name and Related To; the rules live in `engine::call::data`) to external CRMs.
//!
//! - [`log`]: the call log a CRM receives, versioned, with its idempotency key.
//! - [`connector`]: the Salesforce REST connector (a Task upserted by `CallObject`) and the
//!   signed generic webhook (G3), over `reqwest`.
//! - [`backoff`]: the retry policy of the durable outbox that delivers logs.
//!
//! The durable outbox that delivers logs lives in `actors::outbox` (it owns a database table);
//! the Open CTI shim and the demo CRM page are issue 6's remaining work (see the README).

#![deny(missing_docs)]

pub mod backoff;
pub mod connector;
pub mod log;

pub use engine::call::{CallData, Catalog};
