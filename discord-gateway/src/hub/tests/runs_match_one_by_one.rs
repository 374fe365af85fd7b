//! Any stream of a guild's events, to any sessions, is queued the same as
//! runs (as the pump groups them, with sessions served at any points in
//! between) as one by one.

use proptest::prelude::*;

use super::*;

#[derive(Clone, Debug)]
enum Step {
    /// A message in a channel (10 open, 11 hidden from user 3 unless
    /// it has role 200), by an author, mentioning some users.
    Message(u64, u64, Vec<u64>),
    /// Messages by user 1 in a channel, this many (enough to make the
    /// guild trim what every session has taken).
    Burst(u64, usize),
    /// A presence update of a user.
    Presence(u64),
    /// User 3 gets (or loses) role 200: a state change.
    Role(bool),
    /// The pump serves these sessions (their share of the pending
    /// runs is queued).
    Serve(Vec<usize>),
}

fn step() -> impl Strategy<Value = Step> {
    let user = 1u64..5;
    prop_oneof![
        6 => (
            prop::sample::select(vec![10u64, 11]),
            user.clone(),
            prop::collection::vec(1u64..5, 0..2)
        )
            .prop_map(|(c, a, m)| Step::Message(c, a, m)),
        1 => (prop::sample::select(vec![10u64, 11]), 20usize..80)
            .prop_map(|(c, k)| Step::Burst(c, k)),
        2 => user.prop_map(Step::Presence),
        1 => any::<bool>().prop_map(Step::Role),
        2 => prop::collection::vec(0usize..6, 0..4).prop_map(Step::Serve),
    ]
}

fn session() -> impl Strategy<Value = (u64, Intents, Option<[u32; 2]>)> {
    let intents = prop::sample::subsequence(
        vec![
            Intents::GUILDS,
            Intents::GUILD_MESSAGES,
            Intents::MESSAGE_CONTENT,
            Intents::GUILD_PRESENCES,
        ],
        0..=4,
    )
    .prop_map(|v| v.into_iter().fold(Intents::empty(), |a, b| a | b));
    let shard = prop::sample::select(vec![None, Some([0, 2]), Some([1, 2])]);
    (1u64..5, intents, shard)
}

/// The events of step `n`, each with an ID of its own.
fn events(n: usize, step: &Step) -> Vec<Event> {
    let user = |u: u64| json!({"id": u.to_string(), "username": "u", "discriminator": "0", "avatar": null});
    let message = |i: usize, channel: u64, author: u64, mentions: &[u64]| {
        let data = json!({"id": format!("{n}{i:03}"), "channel_id": channel.to_string(), "guild_id": "100",
               "author": user(author), "content": format!("secret {n}.{i}"),
               "embeds": [], "attachments": [],
               "mentions": mentions.iter().map(|m| user(*m)).collect::<Vec<_>>()});
        Event::raw("MESSAGE_CREATE", Some(id(100)), &data).unwrap()
    };
    let (name, data) = match step {
        Step::Message(channel, author, mentions) => {
            return vec![message(0, *channel, *author, mentions)];
        }
        Step::Burst(channel, count) => {
            return (0..*count).map(|i| message(i, *channel, 1, &[])).collect();
        }
        Step::Presence(u) => (
            "PRESENCE_UPDATE",
            json!({"user": {"id": u.to_string()}, "guild_id": "100",
                   "status": if n.is_multiple_of(2) { "idle" } else { "online" }, "activities": []}),
        ),
        Step::Role(on) => (
            "GUILD_MEMBER_UPDATE",
            json!({"guild_id": "100", "roles": if *on { vec!["200"] } else { vec![] },
                   "user": user(3), "joined_at": "2026-01-01T00:00:00+00:00"}),
        ),
        Step::Serve(_) => return Vec::new(),
    };
    vec![Event::raw(name, Some(id(100)), &data).unwrap()]
}

/// Each session's queue: names and data, in order.
type Queues = Vec<Vec<(String, serde_json::Value)>>;

/// How the pump serves sessions in [`queued`].
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// Every event delivered on its own.
    OneByOne,
    /// Runs, each served session's share queued (`Hub::take_pending`).
    Runs,
    /// Runs, served sessions claimed for a writer with up to `max`
    /// events each (`Hub::claim_chunk`); those in `lent` have their
    /// socket lent (the others' share is queued). What a claim takes
    /// counts as received, before what is still queued.
    Claimed { lent: u8, max: usize },
}

async fn queued(
    sessions: &[(u64, Intents, Option<[u32; 2]>)],
    steps: &[Step],
    mode: Mode,
) -> Queues {
    let as_runs = !matches!(mode, Mode::OneByOne);
    let (hub, _) = hub();
    let mut probes = Vec::new();
    for (conn, (user, intents, shard)) in sessions.iter().enumerate() {
        probes.push(join(&hub, conn as u64 + 1, *user, *intents, *shard, 1000).await);
    }
    let handles: Vec<_> = probes.iter().map(|p| Arc::clone(&p.handle)).collect();
    // What writers took, per session.
    let mut written: Queues = vec![Vec::new(); handles.len()];
    if let Mode::Claimed { lent, .. } = mode {
        for (i, h) in handles.iter().enumerate() {
            if lent & (1 << i) != 0 {
                lock(&h.slot).owner = crate::writer::Owner::Lent;
            }
        }
    }
    let mut wakes = std::collections::VecDeque::new();
    let mut run = Vec::new();
    let topic = Topic::Guild(id(100));
    for (n, step) in steps.iter().enumerate() {
        if let Step::Serve(which) = step {
            if as_runs {
                if !run.is_empty() {
                    hub.deliver_run(id(100), std::mem::take(&mut run), &mut wakes);
                }
                let served: Vec<_> = which
                    .iter()
                    .filter_map(|&i| handles.get(i).cloned())
                    .collect();
                let Mode::Claimed { max, .. } = mode else {
                    hub.take_pending(&served);
                    continue;
                };
                let mut out = crate::writer::ChunkEvents::new();
                let claims = hub.claim_chunk(served, max, &mut out);
                let mut from = 0;
                for (h, claim) in &claims {
                    let crate::writer::Claim::Events(c) = claim else {
                        continue;
                    };
                    let i = handles.iter().position(|x| Arc::ptr_eq(x, h)).unwrap();
                    assert!(c.count <= max, "a claim takes at most {max}");
                    let events = out.get(from..from + c.count);
                    from += c.count;
                    written[i].extend(
                        events.map(|e| {
                            (e.name().to_owned(), serde_json::from_str(e.data()).unwrap())
                        }),
                    );
                    // Written: the socket is lent again.
                    lock(&h.slot).owner = crate::writer::Owner::Lent;
                }
                assert_eq!(from, out.len(), "every event taken is claimed");
            }
            continue;
        }
        for event in events(n, step) {
            if !as_runs {
                hub.deliver_deferred(&topic, event, &mut wakes);
            } else if Hub::run_guild(&topic, &event).is_some() {
                run.push(event);
            } else {
                if !run.is_empty() {
                    hub.deliver_run(id(100), std::mem::take(&mut run), &mut wakes);
                }
                hub.deliver_deferred(&topic, event, &mut wakes);
            }
        }
    }
    if !run.is_empty() {
        hub.deliver_run(id(100), run, &mut wakes);
    }
    hub.take_pending(&handles);
    probes
        .iter_mut()
        .zip(written)
        .map(|(p, mut written)| {
            written.extend(
                std::iter::from_fn(|| p.handle.try_event())
                    .map(|e| (e.name().to_owned(), serde_json::from_str(e.data()).unwrap())),
            );
            written
        })
        .collect()
}

proptest! {
    #[test]
    fn a_stream_queues_the_same_as_runs_and_one_by_one(
        sessions in prop::collection::vec(session(), 1..6),
        steps in prop::collection::vec(step(), 0..40),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (one_by_one, runs) = rt.block_on(async {
            (queued(&sessions, &steps, Mode::OneByOne).await, queued(&sessions, &steps, Mode::Runs).await)
        });
        prop_assert_eq!(runs, one_by_one);
    }

    /// Sessions claimed for writers with their share of the runs, lent or
    /// not, with claims of any size, receive what they would have queued
    /// one by one, in order: what the claims took, then what is queued.
    #[test]
    fn a_stream_claimed_by_writers_is_received_as_one_by_one(
        sessions in prop::collection::vec(session(), 1..6),
        steps in prop::collection::vec(step(), 0..40),
        lent in any::<u8>(),
        max in 1usize..6,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (one_by_one, claimed) = rt.block_on(async {
            (
                queued(&sessions, &steps, Mode::OneByOne).await,
                queued(&sessions, &steps, Mode::Claimed { lent, max }).await,
            )
        });
        prop_assert_eq!(claimed, one_by_one);
    }
}
