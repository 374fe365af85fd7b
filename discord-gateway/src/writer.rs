//! Writers: tasks that write fanned-out events straight to the sockets of
//! sessions whose own task is waiting.
//!
//! Waking each session's task to write its own events cost about as much
//! again as the write itself: the wake-up, the task's `select!` registering
//! its queue, socket and timer anew after every write, and a replay-log
//! call per session (docs/benchmarks.md). Instead, while a session's task
//! waits for its client, its timer or a control message, it lends its
//! write side (the stream, its sequence number and, for a session that
//! asked for transport compression, its compressor) to the writers, and
//! takes it back whenever it wakes. The pump claims the sessions with
//! events for a writer a chunk at a time (numbering what each had queued
//! and its share of its guilds' pending runs) and hands them to a writer
//! task, which logs the whole chunk's events with one store call (one
//! Redis pipeline in cluster mode), then writes each session with one
//! non-blocking `writev`. A socket that does not take everything leaves
//! the rest to the session's task, which waits for the socket as it always
//! did (a control message interrupting it); so does a write that fails.
//!
//! Each chunk is a task of its own, which runs before the pump's next turn
//! (the pump yields between chunks), on the pump's worker: the writes of a
//! sweep go one chunk after another, paced by the pump. Splitting each
//! turn's chunk over both workers wrote more, smaller writes for more CPU
//! and no better latency (docs/benchmarks.md). Should two writers meet
//! anyway, a session being written by one is skipped by the other, and the
//! first writes what was queued meanwhile once it is done.

mod events;

use std::ops::Range;
use std::sync::Arc;

use discord_proto::compression::Encoder;
use tokio::net::TcpStream;

use crate::gateway::Inner;
use discord_store::LogBatch;

use crate::hub::{Prepared, SessionHandle, lock};
use crate::socket::{OutFrame, try_write_frames};
pub(crate) use events::ChunkEvents;

/// The most events written to one session in one `writev`.
pub(crate) const BATCH: usize = 64;

/// Who may write a session's socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The session's task (the default).
    Task,
    /// Lent to the writers while the task waits.
    Lent,
    /// A writer is numbering, logging or writing events: the task
    /// waits for it to finish before it takes the socket back.
    Writing,
}

/// What a writer left for the session's task.
#[derive(Debug, Default)]
pub(crate) enum Left {
    /// Nothing: every byte went out.
    #[default]
    Nothing,
    /// The socket was full: these bytes (the rest of a frame, then whole
    /// frames) are to be written before anything else.
    Unwritten(Vec<u8>),
    /// The write failed: the connection is gone.
    Failed,
}

/// A session's write side, shared by its task and the writers.
#[derive(Debug)]
pub(crate) struct Slot {
    pub owner: Owner,
    /// The task waits to take the socket back from a writer.
    pub wanted: bool,
    /// While lent: the sequence number of the session's last dispatch.
    pub seq: u64,
    /// While lent: the connection (dropped when taken back, so that the
    /// task's drop of its socket closes it). A writer holds it outside
    /// the slot while it writes.
    pub stream: Option<Arc<TcpStream>>,
    /// While lent: the connection's transport compressor, if it asked
    /// for one (each compressed session's stream is its own, so a writer
    /// compresses its frames as it writes them, holding it as it holds
    /// the stream).
    pub encoder: Option<Box<Encoder>>,
    /// What the last write of a writer left; while it is not `Nothing`, writers do
    /// not write the session.
    pub left: Left,
    /// When a writer last wrote the session.
    #[cfg(feature = "fanout-timing")]
    pub last_write: Option<std::time::Instant>,
}

impl Slot {
    pub(crate) fn new() -> Self {
        Slot {
            owner: Owner::Task,
            wanted: false,
            seq: 0,
            stream: None,
            encoder: None,
            left: Left::Nothing,
            #[cfg(feature = "fanout-timing")]
            last_write: None,
        }
    }
}

/// Writes sessions the pump claimed (`Hub::claim_chunk`), each with its
/// claim (the claimed events are the next of `events`), in a task of their
/// own, then those left with more queued than one write took. The task
/// holds the node: a claimed session's socket is the task's until it is
/// written and given back.
pub(crate) fn spawn_claimed(
    inner: Arc<Inner>,
    claims: Vec<(Arc<SessionHandle>, Claim)>,
    events: ChunkEvents,
) {
    if claims.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut chunk = write_claims(&inner, claims, events).await;
        while !chunk.is_empty() {
            chunk = write_chunk(&inner, chunk).await;
        }
    });
}

/// Claims, numbers, logs and writes the queued events of the chunk's lent
/// sessions ([`write_claims`]). Returns the sessions with more queued than
/// one write took.
async fn write_chunk(inner: &Inner, chunk: Vec<Arc<SessionHandle>>) -> Vec<Arc<SessionHandle>> {
    let mut events = ChunkEvents::new();
    let claims = chunk
        .into_iter()
        .map(|handle| {
            let claim = handle.claim(BATCH, &mut events);
            (handle, claim)
        })
        .collect();
    write_claims(inner, claims, events).await
}

/// Logs and writes the claimed events of a chunk's sessions; wakes the
/// tasks of those that were not lent and have events queued. Returns the
/// sessions with more queued than one write took. The chunk's events were
/// claimed into one list (`events`, in the order of the claims) and are
/// logged as one [`LogBatch`], in which sessions sent the same events
/// share one run: a few allocations per chunk, and no per-event work per
/// session. The frames borrow the events from the list.
async fn write_claims(
    inner: &Inner,
    claims: Vec<(Arc<SessionHandle>, Claim)>,
    events: ChunkEvents,
) -> Vec<Arc<SessionHandle>> {
    let mut again = Vec::new();
    // Each claimed session, what it claimed, and where its events are in
    // `events` (each claim's are the next `count`).
    let mut claimed: Vec<(Arc<SessionHandle>, Claimed, Range<usize>)> =
        Vec::with_capacity(claims.len());
    let mut from = 0;
    for (handle, claim) in claims {
        match claim {
            Claim::Events(c) => {
                let mine = from..from + c.count;
                from = mine.end;
                claimed.push((handle, c, mine));
            }
            // Another writer has it, and writes what is queued next.
            Claim::Nothing | Claim::Busy => {}
            // (Every session of a guild is swept for a run, also one the
            // run had nothing for: no wake for an empty queue.)
            Claim::NotLent if !handle.no_events() => handle.wake(),
            Claim::NotLent => {}
        }
    }
    if claimed.is_empty() {
        return again;
    }
    let mut log = LogBatch::with_capacity(claimed.len());
    let store = &*inner.stores.sessions;
    for (handle, c, mine) in &claimed {
        log.push_run_to(
            handle.session_id.as_str(),
            handle.log_handle(store),
            c.first,
            events.get(mine.clone()).map(|e| e.entry()),
        );
    }
    if let Err(e) = inner
        .stores
        .sessions
        .append_batch(log, inner.session_ttl())
        .await
    {
        tracing::warn!("replay log append failed: {e}");
    }
    let mut frames = Vec::new();
    let mut writes = 0;
    for (handle, c, mine) in claimed {
        if handle.write_claimed(c, events.get(mine), &mut frames, &mut writes) {
            again.push(handle);
        }
    }
    inner
        .fanout_writes
        .fetch_add(writes, std::sync::atomic::Ordering::Relaxed);
    again
}

/// What [`SessionHandle::claim`] found.
pub(crate) enum Claim {
    /// The session's task holds its socket (or a write of the writers' is
    /// unfinished): the task is to write.
    NotLent,
    /// Nothing queued.
    Nothing,
    /// Another writer is writing the session; it writes what was queued
    /// meanwhile when it is done.
    Busy,
    /// Queued events, now this writer's to write (appended to the
    /// caller's list).
    Events(Claimed),
}

/// What a writer claimed of a lent session: `count` events numbered from
/// `first`, and the session's write side, which is the writer's until
/// [`SessionHandle::write_claimed`] gives it back. (Taken out of the slot
/// under the claim's lock: a second lock of the slot per write, to take
/// them, cost as much as the claim's.)
#[derive(Debug)]
pub(crate) struct Claimed {
    pub first: u64,
    pub count: usize,
    stream: Option<Arc<TcpStream>>,
    encoder: Option<Box<Encoder>>,
}

impl SessionHandle {
    /// For a writer: claims up to `max` queued events of a lent session,
    /// appending them to `out`, and numbers them.
    pub(crate) fn claim(&self, max: usize, out: &mut ChunkEvents) -> Claim {
        self.claim_with_pending(max, out, |_| {})
    }

    /// [`claim`](Self::claim) for the pump, which also has the session's
    /// share of its guilds' pending runs to hand over (`pending`, under
    /// the hub's lock): a lent session's share goes straight to `out`
    /// after what it had queued (`pending(Some(out))`), up to `max` in
    /// all, the rest to its queue; any other session's share is queued
    /// (`pending(None)`), as `Hub::take_pending` does. Queueing a claimed
    /// session's share only for the claim to take it out again cost a
    /// cache miss per session and write on the queue's buffer.
    pub(crate) fn claim_with_pending(
        &self,
        max: usize,
        out: &mut ChunkEvents,
        mut pending: impl FnMut(Option<&mut ChunkEvents>),
    ) -> Claim {
        let mut slot = lock(&self.slot);
        if slot.owner != Owner::Lent || !matches!(slot.left, Left::Nothing) {
            let busy = slot.owner == Owner::Writing;
            // Queueing may tell the task to close (overflow), which takes
            // the controls' lock: never under the slot's.
            drop(slot);
            pending(None);
            return if busy { Claim::Busy } else { Claim::NotLent };
        }
        out.begin();
        let before = out.len();
        self.take_events(max, out);
        // A queue of `max` or more keeps the rest, and the share goes
        // after it.
        let room = out.len() - before < max;
        if room {
            pending(Some(out));
        }
        let beyond = if out.len() - before > max {
            out.split_off(before + max)
        } else {
            Vec::new()
        };
        let count = out.len() - before;
        let claim = if count == 0 {
            Claim::Nothing
        } else {
            slot.owner = Owner::Writing;
            let first = slot.seq + 1;
            slot.seq += count as u64;
            // While the slot says Writing the socket and its compressor
            // are this writer's alone (a task taking them back waits, a
            // claim finds the slot busy), so they are used without the
            // slot's lock: neither waits on compression or the system
            // call, and the stream's count is not touched.
            Claim::Events(Claimed {
                first,
                count,
                stream: slot.stream.take(),
                encoder: slot.encoder.take(),
            })
        };
        drop(slot);
        if !room {
            pending(None);
        }
        if !beyond.is_empty() {
            // The queue is empty (all of it was taken): these are next.
            self.push_with(|queue| queue.extend(beyond));
        }
        claim
    }

    /// For a writer: writes the `claimed` events (compressed if the
    /// session asked for it), and gives the socket back to the writers
    /// (or, if the socket did not take them all, to the task). `frames` is
    /// the writer's scratch list, left empty. Returns whether more events
    /// are queued than were claimed (the writer writes the session again).
    /// Adds the system calls it made to `writes`.
    pub(crate) fn write_claimed<'a>(
        &self,
        claimed: Claimed,
        events: impl Iterator<Item = &'a Prepared>,
        frames: &mut Vec<OutFrame<'a>>,
        writes: &mut u64,
    ) -> bool {
        let Claimed {
            first,
            stream,
            mut encoder,
            ..
        } = claimed;
        frames.clear();
        let framed = match encoder.as_deref_mut() {
            None => {
                frames.extend(
                    (first..)
                        .zip(events)
                        .map(|(seq, e)| dispatch_frame_borrowed(seq, e)),
                );
                true
            }
            Some(encoder) => (first..)
                .zip(events)
                .try_for_each(|(seq, e)| {
                    frames.push(compressed_frame(encoder, seq, e)?);
                    Ok::<_, discord_proto::ProtoError>(())
                })
                .inspect_err(|e| tracing::warn!(conn = self.conn, "compression failed: {e}"))
                .is_ok(),
        };
        let left = match stream.as_ref() {
            Some(stream) if framed => {
                match try_write_frames(frames, |s| {
                    *writes += 1;
                    send_now(stream, s)
                }) {
                    Ok(None) => Left::Nothing,
                    Ok(Some(rest)) => Left::Unwritten(rest),
                    Err(e) => {
                        tracing::debug!(conn = self.conn, "write failed: {e}");
                        Left::Failed
                    }
                }
            }
            _ => Left::Failed,
        };
        frames.clear();
        let stalled = !matches!(left, Left::Nothing);
        let mut slot = lock(&self.slot);
        slot.stream = stream;
        slot.encoder = encoder;
        slot.left = left;
        slot.owner = Owner::Lent;
        #[cfg(feature = "fanout-timing")]
        {
            let now = std::time::Instant::now();
            if let Some(last) = slot.last_write.replace(now) {
                crate::timing::record_gap(now - last);
            }
        }
        let wanted = std::mem::take(&mut slot.wanted);
        drop(slot);
        if stalled || wanted {
            self.wake();
        }
        !stalled && !self.no_events()
    }

    /// Whether a writer left a write unfinished (or failed): the task is
    /// to take its socket back and finish it.
    pub(crate) fn stalled(&self) -> bool {
        !matches!(lock(&self.slot).left, Left::Nothing)
    }

    /// For the session's task, about to wait: lends its socket (and its
    /// compressor, if it has one) to the writers, at sequence number `seq`.
    pub(crate) fn lend(&self, seq: u64, stream: &Arc<TcpStream>, encoder: Option<Box<Encoder>>) {
        let mut slot = lock(&self.slot);
        debug_assert_eq!(slot.owner, Owner::Task);
        slot.owner = Owner::Lent;
        slot.seq = seq;
        slot.stream = Some(Arc::clone(stream));
        slot.encoder = encoder;
        slot.left = Left::Nothing;
    }

    /// For the session's task, woken: takes its socket back, waiting while
    /// a writer writes to it. Returns what was lent (`None`: it was not).
    pub(crate) async fn take_back(&self) -> Option<Returned> {
        loop {
            let notified = self.ready.notified();
            {
                let mut slot = lock(&self.slot);
                match slot.owner {
                    Owner::Task => return None,
                    Owner::Writing => slot.wanted = true,
                    Owner::Lent => {
                        slot.owner = Owner::Task;
                        slot.stream = None;
                        return Some(Returned {
                            seq: slot.seq,
                            left: std::mem::take(&mut slot.left),
                            encoder: slot.encoder.take(),
                        });
                    }
                }
            }
            notified.await;
        }
    }
}

/// One non-blocking vectored write of a lent socket. On Linux it is
/// `sendmsg` with `MSG_NOSIGNAL`, made on the socket directly: not through
/// tokio's readiness bookkeeping (which a writer, writing only sockets
/// whose tasks are waiting, has no use for) nor through the file layer that
/// `writev` takes. At 1 M deliveries/s writes got cheaper, so the writing
/// core wrote more often: 6.1 against 7.0 deliveries per write and p50 16.4
/// against 18.5 ms (medians of six alternating rounds; p99 did not move,
/// docs/benchmarks.md). Should it find the socket full,
/// the session's task takes the rest, and its own wait for writability
/// tries the socket again before it trusts tokio's readiness.
fn send_now(stream: &TcpStream, slices: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
    #[cfg(target_os = "linux")]
    {
        socket2::SockRef::from(stream).send_vectored_with_flags(slices, libc::MSG_NOSIGNAL)
    }
    #[cfg(not(target_os = "linux"))]
    {
        stream.try_write_vectored(slices)
    }
}

/// What a session's task gets back from the writers.
#[derive(Debug)]
pub(crate) struct Returned {
    /// The sequence number of the session's last dispatch.
    pub seq: u64,
    /// What the writers left to write.
    pub left: Left,
    /// The compressor that was lent with the socket.
    pub encoder: Option<Box<Encoder>>,
}

/// The compressed frame of a fanned-out event numbered `seq`: the whole
/// dispatch, through the session's own compressor.
pub(crate) fn compressed_frame(
    encoder: &mut Encoder,
    seq: u64,
    event: &Prepared,
) -> Result<OutFrame<'static>, discord_proto::ProtoError> {
    #[cfg(feature = "fanout-timing")]
    crate::timing::record(event.prepared_at.elapsed());
    let text = crate::frame::dispatch(event.name(), seq, event.data());
    encoder.encode(text.as_bytes()).map(OutFrame::binary)
}

/// The frame of a fanned-out event numbered `seq`: the event's data,
/// shared with every session that receives it, between the dispatch head
/// and this session's own tail (its sequence number and the event's name).
pub(crate) fn dispatch_frame(seq: u64, event: Arc<Prepared>) -> OutFrame<'static> {
    #[cfg(feature = "fanout-timing")]
    crate::timing::record(event.prepared_at.elapsed());
    // The event moves into the frame: no reference count to touch (every
    // recipient shares the event's counter).
    OutFrame::dispatch(event, seq)
}

/// [`dispatch_frame`] for a writer, whose frames borrow the chunk's events
/// ([`ChunkEvents`]).
fn dispatch_frame_borrowed(seq: u64, event: &Prepared) -> OutFrame<'_> {
    #[cfg(feature = "fanout-timing")]
    crate::timing::record(event.prepared_at.elapsed());
    OutFrame::dispatch_borrowed(event, seq)
}

#[cfg(test)]
mod tests;
