//! Starting a Switchyard from Rust: the configuration, a store, tuning, and the routing
//! strategies the configuration may name. `switchyard serve` starts the engine this way too.
//!
//! ```no_run
//! # async fn run() -> Result<(), actors::ActorError> {
//! use actors::config::Config;
//! use actors::store::Store;
//! use actors::Switchyard;
//! use engine::routing::{Candidate, RouteRequest, RoutingStrategy};
//! use engine::AgentId;
//!
//! struct FirstMember;
//! impl RoutingStrategy for FirstMember {
//!     fn choose(&mut self, _: &RouteRequest<'_>, c: &[Candidate<'_>]) -> Vec<AgentId> {
//!         c.iter().min_by_key(|c| c.position).map(|c| c.agent.clone()).into_iter().collect()
//!     }
//! }
//!
//! let config = Config::from_toml(
//!     "[[queues]]\nid = \"support\"\nstrategy = \"first-member\"\n",
//! )
//! .expect("a valid configuration");
//! let yard = Switchyard::builder(config)
//!     .store(Store::memory())
//!     .strategy("first-member", |_queue| FirstMember)
//!     .start()
//!     .await?;
//! # let _ = yard;
//! # Ok(())
//! # }
//! ```

use crate::config::Config;
use crate::store::Store;
use crate::{ActorError, StartOptions, Switchyard};
use engine::routing::RoutingStrategy;
use engine::QueueId;

/// What [`Switchyard::builder`] gathers before [`SwitchyardBuilder::start`].
pub struct SwitchyardBuilder {
    config: Config,
    store: Option<Store>,
    options: StartOptions,
}

impl Switchyard {
    /// A builder for an engine running `config` (in memory, with no registered strategy,
    /// until told otherwise).
    pub fn builder(config: Config) -> SwitchyardBuilder {
        SwitchyardBuilder {
            config,
            store: None,
            options: StartOptions::default(),
        }
    }
}

impl SwitchyardBuilder {
    /// Where calls, agents and events are kept (default: [`Store::memory`], gone with the
    /// process).
    pub fn store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// Tuning (event buffers, recordings, the clock, a transcription service); the strategies
    /// and actors registered on this builder are kept.
    pub fn options(mut self, options: StartOptions) -> Self {
        let strategies = std::mem::take(&mut self.options.strategies);
        let extensions = std::mem::take(&mut self.options.extensions);
        self.options = options;
        self.options.extensions.extend(extensions);
        for (name, make) in strategies.iter() {
            self.options.strategies.insert(name, make.clone());
        }
        self
    }

    /// Registers a routing strategy under `name`, for queues whose `strategy` names it: each
    /// such queue gets its own instance from `make` (given the queue's id) when its actor
    /// starts.
    pub fn strategy<S, F>(mut self, name: &str, make: F) -> Self
    where
        S: RoutingStrategy + 'static,
        F: Fn(&QueueId) -> S + Send + Sync + 'static,
    {
        self.options.strategies.register(name, make);
        self
    }

    /// Starts a custom actor of one's own beside the built-in ones (see
    /// [`crate::extensions`]): made by `make`, given the engine's handle as its argument and
    /// each event of these types (`call.*` for every call event) as a message (its message
    /// type is the event, or its own made `From` one), restarted by its supervisor when it
    /// fails.
    pub fn actor<A, F>(mut self, name: &str, events: &[&str], make: F) -> Self
    where
        A: ractor::Actor<Arguments = Switchyard>,
        A::Msg: From<crate::events::Event>,
        F: Fn() -> A + Send + Sync + 'static,
    {
        let ext = crate::extensions::Extension::new(name, events, make);
        self.options.extensions.push(ext);
        self
    }

    /// Starts every actor (see [`Switchyard::start`]); a queue naming a strategy that is
    /// neither built in nor registered is an [`ActorError::Config`].
    pub async fn start(self) -> Result<Switchyard, ActorError> {
        let store = self.store.unwrap_or_else(Store::memory);
        Switchyard::start_with(self.config, store, self.options).await
    }
}
