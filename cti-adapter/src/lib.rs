//! Switchyard's CTI adapter: carries the call data an agent records (G1: disposition, tags,
//! notes, Name and Related To; the rules live in `engine::call::data`) to external CRMs.
//!
//! Built so far: the data model is the engine's ([`CallData`], [`Catalog`]), edited through
//! `GET/PUT /api/v1/calls/{id}/cti`. The Open CTI shim, the CRM connectors and their durable
//! outbox are issue 6's remaining work (see the README).

#![deny(missing_docs)]

pub use engine::call::{CallData, Catalog};
