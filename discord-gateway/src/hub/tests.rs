//! Fanout decisions: who gets an event, in which view, and what happens
//! when a queue overflows.

use std::sync::Arc;

use discord_proto::Snowflake;
use discord_proto::gateway::Intents;
use discord_store::Topic;
use serde_json::json;
use tokio::sync::mpsc;

use super::{Control, Hub, SessionHandle, SubCommand, lock};
use crate::event::Event;
use crate::view::tests::guild;

fn id(n: u64) -> Snowflake {
    Snowflake::new(n)
}

struct Probe {
    handle: Arc<SessionHandle>,
}

impl Probe {
    fn names(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(e) = self.handle.try_event() {
            out.push(e.name().to_string());
        }
        out
    }
    fn data(&mut self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        while let Some(e) = self.handle.try_event() {
            out.push(serde_json::from_str(e.data()).unwrap());
        }
        out
    }
}

/// A hub whose subscription requests are answered at once; returns the
/// topics subscribed so far through the receiver.
fn hub() -> (Arc<Hub>, mpsc::UnboundedReceiver<Topic>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<SubCommand>();
    let (topics_tx, topics_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(cmd) = rx.recv().await {
            if let SubCommand::Subscribe(topics, reply) = cmd {
                for t in topics {
                    let _ = topics_tx.send(t);
                }
                if let Some(reply) = reply {
                    let _ = reply.send(());
                }
            }
        }
    });
    (Arc::new(Hub::new(tx)), topics_rx)
}

async fn join(
    hub: &Hub,
    conn: u64,
    user: u64,
    intents: Intents,
    shard: Option<[u32; 2]>,
    queue: usize,
) -> Probe {
    let handle = Arc::new(SessionHandle::new(
        conn,
        format!("s{conn}"),
        id(user),
        intents,
        shard,
        queue,
    ));
    hub.register(Arc::clone(&handle), &[guild()]).await;
    Probe { handle }
}

fn message(channel: u64, author: u64, mentions: &[u64]) -> Event {
    let mentions: Vec<_> = mentions
        .iter()
        .map(
            |m| json!({"id": m.to_string(), "username": "u", "discriminator": "0", "avatar": null}),
        )
        .collect();
    Event::raw(
        "MESSAGE_CREATE",
        Some(id(100)),
        &json!({"id": "900", "channel_id": channel.to_string(), "guild_id": "100",
                "author": {"id": author.to_string(), "username": "a", "discriminator": "0", "avatar": null},
                "content": "secret", "embeds": [{"title": "t"}], "attachments": [],
                "mentions": mentions}),
    )
    .unwrap()
}

const GUILD_MSGS: Intents = Intents::GUILD_MESSAGES;

#[tokio::test]
async fn registering_subscribes_to_guild_and_user_topics() {
    let (hub, mut topics) = hub();
    let _p = join(&hub, 1, 3, GUILD_MSGS, None, 8).await;
    let mut got = vec![topics.recv().await.unwrap(), topics.recv().await.unwrap()];
    got.sort();
    assert_eq!(got, vec![Topic::Guild(id(100)), Topic::User(id(3))]);
}

#[tokio::test]
async fn only_sessions_that_can_view_the_channel_get_its_messages() {
    let (hub, _) = hub();
    let all = GUILD_MSGS | Intents::MESSAGE_CONTENT;
    let mut owner = join(&hub, 1, 1, all, None, 8).await;
    let mut modr = join(&hub, 2, 2, all, None, 8).await;
    let mut plain = join(&hub, 3, 3, all, None, 8).await;
    hub.deliver(&Topic::Guild(id(100)), message(11, 1, &[]));
    assert_eq!(owner.names(), ["MESSAGE_CREATE"]);
    assert_eq!(modr.names(), ["MESSAGE_CREATE"]);
    assert!(plain.names().is_empty(), "user 3 cannot see channel 11");
    hub.deliver(&Topic::Guild(id(100)), message(10, 1, &[]));
    assert_eq!(plain.names(), ["MESSAGE_CREATE"]);
}

#[tokio::test]
async fn intents_decide_which_events_arrive() {
    let (hub, _) = hub();
    let mut none = join(&hub, 1, 3, Intents::GUILDS, None, 8).await;
    let mut msgs = join(&hub, 2, 3, GUILD_MSGS, None, 8).await;
    hub.deliver(&Topic::Guild(id(100)), message(10, 1, &[]));
    let typing = Event::raw(
        "TYPING_START",
        Some(id(100)),
        &json!({"channel_id": "10", "guild_id": "100", "user_id": "1", "timestamp": 1}),
    )
    .unwrap();
    hub.deliver(&Topic::Guild(id(100)), typing);
    assert!(none.names().is_empty());
    assert_eq!(
        msgs.names(),
        ["MESSAGE_CREATE"],
        "no GUILD_MESSAGE_TYPING intent"
    );
}

#[tokio::test]
async fn without_message_content_only_author_and_mentioned_read_content() {
    let (hub, _) = hub();
    let mut author = join(&hub, 1, 1, GUILD_MSGS, None, 8).await;
    let mut mentioned = join(&hub, 2, 2, GUILD_MSGS, None, 8).await;
    let mut other = join(&hub, 3, 3, GUILD_MSGS, None, 8).await;
    let mut privileged = join(&hub, 4, 3, GUILD_MSGS | Intents::MESSAGE_CONTENT, None, 8).await;
    hub.deliver(&Topic::Guild(id(100)), message(10, 1, &[2]));
    for (who, probe) in [
        ("author", &mut author),
        ("mentioned", &mut mentioned),
        ("privileged", &mut privileged),
    ] {
        let d = probe.data();
        assert_eq!(d[0]["content"], "secret", "{who}");
        assert_eq!(d[0]["embeds"][0]["title"], "t", "{who}");
    }
    let d = other.data();
    assert_eq!(d[0]["content"], "");
    assert_eq!(d[0]["embeds"], json!([]));
    assert_eq!(d[0]["attachments"], json!([]));
    assert_eq!(d[0]["id"], "900", "the rest of the message is intact");
}

#[tokio::test]
async fn sessions_share_one_copy_of_each_view() {
    let (hub, _) = hub();
    let a = join(&hub, 1, 3, GUILD_MSGS, None, 8).await;
    let b = join(&hub, 2, 3, GUILD_MSGS, None, 8).await;
    hub.deliver(&Topic::Guild(id(100)), message(10, 1, &[]));
    let (x, y) = (a.handle.try_event().unwrap(), b.handle.try_event().unwrap());
    assert!(Arc::ptr_eq(&x, &y));
}

#[tokio::test]
async fn shards_receive_only_their_guilds_and_dms_go_to_shard_zero() {
    let (hub, _) = hub();
    // Guild 100: (100 >> 22) % 2 == 0.
    let mut s0 = join(
        &hub,
        1,
        3,
        GUILD_MSGS | Intents::DIRECT_MESSAGES,
        Some([0, 2]),
        8,
    )
    .await;
    let mut s1 = join(
        &hub,
        2,
        3,
        GUILD_MSGS | Intents::DIRECT_MESSAGES,
        Some([1, 2]),
        8,
    )
    .await;
    hub.deliver(&Topic::Guild(id(100)), message(10, 1, &[]));
    assert_eq!(s0.names(), ["MESSAGE_CREATE"]);
    assert!(s1.names().is_empty());
    let dm = Event::raw(
        "MESSAGE_CREATE",
        None,
        &json!({"id": "901", "channel_id": "77",
                "author": {"id": "1", "username": "a", "discriminator": "0", "avatar": null},
                "content": "hi", "mentions": []}),
    )
    .unwrap()
    .to_users([id(3)]);
    hub.deliver(&Topic::User(id(3)), dm);
    assert_eq!(s0.data()[0]["content"], "hi", "DM content is never hidden");
    assert!(s1.names().is_empty());
}

#[tokio::test]
async fn a_permission_change_takes_effect_for_connected_sessions() {
    let (hub, _) = hub();
    let mut plain = join(
        &hub,
        3,
        3,
        GUILD_MSGS | Intents::GUILDS | Intents::GUILD_MEMBERS,
        None,
        8,
    )
    .await;
    hub.deliver(&Topic::Guild(id(100)), message(11, 1, &[]));
    assert!(plain.names().is_empty());
    let update = Event::raw(
        "GUILD_MEMBER_UPDATE",
        Some(id(100)),
        &json!({"guild_id": "100", "roles": ["200"],
                "user": {"id": "3", "username": "plain", "discriminator": "0", "avatar": null},
                "joined_at": "2026-01-01T00:00:00+00:00"}),
    )
    .unwrap();
    hub.deliver(&Topic::Guild(id(100)), update);
    hub.deliver(&Topic::Guild(id(100)), message(11, 1, &[]));
    assert_eq!(plain.names(), ["GUILD_MEMBER_UPDATE", "MESSAGE_CREATE"]);
}

#[tokio::test]
async fn a_full_queue_spills_in_order_and_signals_overflow() {
    let (hub, _) = hub();
    let slow = join(&hub, 1, 3, GUILD_MSGS, None, 2).await;
    let mut fast = join(&hub, 2, 3, GUILD_MSGS, None, 64).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let e = message(10, 1, &[]);
        ids.push(e.id);
        hub.deliver(&Topic::Guild(id(100)), e);
    }
    assert_eq!(fast.names().len(), 5, "the fast session is not held back");
    assert!(matches!(slow.handle.try_control(), Some(Control::Overflow)));
    assert!(
        slow.handle.try_control().is_none(),
        "overflow is signalled once"
    );
    let mut got: Vec<u64> = Vec::new();
    while let Some(e) = slow.handle.try_event() {
        got.push(e.id);
    }
    assert_eq!(got, ids, "nothing lost, order kept");
}

#[tokio::test]
async fn leaving_a_guild_stops_its_events() {
    let (hub, _) = hub();
    let intents = GUILD_MSGS | Intents::GUILD_MEMBERS;
    let mut p = join(&hub, 1, 3, intents, None, 8).await;
    let remove = Event::raw(
        "GUILD_MEMBER_REMOVE",
        Some(id(100)),
        &json!({"guild_id": "100",
                "user": {"id": "3", "username": "plain", "discriminator": "0", "avatar": null}}),
    )
    .unwrap();
    hub.deliver(&Topic::Guild(id(100)), remove);
    hub.deliver(&Topic::Guild(id(100)), message(10, 1, &[]));
    assert_eq!(p.names(), ["GUILD_MEMBER_REMOVE"]);
    assert!(!hub.in_guild(1, id(100)));
    assert!(hub.guilds_of(1).is_empty());
}

#[tokio::test]
async fn a_deleted_guild_leaves_every_sessions_guild_list() {
    let (hub, _) = hub();
    let intents = GUILD_MSGS | Intents::GUILDS;
    let mut a = join(&hub, 1, 3, intents, None, 8).await;
    let mut b = join(&hub, 2, 2, intents, None, 8).await;
    assert_eq!(hub.guilds_of(1), [id(100)]);
    assert!(hub.in_guild(2, id(100)));
    let delete = Event::raw(
        "GUILD_DELETE",
        Some(id(100)),
        &json!({"id": "100", "unavailable": false}),
    )
    .unwrap();
    hub.deliver(&Topic::Guild(id(100)), delete);
    assert_eq!(a.names(), ["GUILD_DELETE"]);
    assert_eq!(b.names(), ["GUILD_DELETE"]);
    for conn in [1, 2] {
        assert!(hub.guilds_of(conn).is_empty(), "conn {conn}");
        assert!(!hub.in_guild(conn, id(100)));
    }
    hub.deliver(&Topic::Guild(id(100)), message(10, 1, &[]));
    assert!(a.names().is_empty() && b.names().is_empty());
}

#[tokio::test]
async fn unregister_forgets_the_session() {
    let (hub, _) = hub();
    let mut p = join(&hub, 1, 3, GUILD_MSGS, None, 8).await;
    hub.set_owner(&p.handle);
    assert!(hub.owner("s1").is_some());
    hub.unregister(1);
    assert!(hub.owner("s1").is_none());
    hub.deliver(&Topic::Guild(id(100)), message(10, 1, &[]));
    assert!(p.names().is_empty());
}

#[tokio::test]
async fn presence_updates_go_to_others_not_to_their_subject() {
    let (hub, _) = hub();
    let mut me = join(&hub, 1, 3, Intents::GUILD_PRESENCES, None, 8).await;
    let mut other = join(&hub, 2, 2, Intents::GUILD_PRESENCES, None, 8).await;
    let mut no_intent = join(&hub, 3, 1, Intents::GUILDS, None, 8).await;
    let presence = Event::raw(
        "PRESENCE_UPDATE",
        Some(id(100)),
        &json!({"user": {"id": "3"}, "guild_id": "100", "status": "idle", "activities": []}),
    )
    .unwrap();
    hub.deliver(&Topic::Guild(id(100)), presence);
    assert!(me.names().is_empty());
    assert_eq!(other.names(), ["PRESENCE_UPDATE"]);
    assert!(no_intent.names().is_empty());
}

#[tokio::test]
async fn a_batch_wakes_each_session_once_and_only_when_its_queue_was_empty() {
    let (hub, _) = hub();
    let mut a = join(&hub, 1, 3, GUILD_MSGS, None, 8).await;
    let mut b = join(&hub, 2, 3, GUILD_MSGS, None, 8).await;
    let mut wakes = std::collections::VecDeque::new();
    hub.deliver_deferred(&Topic::Guild(id(100)), message(10, 1, &[]), &mut wakes);
    hub.deliver_deferred(&Topic::Guild(id(100)), message(10, 2, &[]), &mut wakes);
    let mut woken: Vec<u64> = wakes.iter().map(|h| h.conn).collect();
    woken.sort();
    assert_eq!(woken, [1, 2], "one wake per session for the whole batch");
    wakes.clear();
    assert_eq!(b.names().len(), 2, "both events queued for b");

    // b's task waits on an empty queue; a still has two events queued.
    let waiting = Arc::clone(&b.handle);
    let mut task = tokio::spawn(async move { waiting.next_input().await });
    tokio::task::yield_now().await;
    hub.deliver_deferred(&Topic::Guild(id(100)), message(10, 3, &[]), &mut wakes);
    let woken: Vec<u64> = wakes.iter().map(|h| h.conn).collect();
    assert_eq!(
        woken,
        [2],
        "a's queue was not empty: its task is already woken"
    );
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(50), &mut task)
            .await
            .is_err(),
        "queued, but the task is not woken before the batch's wakes"
    );
    for handle in wakes.drain(..) {
        handle.wake();
    }
    let input = tokio::time::timeout(std::time::Duration::from_secs(10), task)
        .await
        .expect("the deferred wake reaches the waiting task")
        .unwrap();
    assert!(matches!(input, super::Input::Event(_)));
    assert_eq!(a.names().len(), 3, "a has all three, in its queue");
}

/// Only events for a guild's sessions that change nothing the hub knows
/// may be queued as a run.
#[test]
fn runs_take_only_guild_events_that_change_no_state() {
    let guild_topic = Topic::Guild(id(100));
    assert_eq!(
        Hub::run_guild(&guild_topic, &message(10, 1, &[])),
        Some(id(100))
    );
    let update = Event::raw(
        "GUILD_MEMBER_UPDATE",
        Some(id(100)),
        &json!({"guild_id": "100", "roles": [], "user": {"id": "3"}}),
    )
    .unwrap();
    assert_eq!(Hub::run_guild(&guild_topic, &update), None);
    assert_eq!(
        Hub::run_guild(&Topic::User(id(3)), &message(10, 1, &[])),
        None
    );
    let mut direct = message(10, 1, &[]);
    direct.users = vec![id(3)];
    assert_eq!(Hub::run_guild(&guild_topic, &direct), None);
}

/// A run is queued exactly as its events would be one by one: for every
/// session the same events, in the same order and the same view (shard,
/// intents, VIEW_CHANNEL, MESSAGE_CONTENT and presence subject all
/// applied), with one wake per session that has something.
#[tokio::test]
async fn a_run_queues_what_its_events_would_one_by_one() {
    let presence = Event::raw(
        "PRESENCE_UPDATE",
        Some(id(100)),
        &json!({"user": {"id": "3"}, "guild_id": "100", "status": "idle", "activities": []}),
    )
    .unwrap();
    let events = vec![
        message(10, 1, &[]),
        message(11, 1, &[]),
        presence,
        message(10, 1, &[2]),
        message(10, 3, &[]),
    ];
    let content = GUILD_MSGS | Intents::MESSAGE_CONTENT;
    let sessions: [(u64, Intents, Option<[u32; 2]>); 6] = [
        (1, content | Intents::GUILD_PRESENCES, None),
        (2, GUILD_MSGS, None),
        (3, content | Intents::GUILD_PRESENCES, None),
        (3, Intents::GUILDS, None),
        (2, content, Some([1, 2])),
        (2, Intents::GUILD_PRESENCES, Some([0, 2])),
    ];
    let mut got = Vec::new();
    for as_run in [false, true] {
        let (hub, _) = hub();
        let mut probes = Vec::new();
        for (conn, (user, intents, shard)) in sessions.iter().enumerate() {
            probes.push(join(&hub, conn as u64 + 1, *user, *intents, *shard, 64).await);
        }
        let mut wakes = std::collections::VecDeque::new();
        if as_run {
            hub.deliver_run(id(100), events.clone(), &mut wakes);
            assert!(
                probes.iter().all(|p| p.handle.no_events()),
                "kept in the guild"
            );
            // As the pump does before it hands them to a writer.
            hub.take_pending(wakes.make_contiguous());
        } else {
            for event in &events {
                hub.deliver_deferred(&Topic::Guild(id(100)), event.clone(), &mut wakes);
            }
        }
        let mut woken: Vec<u64> = wakes.iter().map(|h| h.conn).collect();
        woken.sort();
        let queues: Vec<Vec<(u64, String, serde_json::Value)>> = probes
            .iter_mut()
            .map(|p| {
                std::iter::from_fn(|| p.handle.try_event())
                    .map(|e| {
                        (
                            e.id,
                            e.name().to_owned(),
                            serde_json::from_str(e.data()).unwrap(),
                        )
                    })
                    .collect()
            })
            .collect();
        got.push((woken, queues));
    }
    let (one_by_one, run) = (&got[0], &got[1]);
    assert_eq!(
        run.1, one_by_one.1,
        "the same events queued, in the same views"
    );
    // The filters did filter: what each session got, by event index.
    let index = |e: &(u64, String, serde_json::Value)| events.iter().position(|x| x.id == e.0);
    let received: Vec<Vec<Option<usize>>> = run
        .1
        .iter()
        .map(|q| q.iter().map(index).collect())
        .collect();
    assert_eq!(
        received,
        [
            vec![Some(0), Some(1), Some(2), Some(3), Some(4)],
            vec![Some(0), Some(1), Some(3), Some(4)],
            vec![Some(0), Some(3), Some(4)],
            vec![],
            vec![],
            vec![Some(2)],
        ]
    );
    assert_eq!(
        one_by_one.0,
        [1, 2, 3, 6],
        "one wake for each session with events"
    );
    assert_eq!(
        run.0,
        [1, 2, 3, 4, 5, 6],
        "a run: one wake for each session"
    );
    let content_of = |session: usize, n: usize| run.1[session][n].2["content"].clone();
    assert_eq!(content_of(1, 0), "", "no MESSAGE_CONTENT: emptied");
    assert_eq!(content_of(1, 2), "secret", "but mentioned: kept");
}

/// A run waits in the guild until its sessions are served; whatever else
/// is queued for a session first takes the runs before it, so each
/// session's events stay in the order they arrived in.
#[tokio::test]
async fn pending_runs_keep_their_place_before_later_events() {
    let (hub, _) = hub();
    let content =
        GUILD_MSGS | Intents::MESSAGE_CONTENT | Intents::GUILDS | Intents::DIRECT_MESSAGES;
    let mut a = join(&hub, 1, 3, content, None, 64).await;
    let mut b = join(&hub, 2, 2, content, None, 64).await;
    let mut wakes = std::collections::VecDeque::new();
    let run = |hub: &Hub, n: u64, wakes: &mut _| {
        hub.deliver_run(id(100), vec![message(10, n, &[])], wakes);
    };
    run(&hub, 1, &mut wakes);
    run(&hub, 2, &mut wakes);
    assert_eq!(wakes.len(), 2, "each session flagged once for both runs");
    assert!(a.names().is_empty(), "nothing queued yet");
    // A user-targeted event for a: the runs go first.
    let dm = Event::raw(
        "MESSAGE_CREATE",
        None,
        &json!({"id": "901", "channel_id": "77", "content": "dm",
                "author": {"id": "9", "username": "d", "discriminator": "0", "avatar": null},
                "mentions": []}),
    )
    .unwrap();
    hub.deliver_deferred(&Topic::User(id(3)), dm, &mut wakes);
    let authors = |p: &mut Probe| -> Vec<String> {
        p.data()
            .iter()
            .map(|d| d["author"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(authors(&mut a), ["1", "2", "9"], "runs, then the DM");
    // A guild event that changes state: b's runs go first, and a run
    // after it is judged by the state after it.
    run(&hub, 3, &mut wakes);
    let hide = Event::raw(
        "CHANNEL_UPDATE",
        Some(id(100)),
        &json!({"id": "10", "type": 0, "guild_id": "100", "name": "open",
                "permission_overwrites": [{"id": "2", "type": 1, "allow": "0", "deny": "1024"}]}),
    )
    .unwrap();
    hub.deliver_deferred(&Topic::Guild(id(100)), hide, &mut wakes);
    run(&hub, 4, &mut wakes);
    hub.take_pending(wakes.make_contiguous());
    assert_eq!(
        a.names(),
        ["MESSAGE_CREATE", "CHANNEL_UPDATE", "MESSAGE_CREATE"],
        "run 3 before the change, run 4 after it"
    );
    assert_eq!(
        b.names(),
        ["MESSAGE_CREATE"; 3],
        "runs 1-3 came before the change; run 4 is hidden from b by it"
    );
}

/// A session leaving the guild, or handing its session over, takes the
/// runs that came while it was in; a session joining later does not get
/// earlier ones; runs every session has taken are dropped.
#[tokio::test]
async fn pending_runs_go_with_a_leaving_session_and_are_trimmed() {
    let (hub, _) = hub();
    let mut a = join(&hub, 1, 3, GUILD_MSGS, None, 1000).await;
    let mut wakes = std::collections::VecDeque::new();
    hub.deliver_run(id(100), vec![message(10, 1, &[])], &mut wakes);
    let mut late = join(&hub, 2, 2, GUILD_MSGS, None, 1000).await;
    hub.take_pending(std::slice::from_ref(&late.handle));
    assert!(late.names().is_empty(), "joined after the run");
    lock(&hub.state).leave(1, id(100));
    assert_eq!(a.names(), ["MESSAGE_CREATE"], "taken on leaving");
    for n in 0..200 {
        hub.deliver_run(id(100), vec![message(10, n, &[])], &mut wakes);
    }
    hub.take_pending(std::slice::from_ref(&late.handle));
    assert_eq!(late.names().len(), 200);
    let left = lock(&hub.state).guilds[&id(100)].pending.len();
    assert!(
        left <= super::index::TRIM_AT,
        "taken runs are dropped: {left} kept"
    );
}

/// A run's event that no session of the guild has an intent for is not
/// kept, and wakes nobody.
#[tokio::test]
async fn a_run_nobody_has_the_intent_for_is_not_kept() {
    let (hub, _) = hub();
    let _a = join(&hub, 1, 3, GUILD_MSGS, None, 64).await;
    let presence = Event::raw(
        "PRESENCE_UPDATE",
        Some(id(100)),
        &json!({"user": {"id": "2"}, "guild_id": "100", "status": "idle", "activities": []}),
    )
    .unwrap();
    let mut wakes = std::collections::VecDeque::new();
    hub.deliver_run(id(100), vec![presence.clone()], &mut wakes);
    assert!(wakes.is_empty());
    assert!(lock(&hub.state).guilds[&id(100)].pending.is_empty());
    let mut b = join(&hub, 2, 3, Intents::GUILD_PRESENCES, None, 64).await;
    hub.deliver_run(id(100), vec![presence], &mut wakes);
    assert_eq!(wakes.len(), 2, "now someone may receive it");
    hub.take_pending(wakes.make_contiguous());
    assert_eq!(b.names(), ["PRESENCE_UPDATE"]);
}

/// A chunk of lent sessions claimed with the same share of a run holds
/// each event once (no counter raised per session); one with an event of
/// its own queued first holds its share anew, and every claim lists its
/// events in order.
#[tokio::test]
async fn a_chunk_sharing_a_run_holds_each_event_once() {
    let (hub, _) = hub();
    let mut probes = Vec::new();
    for conn in 1..=4 {
        let p = join(&hub, conn, conn, GUILD_MSGS, None, 1000).await;
        lock(&p.handle.slot).owner = crate::writer::Owner::Lent;
        probes.push(p);
    }
    let mut wakes = std::collections::VecDeque::new();
    // By a user with no session here: every session gets the same view.
    let run: Vec<_> = (0..3).map(|_| message(10, 9, &[])).collect();
    hub.deliver_run(id(100), run, &mut wakes);
    // The third session has an event queued before the run's share.
    probes[2]
        .handle
        .queue(Arc::new(super::Prepared::new(99, "TYPING_START", "{}")));
    let mut out = crate::writer::ChunkEvents::new();
    let handles = probes.iter().map(|p| Arc::clone(&p.handle));
    let claims = hub.claim_chunk(handles, crate::writer::BATCH, &mut out);
    let counts: Vec<usize> = claims
        .iter()
        .map(|(_, c)| match c {
            crate::writer::Claim::Events(c) => c.count,
            _ => panic!("every session is lent with events"),
        })
        .collect();
    assert_eq!(counts, [3, 3, 4, 3]);
    let names: Vec<&str> = out.get(0..out.len()).map(|e| e.name()).collect();
    let m = "MESSAGE_CREATE";
    assert_eq!(names, [m, m, m, m, m, m, "TYPING_START", m, m, m, m, m, m]);
    // The run's three events once for the first two and the last (which
    // matches the third at no place, so holds them anew), plus the third
    // session's own event and its share: 3 + 1 + 3 + 3.
    assert_eq!(out.held(), 10);
}

/// Any stream of a guild's events, to any sessions, is queued the same as
/// runs (as the pump groups them, with sessions served at any points in
/// between) as one by one.
mod runs_match_one_by_one;

/// The writers' cuts of a prepared event (bytes and length, made without
/// reading the text) are its data's.
#[test]
fn a_prepared_events_data_reads_the_same_every_way() {
    for (name, data) in [
        ("MESSAGE_CREATE", r#"{"content":"héllo ✓"}"#),
        ("READY", ""),
        ("", "{}"),
        ("X", "ünïcode at the start"),
    ] {
        let event = super::Prepared::new(7, name, data);
        assert_eq!(event.name(), name);
        assert_eq!(event.data(), data);
        assert_eq!(event.data_bytes(), data.as_bytes());
        assert_eq!(event.data_len(), data.len());
    }
}
