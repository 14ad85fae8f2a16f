//! Routing strategies an embedding program registers by name (`strategy = "vip-first"` in a
//! queue's configuration): each queue that names one gets its own instance, made by the
//! registered function when the queue's actor starts (and again if it restarts).
//!
//! ```
//! use actors::strategies::Strategies;
//! use engine::routing::{Candidate, RouteRequest, RoutingStrategy};
//! use engine::AgentId;
//!
//! struct Newest;
//! impl RoutingStrategy for Newest {
//!     fn choose(&mut self, _: &RouteRequest<'_>, c: &[Candidate<'_>]) -> Vec<AgentId> {
//!         c.iter().max_by_key(|c| c.idle_since).map(|c| c.agent.clone()).into_iter().collect()
//!     }
//! }
//!
//! let mut strategies = Strategies::default();
//! strategies.register("newest-idle", |_queue| Newest);
//! assert!(strategies.get("newest-idle").is_some());
//! ```

use engine::routing::RoutingStrategy;
use engine::QueueId;
use std::collections::HashMap;
use std::sync::Arc;

/// Makes a queue's instance of a strategy.
pub type StrategyFactory = Arc<dyn Fn(&QueueId) -> Box<dyn RoutingStrategy> + Send + Sync>;

/// Registered strategies, by name.
#[derive(Clone, Default)]
pub struct Strategies(HashMap<String, StrategyFactory>);

impl Strategies {
    /// Registers `make` under `name` (replacing one of the same name).
    pub fn register<S, F>(&mut self, name: &str, make: F)
    where
        S: RoutingStrategy + 'static,
        F: Fn(&QueueId) -> S + Send + Sync + 'static,
    {
        let factory: StrategyFactory = Arc::new(move |q| Box::new(make(q)));
        self.0.insert(name.to_owned(), factory);
    }

    /// The strategy registered under `name`.
    pub fn get(&self, name: &str) -> Option<&StrategyFactory> {
        self.0.get(name)
    }

    /// Registers a made factory under `name`.
    pub fn insert(&mut self, name: &str, make: StrategyFactory) {
        self.0.insert(name.to_owned(), make);
    }

    /// The registered strategies, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &StrategyFactory)> {
        self.0.iter().map(|(n, f)| (n.as_str(), f))
    }
}

impl std::fmt::Debug for Strategies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}
