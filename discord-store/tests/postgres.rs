//! The conformance suite against PostgreSQL (the `postgres` feature), when
//! `POSTGRES_URL` is set, e.g. `postgres://postgres@127.0.0.1:5432/test`.
//! Tests run in the schema `discord_store_test`, and use distinct IDs so
//! they can share it.

mod suite;

#[cfg(feature = "postgres")]
mod pg {
    use std::sync::Arc;

    use discord_proto::Snowflake;
    use discord_store::MessageStore;
    use discord_store::backend::sql::{Engine, SqlStore};
    use discord_store::message::{HistoryQuery, MessageRecord};
    use sqlx::Executor;

    use super::suite;

    const SCHEMA: &str = "discord_store_test";

    async fn pg() -> Option<SqlStore> {
        let base = suite::service_url("postgres", "POSTGRES_URL")?;
        {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&base)
                .await
                .expect("connect to POSTGRES_URL");
            // Concurrent tests may race to create it; either way it exists after.
            let _ = pool
                .execute("CREATE SCHEMA IF NOT EXISTS discord_store_test")
                .await;
            pool.close().await;
        }
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{SCHEMA}");
        let store = SqlStore::connect(&url)
            .await
            .expect("open PostgreSQL store");
        assert_eq!(store.engine(), Engine::Postgres);
        Some(store)
    }

    macro_rules! pg_test {
        ($name:ident, $body:expr) => {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                if let Some(store) = pg().await {
                    #[allow(clippy::redundant_closure_call)]
                    ($body)(store).await;
                }
            }
        };
    }

    pg_test!(history_pages_across_buckets, |s: SqlStore| async move {
        suite::messages::history_pages_across_buckets(&s).await
    });
    pg_test!(history_edges, |s: SqlStore| async move {
        suite::messages::history_edges(&s).await
    });
    pg_test!(edit_and_delete, |s: SqlStore| async move {
        suite::messages::edit_and_delete(&s).await
    });
    pg_test!(nonce_deduplication, |s: SqlStore| async move {
        suite::messages::nonce_deduplication(&s).await
    });
    pg_test!(duplicate_id_is_conflict, |s: SqlStore| async move {
        suite::messages::duplicate_id_is_conflict(&s).await
    });
    pg_test!(text_round_trips_exactly, |s: SqlStore| async move {
        suite::messages::text_round_trips_exactly(&s).await
    });
    pg_test!(failed_batch_stores_nothing, |s: SqlStore| async move {
        suite::messages::failed_batch_stores_nothing(Arc::new(s)).await
    });
    pg_test!(concurrent_inserts, |s: SqlStore| async move {
        suite::messages::concurrent_inserts(Arc::new(s)).await
    });
    pg_test!(concurrent_nonce_retries, |s: SqlStore| async move {
        suite::messages::concurrent_nonce_retries(Arc::new(s)).await
    });
    pg_test!(reactions, |s: SqlStore| async move {
        suite::messages::reactions(&s).await
    });
    pg_test!(reaction_summaries, |s: SqlStore| async move {
        suite::messages::reaction_summaries(&s).await
    });
    pg_test!(users_and_tokens, |s: SqlStore| async move {
        suite::guilds::users_and_tokens(&s).await
    });
    pg_test!(applications, |s: SqlStore| async move {
        suite::guilds::applications(&s).await
    });
    pg_test!(guild_lifecycle, |s: SqlStore| async move {
        suite::guilds::guild_lifecycle(&s).await
    });
    pg_test!(channels, |s: SqlStore| async move {
        suite::guilds::channels(&s).await
    });
    pg_test!(members_and_roles, |s: SqlStore| async move {
        suite::guilds::members_and_roles(&s).await
    });
    pg_test!(invites, |s: SqlStore| async move {
        suite::guilds::invites(Arc::new(s)).await
    });
    pg_test!(bus_order_and_resume, |s: SqlStore| async move {
        suite::bus::bus_order_and_resume(&s).await
    });

    /// A server that cannot be reached is a typed Unavailable error.
    #[tokio::test]
    async fn unreachable_server_is_unavailable() {
        if suite::service_url("postgres", "POSTGRES_URL").is_none() {
            return;
        }
        let err = SqlStore::connect("postgres://postgres@127.0.0.1:1/test")
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err}");
    }

    /// An acknowledged message is readable from a new connection pool (a
    /// restarted process).
    #[tokio::test]
    async fn acknowledged_writes_survive_reconnect() {
        let Some(s) = pg().await else { return };
        let channel = Snowflake::new(suite::namespace());
        let m = MessageRecord::new(suite::id_at(5, 0), channel, Snowflake::new(1), "durable");
        s.insert(&m).await.unwrap();
        s.close().await;
        let s = pg().await.unwrap();
        let page = s.history(channel, HistoryQuery::latest(5)).await.unwrap();
        assert_eq!(page, vec![m]);
    }
}

/// Without the feature the suite cannot run: say so, and fail if required.
#[cfg(not(feature = "postgres"))]
#[test]
fn postgres_feature_disabled() {
    let required = std::env::var("DISCORD_STORE_REQUIRE").unwrap_or_default();
    assert!(
        !required.split(',').any(|b| b.trim() == "postgres"),
        "postgres suite required but discord-store was built without the `postgres` feature"
    );
    suite::loud_skip("the postgres suite needs the `postgres` feature");
}
