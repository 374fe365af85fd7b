//! The node's pub/sub pump: one subscriber per node, multiplexed over the
//! topics its sessions need. It queues arriving events for their
//! recipients, then hands the recipients to the writer loops
//! (`crate::writer`) a chunk at a time, letting each chunk run before the
//! next, so sessions are served in turn. Between
//! chunks it takes what has arrived since: an event published during a
//! sweep reaches the sessions not yet served in it, and is queued (with a
//! wake at the end of the sweep) for those already served, instead of
//! waiting for the sweep to end. Consecutive events for one guild's
//! sessions are kept once in the guild as a run (`Hub::deliver_run`), and
//! each session's share is taken when the session is handed to a writer
//! (`Hub::claim_chunk`: straight into the writer's claim if its socket is
//! lent, else into its queue): one visit per session per write, not one
//! per event.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use discord_store::{Subscriber, Topic};
use futures::FutureExt;
use tokio::sync::mpsc;

use crate::gateway::Inner;
use crate::hub::{SessionHandle, SubCommand};
use crate::writer::{BATCH, ChunkEvents, spawn_claimed};

/// Pub/sub messages taken at once when they are already waiting.
const PUMP_BATCH: usize = 16;

/// Sessions handed to a writer task per pump turn, before the pump lets it
/// run. With the writers, 128 against 64 at 1 M deliveries/s (five
/// alternating rounds): p99 47-57 against 58-103 ms, and 98,000-113,000
/// against 89,000-103,000 socket writes per server CPU second (fewer
/// turns, tasks and store calls per sweep); 256 was between the two.
/// (When each session's task wrote its own events, 64 had beaten 128;
/// docs/benchmarks.md.)
const WAKE_CHUNK: usize = 128;

struct Pump {
    subscriber: Box<dyn Subscriber>,
    /// Local users of each subscribed topic.
    counts: HashMap<Topic, usize>,
    /// Sessions with queued events still to wake, in turn.
    wakes: VecDeque<Arc<SessionHandle>>,
    /// Messages taken from the subscriber, not yet queued.
    arrived: Vec<(Topic, Bytes)>,
}

/// Runs the pump until the node is dropped or its subscription ends.
pub(crate) async fn run(
    subscriber: Box<dyn Subscriber>,
    mut commands: mpsc::UnboundedReceiver<SubCommand>,
    node: Weak<Inner>,
) {
    let mut pump = Pump {
        subscriber,
        counts: HashMap::new(),
        wakes: VecDeque::new(),
        arrived: Vec::with_capacity(PUMP_BATCH),
    };
    loop {
        if pump.wakes.is_empty() {
            // Nothing to wake: wait for a command or a message.
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => pump.command(cmd).await,
                    None => return,
                },
                msg = pump.subscriber.next() => match msg {
                    Some(msg) => pump.arrived.push(msg),
                    None => {
                        tracing::error!("pub/sub subscription ended");
                        return;
                    }
                },
            }
        } else {
            // Mid-sweep: subscription changes are not held up by it.
            while let Ok(cmd) = commands.try_recv() {
                pump.command(cmd).await;
            }
        }
        // Messages already here join the sweep, so each session writes
        // them together.
        while pump.arrived.len() < PUMP_BATCH {
            match pump.subscriber.next().now_or_never() {
                Some(Some(msg)) => pump.arrived.push(msg),
                _ => break,
            }
        }
        if !pump.arrived.is_empty() {
            let Some(inner) = node.upgrade() else { return };
            inner.on_wire(&mut pump.arrived, &mut pump.wakes);
        }
        let chunk = WAKE_CHUNK.min(pump.wakes.len());
        if chunk > 0 {
            let Some(inner) = node.upgrade() else { return };
            // Claimed for a writer with their share of the guilds' pending
            // runs, taken once per write.
            let mut events = ChunkEvents::new();
            let claims = inner
                .hub
                .claim_chunk(pump.wakes.drain(..chunk), BATCH, &mut events);
            spawn_claimed(inner, claims, events);
        }
        if !pump.wakes.is_empty() {
            tokio::task::yield_now().await;
        }
    }
}

impl Pump {
    async fn command(&mut self, cmd: SubCommand) {
        match cmd {
            SubCommand::Subscribe(topics, reply) => {
                for t in topics {
                    let n = self.counts.entry(t.clone()).or_default();
                    *n += 1;
                    if *n == 1
                        && let Err(e) = self.subscriber.subscribe(&t).await
                    {
                        tracing::error!(?t, "subscribe failed: {e}");
                    }
                }
                if let Some(reply) = reply {
                    let _ = reply.send(());
                }
            }
            SubCommand::Unsubscribe(topics) => {
                for t in topics {
                    if let Some(n) = self.counts.get_mut(&t) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            self.counts.remove(&t);
                            let _ = self.subscriber.unsubscribe(&t).await;
                        }
                    }
                }
            }
        }
    }
}
