//! The bare ractor baseline: a program of the routing benchmark's shape with no engine, no
//! persistence and no rules, so that the benchmark shows what Switchyard costs on top of the
//! actor runtime it is built on (issue 19's yardstick).
//!
//! Same shape: 20 queue actors, 2,000 agent actors, one call actor per call spawned linked
//! under 16 sharded supervisors, a broadcast event bus that the same answering machine
//! listens to. The same messages per call as the real path's happy case:
//! - create: the call actor is spawned under its shard and enqueues itself (a cast);
//! - routing: the queue pairs the oldest call with the longest-ready agent, reserves the
//!   agent (a cast), the agent offers the call (a cast), the call publishes `offered`;
//! - accept: an ask of the call, which asks the agent (two asks), `answered` published;
//! - hangup: an ask of the call, which frees the agent (a cast), the agent tells its queue it
//!   is ready (a cast), `ended` published, the call actor stops.

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

const SHARDS: usize = 16;

/// What the call actors publish; the answering machine reads only offers, the rest is carried
/// as the real events carry theirs.
#[derive(Clone, Debug)]
#[allow(dead_code)]
pub enum Event {
    Created(u64),
    Offered { call: u64, agent: usize },
    Answered(u64),
    Ended(u64),
}

struct Shard;

impl Actor for Shard {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _: ActorRef<()>,
        _: SupervisionEvent,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

enum QueueMsg {
    Enqueue(u64, ActorRef<CallMsg>),
    Ready(usize),
}

/// A queue; its agent list is set once every agent exists (agents need their queue first).
struct Queue {
    agents: Arc<std::sync::OnceLock<Vec<ActorRef<AgentMsg>>>>,
}

#[derive(Default)]
struct QueueState {
    waiting: VecDeque<(u64, ActorRef<CallMsg>)>,
    ready: VecDeque<usize>,
}

impl Actor for Queue {
    type Msg = QueueMsg;
    type State = QueueState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<QueueMsg>,
        _: (),
    ) -> Result<QueueState, ActorProcessingErr> {
        Ok(QueueState::default())
    }

    async fn handle(
        &self,
        _: ActorRef<QueueMsg>,
        msg: QueueMsg,
        st: &mut QueueState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            QueueMsg::Enqueue(id, call) => st.waiting.push_back((id, call)),
            QueueMsg::Ready(agent) => st.ready.push_back(agent),
        }
        while !st.waiting.is_empty() && !st.ready.is_empty() {
            let (Some((id, call)), Some(agent)) = (st.waiting.pop_front(), st.ready.pop_front())
            else {
                break;
            };
            let agents = self.agents.get().expect("agents exist before calls");
            let _ = agents[agent].cast(AgentMsg::Reserve(id, call));
        }
        Ok(())
    }
}

enum AgentMsg {
    Reserve(u64, ActorRef<CallMsg>),
    Answer(RpcReplyPort<bool>),
    Free,
}

struct Agent {
    index: usize,
    queue: ActorRef<QueueMsg>,
}

impl Actor for Agent {
    type Msg = AgentMsg;
    type State = Option<u64>;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<AgentMsg>,
        _: (),
    ) -> Result<Option<u64>, ActorProcessingErr> {
        Ok(None)
    }

    async fn handle(
        &self,
        _: ActorRef<AgentMsg>,
        msg: AgentMsg,
        st: &mut Option<u64>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            AgentMsg::Reserve(id, call) => {
                *st = Some(id);
                let _ = call.cast(CallMsg::Offer(self.index));
            }
            AgentMsg::Answer(reply) => {
                let _ = reply.send(st.is_some());
            }
            AgentMsg::Free => {
                *st = None;
                let _ = self.queue.cast(QueueMsg::Ready(self.index));
            }
        }
        Ok(())
    }
}

pub enum CallMsg {
    Offer(usize),
    Accept(RpcReplyPort<bool>),
    Hangup(RpcReplyPort<bool>),
}

struct Call {
    agents: Arc<Vec<ActorRef<AgentMsg>>>,
    events: broadcast::Sender<Event>,
}

struct CallState {
    id: u64,
    from: String,
    agent: Option<usize>,
}

impl Actor for Call {
    type Msg = CallMsg;
    type State = CallState;
    type Arguments = (u64, String, ActorRef<QueueMsg>);

    async fn pre_start(
        &self,
        myself: ActorRef<CallMsg>,
        (id, from, queue): Self::Arguments,
    ) -> Result<CallState, ActorProcessingErr> {
        let _ = self.events.send(Event::Created(id));
        queue.cast(QueueMsg::Enqueue(id, myself))?;
        Ok(CallState {
            id,
            from,
            agent: None,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<CallMsg>,
        msg: CallMsg,
        st: &mut CallState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CallMsg::Offer(agent) => {
                st.agent = Some(agent);
                debug_assert!(!st.from.is_empty());
                let _ = self.events.send(Event::Offered { call: st.id, agent });
            }
            CallMsg::Accept(reply) => {
                let ok = match st.agent {
                    Some(a) => self.agents[a]
                        .call(AgentMsg::Answer, Some(Duration::from_secs(5)))
                        .await
                        .is_ok_and(|r| r.is_success()),
                    None => false,
                };
                let _ = self.events.send(Event::Answered(st.id));
                let _ = reply.send(ok);
            }
            CallMsg::Hangup(reply) => {
                if let Some(a) = st.agent.take() {
                    let _ = self.agents[a].cast(AgentMsg::Free);
                }
                let _ = self.events.send(Event::Ended(st.id));
                let _ = reply.send(true);
                myself.stop(None);
            }
        }
        Ok(())
    }
}

/// What one run of the baseline measured.
pub struct Figures {
    pub per_call_bytes: f64,
    pub routed_per_sec: f64,
    /// CPU seconds the process used while routing.
    pub routing_cpu: f64,
}

/// Runs the baseline: `calls` calls wait (no agent ready), then every agent becomes ready and
/// answers each offer at once until all were routed.
pub async fn run(
    queues: usize,
    agents: usize,
    calls: usize,
    rss: fn() -> u64,
    cpu: fn() -> f64,
) -> Figures {
    let (events, _) = broadcast::channel(crate::EVENT_BUFFER);
    let mut shards: Vec<ActorCell> = Vec::with_capacity(SHARDS);
    for _ in 0..SHARDS {
        let (s, _) = Actor::spawn(None, Shard, ()).await.expect("shard");
        shards.push(s.get_cell());
    }
    // Agents need their queue, queues their agents: queues take the agents through a shared
    // list filled before any call exists.
    let agent_list: Arc<std::sync::OnceLock<Vec<ActorRef<AgentMsg>>>> = Arc::default();
    let mut queue_refs = Vec::with_capacity(queues);
    for _ in 0..queues {
        let agents = agent_list.clone();
        let (q, _) = Actor::spawn(None, Queue { agents }, ())
            .await
            .expect("queue");
        queue_refs.push(q);
    }
    let mut agent_refs = Vec::with_capacity(agents);
    for a in 0..agents {
        let (r, _) = Actor::spawn(
            None,
            Agent {
                index: a,
                queue: queue_refs[a % queues].clone(),
            },
            (),
        )
        .await
        .expect("agent");
        agent_refs.push(r);
    }
    let agent_refs = Arc::new(agent_refs);
    let _ = agent_list.set(agent_refs.to_vec());

    let routed = Arc::new(AtomicUsize::new(0));
    let all_routed = Arc::new(tokio::sync::Notify::new());
    let calls_by_id: Arc<std::sync::Mutex<super::HashMap<u64, ActorRef<CallMsg>>>> = Arc::default();
    {
        let mut rx = events.subscribe();
        let (routed, all_routed, calls_by_id) =
            (routed.clone(), all_routed.clone(), calls_by_id.clone());
        tokio::spawn(async move {
            while let Ok(ev) = rx.recv().await {
                let Event::Offered { call, .. } = ev else {
                    continue;
                };
                if routed.fetch_add(1, Ordering::Relaxed) + 1 == calls {
                    all_routed.notify_one();
                }
                let Some(r) = calls_by_id.lock().unwrap().remove(&call) else {
                    continue;
                };
                tokio::spawn(async move {
                    let t = Some(Duration::from_secs(5));
                    if r.call(CallMsg::Accept, t).await.is_ok() {
                        let _ = r.call(CallMsg::Hangup, t).await;
                    }
                });
            }
        });
    }

    let before = rss();
    for i in 0..calls as u64 {
        let shard = shards[(i as usize * 31 + 7) % SHARDS].clone();
        let (r, _) = Actor::spawn_linked(
            None,
            Call {
                agents: agent_refs.clone(),
                events: events.clone(),
            },
            (
                i,
                format!("+1555{i:07}"),
                queue_refs[i as usize % queues].clone(),
            ),
            shard,
        )
        .await
        .expect("call");
        calls_by_id.lock().unwrap().insert(i, r);
    }
    let per_call_bytes = rss().saturating_sub(before) as f64 / calls as f64;

    let (t, cpu_before) = (Instant::now(), cpu());
    for (a, q) in (0..agents).map(|a| (a, &queue_refs[a % queues])) {
        q.cast(QueueMsg::Ready(a)).expect("queue alive");
    }
    all_routed.notified().await;
    let routed_per_sec = calls as f64 / t.elapsed().as_secs_f64();
    let routing_cpu = cpu() - cpu_before;

    for q in queue_refs {
        q.stop(None);
    }
    for a in agent_refs.iter() {
        a.stop(None);
    }
    for s in shards {
        s.stop(None);
    }
    Figures {
        per_call_bytes,
        routed_per_sec,
        routing_cpu,
    }
}
