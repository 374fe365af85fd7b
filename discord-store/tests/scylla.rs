//! The ScyllaDB message store.
//!
//! - With `SCYLLA_URI` set (`host:9042` of a real ScyllaDB or Cassandra
//!   node) the whole message conformance suite runs against it.
//! - Always (with the `scylla` feature), the schema, the statements and the
//!   row mapping run against kassandra, an in-memory CQL v4 server, so the
//!   CQL we send is parsed and executed by a real protocol peer. kassandra
//!   implements only equality WHERE clauses, no `ORDER BY`, no bind marker
//!   in `LIMIT` and no lightweight transactions, so the range reads of
//!   history, `reaction_users` and nonce claims are covered by the real-node
//!   suite and by the unit tests of the bucket walk, not here.

mod suite;

#[cfg(feature = "scylla")]
mod cql {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use discord_proto::Snowflake;
    use discord_store::MessageStore;
    use discord_store::backend::scylla::{ScyllaConfig, ScyllaMessages};
    use discord_store::message::MessageRecord;
    use futures::{SinkExt, StreamExt};
    use kassandra::KassandraSession;
    use kassandra::error::DbError;
    use kassandra::frame::request::Request;
    use kassandra::frame::response::Response;
    use kassandra::frame::response::error::Error as KError;
    use kassandra::frame::{request_stream, response_sink};

    use super::suite;

    /// Serves one in-memory kassandra node on a free port, on its own thread.
    fn start_kassandra() -> SocketAddr {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let db = Arc::new(Mutex::new(KassandraSession::new()));
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    tokio::task::spawn_local(serve(Arc::clone(&db), stream));
                }
            });
        });
        rx.recv().unwrap()
    }

    async fn serve(db: Arc<Mutex<KassandraSession>>, mut stream: tokio::net::TcpStream) {
        let (mut read, mut write) = stream.split();
        let mut requests = request_stream(&mut read);
        let mut responses = response_sink(&mut write);
        while let Some(Ok((frame, opcode, data))) = requests.next().await {
            let response = match Request::deserialize(opcode, &data, frame.flags) {
                Err(_) => Response::Error(KError::new(DbError::ProtocolError, "bad request")),
                Ok(Request::Options) => Response::options(),
                Ok(Request::StartUp(_) | Request::Register { .. }) => Response::Ready,
                Ok(Request::AuthResponse) => {
                    Response::Error(KError::new(DbError::ProtocolError, "no authentication"))
                }
                Ok(request) => {
                    let mut db = db.lock().unwrap();
                    let result = match request {
                        Request::Query(q) => db.process(q),
                        Request::Prepare(p) => db.prepare(p),
                        Request::Execute(e) => db.execute(e),
                        Request::Batch(b) => db.process_batch(b),
                        _ => unreachable!("handled above"),
                    };
                    match result {
                        Ok(r) => Response::Result(r),
                        Err(e) => Response::Error(e),
                    }
                }
            };
            if responses.send((response, frame.stream)).await.is_err() {
                break;
            }
        }
    }

    async fn kassandra_store() -> ScyllaMessages {
        let addr = start_kassandra();
        let mut config = ScyllaConfig::new(addr.to_string());
        config.await_schema_agreement = false;
        ScyllaMessages::connect(&config)
            .await
            .expect("connect to kassandra")
    }

    /// Schema creation, message writes across buckets, point reads, edits,
    /// deletes and reaction writes through prepared statements.
    #[tokio::test]
    async fn statements_run_against_a_cql_peer() {
        let store = kassandra_store().await;
        let channel = Snowflake::new(suite::namespace());
        const DAY: u64 = 86_400_000;
        let mut messages = Vec::new();
        for i in 0..6u64 {
            let mut m = MessageRecord::new(
                suite::id_at(i * 3 * DAY, 0),
                channel,
                Snowflake::new(9),
                format!("m{i}"),
            );
            m.guild_id = Some(Snowflake::new(4));
            m.body.mentions = vec![Snowflake::new(7)];
            messages.push(m);
        }
        store.insert(&messages[0]).await.unwrap();
        store.insert_batch(&messages[1..]).await.unwrap();
        for m in &messages {
            assert_eq!(
                store.get(channel, m.id).await.unwrap().as_ref(),
                Some(m),
                "row mapping"
            );
        }
        let mut edited = messages[2].clone();
        edited.content = "edited".into();
        edited.edited_at = Some(discord_proto::model::Timestamp::from_unix_millis(
            1_800_000_000_000,
        ));
        store.edit(&edited).await.unwrap();
        assert_eq!(
            store.get(channel, edited.id).await.unwrap(),
            Some(edited.clone())
        );

        assert!(
            store
                .add_reaction(channel, messages[0].id, "👍", Snowflake::new(3))
                .await
                .unwrap()
        );
        assert!(
            !store
                .add_reaction(channel, messages[0].id, "👍", Snowflake::new(3))
                .await
                .unwrap()
        );
        assert!(
            store
                .add_reaction(channel, messages[0].id, "👍", Snowflake::new(5))
                .await
                .unwrap()
        );
        let counts = store.reactions(channel, messages[0].id).await.unwrap();
        assert_eq!((counts[0].emoji.as_str(), counts[0].count), ("👍", 2));
        assert!(
            store
                .remove_reaction(channel, messages[0].id, "👍", Snowflake::new(3))
                .await
                .unwrap()
        );
        assert_eq!(
            store.reactions(channel, messages[0].id).await.unwrap()[0].count,
            1
        );

        // The DELETE statement executes; kassandra 0.14 acknowledges it
        // without applying it to this table, so its effect is checked by
        // the real-node suite (edit_and_delete), not here.
        store.delete(channel, messages[1].id).await.unwrap();
        store.bulk_delete(channel, &[messages[3].id]).await.unwrap();
    }

    /// A node that cannot be reached is a typed Unavailable error.
    #[tokio::test]
    async fn unreachable_node_is_unavailable() {
        let err = ScyllaMessages::connect(&ScyllaConfig::new("127.0.0.1:1"))
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err}");
    }

    async fn real() -> Option<ScyllaMessages> {
        let uri = suite::service_url("scylla", "SCYLLA_URI")?;
        let mut config = ScyllaConfig::new(uri);
        config.keyspace = "discord_store_test".into();
        Some(
            ScyllaMessages::connect(&config)
                .await
                .expect("connect to SCYLLA_URI"),
        )
    }

    #[tokio::test]
    async fn suite_history_pages_across_buckets() {
        let Some(s) = real().await else { return };
        suite::messages::history_pages_across_buckets(&s).await;
    }

    #[tokio::test]
    async fn suite_history_edges() {
        let Some(s) = real().await else { return };
        suite::messages::history_edges(&s).await;
    }

    #[tokio::test]
    async fn suite_edit_and_delete() {
        let Some(s) = real().await else { return };
        suite::messages::edit_and_delete(&s).await;
    }

    #[tokio::test]
    async fn suite_nonce_deduplication() {
        let Some(s) = real().await else { return };
        suite::messages::nonce_deduplication(&s).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn suite_concurrent_inserts() {
        let Some(s) = real().await else { return };
        suite::messages::concurrent_inserts(Arc::new(s)).await;
    }

    #[tokio::test]
    async fn suite_reactions() {
        let Some(s) = real().await else { return };
        suite::messages::reactions(&s).await;
    }

    #[tokio::test]
    async fn suite_reaction_summaries() {
        let Some(s) = real().await else { return };
        suite::messages::reaction_summaries(&s).await;
    }
}

#[cfg(not(feature = "scylla"))]
#[test]
fn scylla_feature_disabled() {
    suite::loud_skip("the scylla tests need the `scylla` feature");
}
