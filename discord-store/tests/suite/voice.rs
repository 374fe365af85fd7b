//! Voice states: joins, moves, channel limits, compare-and-set flag
//! changes, leaving, and finding a session's states.

use std::sync::Arc;

use discord_proto::Snowflake;
use discord_proto::model::VoiceState;
use discord_store::{VoiceJoin, VoiceStateStore};

use super::namespace;

fn state(guild: Snowflake, user: Snowflake, channel: Snowflake, session: &str) -> VoiceState {
    VoiceState {
        guild_id: Some(guild),
        channel_id: Some(channel),
        user_id: user,
        member: None,
        session_id: session.to_owned(),
        deaf: false,
        mute: false,
        self_deaf: false,
        self_mute: false,
        self_stream: None,
        self_video: false,
        suppress: false,
        request_to_speak_timestamp: None,
    }
}

fn ids() -> (Snowflake, [Snowflake; 4]) {
    let ns = namespace();
    let g = Snowflake::new(ns * 10 + 1);
    (
        g,
        [1, 2, 3, 4].map(|i| Snowflake::new((ns * 10 + 1) * 100 + i)),
    )
}

fn previous(j: VoiceJoin) -> Option<VoiceState> {
    match j {
        VoiceJoin::Joined { previous } => previous.map(|b| *b),
        VoiceJoin::Full => panic!("refused as full"),
    }
}

/// A join stores the state, a move replaces it and reports the old one,
/// leaving removes it; the guild lists exactly its current states.
pub async fn join_move_leave(store: &dyn VoiceStateStore) {
    let (g, [u1, u2, c1, c2]) = ids();
    let a = state(g, u1, c1, "sa");
    assert_eq!(previous(store.join(g, &a, 10).await.unwrap()), None);
    assert_eq!(store.get(g, u1).await.unwrap(), Some(a.clone()));
    let b = state(g, u2, c1, "sb");
    store.join(g, &b, 10).await.unwrap();
    let moved = state(g, u1, c2, "sa");
    assert_eq!(
        previous(store.join(g, &moved, 10).await.unwrap()),
        Some(a.clone())
    );
    let mut all = store.guild(g).await.unwrap();
    all.sort_by_key(|s| s.user_id);
    assert_eq!(all, vec![moved.clone(), b.clone()]);
    assert_eq!(store.leave(g, u1).await.unwrap(), Some(moved));
    assert_eq!(store.leave(g, u1).await.unwrap(), None);
    assert_eq!(store.get(g, u1).await.unwrap(), None);
    assert_eq!(store.guild(g).await.unwrap(), vec![b]);
    // Another guild is untouched by all of it.
    assert!(
        store
            .guild(Snowflake::new(g.get() + 1))
            .await
            .unwrap()
            .is_empty()
    );
}

/// A channel at its limit refuses newcomers but not its own members
/// changing flags, and a move out makes room.
pub async fn channel_limit(store: &dyn VoiceStateStore) {
    let (g, [u1, u2, u3, c]) = ids();
    store.join(g, &state(g, u1, c, "s1"), 2).await.unwrap();
    store.join(g, &state(g, u2, c, "s2"), 2).await.unwrap();
    assert_eq!(
        store.join(g, &state(g, u3, c, "s3"), 2).await.unwrap(),
        VoiceJoin::Full
    );
    assert_eq!(store.get(g, u3).await.unwrap(), None);
    let mut muted = state(g, u2, c, "s2");
    muted.self_mute = true;
    assert!(previous(store.join(g, &muted, 2).await.unwrap()).is_some());
    store.leave(g, u1).await.unwrap();
    assert!(previous(store.join(g, &state(g, u3, c, "s3"), 2).await.unwrap()).is_none());
}

/// Concurrent joins never put more than the limit into a channel.
pub async fn concurrent_joins_respect_the_limit(store: Arc<dyn VoiceStateStore>) {
    let (g, [_, _, _, c]) = ids();
    let mut tasks = Vec::new();
    for i in 0..20u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let user = Snowflake::new(c.get() * 100 + i);
            store
                .join(g, &state(g, user, c, &format!("s{i}")), 5)
                .await
                .unwrap()
        }));
    }
    let mut joined = 0;
    for t in tasks {
        if t.await.unwrap() != VoiceJoin::Full {
            joined += 1;
        }
    }
    assert_eq!(joined, 5);
    assert_eq!(store.guild(g).await.unwrap().len(), 5);
}

/// `replace` applies only over the state the caller read.
pub async fn replace_is_compare_and_set(store: &dyn VoiceStateStore) {
    let (g, [u1, _, c1, c2]) = ids();
    let a = state(g, u1, c1, "s1");
    let mut muted = a.clone();
    muted.mute = true;
    assert!(
        !store.replace(g, &a, &muted).await.unwrap(),
        "nothing to replace"
    );
    store.join(g, &a, 10).await.unwrap();
    assert!(store.replace(g, &a, &muted).await.unwrap());
    assert_eq!(store.get(g, u1).await.unwrap(), Some(muted.clone()));
    // A stale read loses.
    let mut deaf = a.clone();
    deaf.deaf = true;
    assert!(!store.replace(g, &a, &deaf).await.unwrap());
    // A move in between makes the old read stale too.
    store.join(g, &state(g, u1, c2, "s1"), 10).await.unwrap();
    assert!(!store.replace(g, &muted, &deaf).await.unwrap());
    assert_eq!(
        store.get(g, u1).await.unwrap().unwrap().channel_id,
        Some(c2)
    );
}

/// A session's states are found in every guild, and forgotten as they
/// leave or are taken over by another session.
pub async fn states_of_a_session(store: &dyn VoiceStateStore) {
    let (g1, [u1, u2, c1, _]) = ids();
    let (g2, [_, _, c2, _]) = ids();
    let session = format!("sess-{}", namespace());
    store
        .join(g1, &state(g1, u1, c1, &session), 10)
        .await
        .unwrap();
    store
        .join(g2, &state(g2, u1, c2, &session), 10)
        .await
        .unwrap();
    store
        .join(g1, &state(g1, u2, c1, "other"), 10)
        .await
        .unwrap();
    let mut found = store.of_session(&session).await.unwrap();
    found.sort();
    assert_eq!(found, vec![(g1, u1), (g2, u1)]);
    store.leave(g2, u1).await.unwrap();
    assert_eq!(store.of_session(&session).await.unwrap(), vec![(g1, u1)]);
    // The user joins again from a new session: the old one owns nothing.
    store
        .join(g1, &state(g1, u1, c1, "newer"), 10)
        .await
        .unwrap();
    assert!(store.of_session(&session).await.unwrap().is_empty());
    assert_eq!(store.of_session("newer").await.unwrap(), vec![(g1, u1)]);
}
