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

async fn queued(
    sessions: &[(u64, Intents, Option<[u32; 2]>)],
    steps: &[Step],
    as_runs: bool,
) -> Queues {
    let (hub, _) = hub();
    let mut probes = Vec::new();
    for (conn, (user, intents, shard)) in sessions.iter().enumerate() {
        probes.push(join(&hub, conn as u64 + 1, *user, *intents, *shard, 1000).await);
    }
    let handles: Vec<_> = probes.iter().map(|p| Arc::clone(&p.handle)).collect();
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
                hub.take_pending(&served);
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
        .map(|p| {
            std::iter::from_fn(|| p.handle.try_event())
                .map(|e| (e.name().to_owned(), serde_json::from_str(e.data()).unwrap()))
                .collect()
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
            (queued(&sessions, &steps, false).await, queued(&sessions, &steps, true).await)
        });
        prop_assert_eq!(runs, one_by_one);
    }
}
