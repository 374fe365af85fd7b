//! Putting it together: opens the stores the settings name, starts the
//! gateway node, binds the listener and serves until told to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use discord_gateway::{Gateway, GatewayConfig, GatewayStores};
use discord_snowflake::Generator;
use discord_store::backend::sql::SqlStore;
use discord_store::{ObjectBlobStore, StoreError, Stores};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::gateway_data::StoreData;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::state::{AppState, Inner};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A store could not be opened.
    #[error("cannot open the stores: {0}")]
    Store(#[from] StoreError),
    /// The gateway could not start.
    #[error("cannot start the gateway: {0}")]
    Gateway(#[from] discord_gateway::GatewayError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A setting is not usable in this build.
    #[error("{0}")]
    Unsupported(String),
}

/// Opens the stores for these settings: the embedded default, with each
/// cluster URL replacing the parts it covers.
pub async fn open_stores(config: &Config) -> Result<Stores, StartError> {
    let c = &config.cluster;
    let mut stores = match &c.postgres {
        None => Stores::embedded(&config.data_dir).await?,
        Some(url) => {
            let pg = Arc::new(SqlStore::connect(url).await?);
            Stores {
                messages: pg.clone(),
                guilds: pg.clone(),
                events: pg,
                presence: Arc::new(discord_store::backend::memory::MemoryPresence::new()),
                sessions: Arc::new(discord_store::backend::memory::MemorySessions::new(
                    discord_store::DEFAULT_REPLAY_CAPACITY,
                )),
                voice: Arc::new(discord_store::backend::memory::MemoryVoiceStates::new()),
                pubsub: Arc::new(discord_store::backend::memory::MemoryPubSub::new()),
                blobs: Arc::new(ObjectBlobStore::local(
                    &config.data_dir.join("attachments"),
                )?),
            }
        }
    };
    #[cfg(feature = "cluster")]
    {
        use discord_store::backend;
        if let Some(url) = &c.redis {
            let redis = Arc::new(backend::redis::RedisStore::connect(url).await?);
            stores.presence = redis.clone();
            stores.sessions = redis.clone();
            stores.voice = redis.clone();
            stores.pubsub = redis;
        }
        if let Some(brokers) = &c.kafka {
            let topic = c
                .kafka_topic
                .as_deref()
                .unwrap_or(discord_store::event_bus::TOPIC);
            stores.events = Arc::new(
                backend::kafka::KafkaBus::connect_with(
                    brokers,
                    topic,
                    4,
                    std::time::Duration::from_secs(10),
                )
                .await?,
            );
        }
        if let Some(uri) = &c.scylla {
            let cfg = backend::scylla::ScyllaConfig::new(uri.clone());
            stores.messages = Arc::new(backend::scylla::ScyllaMessages::connect(&cfg).await?);
        }
    }
    #[cfg(not(feature = "cluster"))]
    if c.redis.is_some() || c.kafka.is_some() || c.scylla.is_some() {
        return Err(StartError::Unsupported(
            "this build has no cluster backends (build with --features cluster)".into(),
        ));
    }
    let _ = &mut stores;
    Ok(stores)
}

/// A bound server, ready to serve.
#[derive(Debug)]
pub struct Server {
    state: AppState,
    listener: TcpListener,
}

impl Server {
    /// Opens the stores, starts the gateway node and binds the listener.
    pub async fn bind(config: Config) -> Result<Server, StartError> {
        let stores = open_stores(&config).await?;
        Self::bind_with(config, stores).await
    }

    /// [`Server::bind`] with stores the caller opened.
    pub async fn bind_with(config: Config, stores: Stores) -> Result<Server, StartError> {
        // A deep accept queue: a gateway's clients reconnect together.
        let listener =
            discord_gateway::listen(config.listen).map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned();
        let gateway_url = format!(
            "{}/gateway",
            public_url
                .replacen("https://", "wss://", 1)
                .replacen("http://", "ws://", 1)
        );
        let gateway_config = GatewayConfig {
            node_id: config.node_id.clone(),
            resume_gateway_url: gateway_url.clone(),
            heartbeat_interval: config.heartbeat_interval,
            heartbeat_timeout: config.heartbeat_interval * 2,
            ..GatewayConfig::default()
        };
        let mut voice_config = discord_voice::VoiceConfig::new(format!(
            "{}/voice",
            public_url
                .replacen("https://", "wss://", 1)
                .replacen("http://", "ws://", 1)
        ));
        voice_config.media_ip = config.media_ip;
        voice_config.node_id = config.node_id.clone();
        voice_config.nodes = config.voice_nodes.clone();
        if let Some(secret) = &config.voice_secret {
            voice_config.token_key = discord_voice::TokenKey::new(secret.as_bytes().to_vec());
        }
        let voice = discord_voice::Voice::with_stores(
            voice_config,
            Arc::new(crate::voice::StoreVoiceAccess::new(Arc::clone(
                &stores.guilds,
            ))),
            Arc::clone(&stores.voice),
            Arc::clone(&stores.pubsub),
        )
        .await?;
        let data = Arc::new(StoreData::new(
            Arc::clone(&stores.guilds),
            Some(voice.clone()),
        ));
        let gateway = Gateway::start(
            gateway_config,
            data,
            Some(voice.hook()),
            GatewayStores::from(&stores),
        )
        .await?;
        voice.attach(gateway.clone());
        let ids = Generator::new((config.worker_id >> 5) as u8, (config.worker_id & 31) as u8)
            .map_err(|e| StartError::Unsupported(e.to_string()))?;
        let state = AppState::new(Inner {
            stores,
            gateway,
            voice,
            ids,
            public_url,
            gateway_url,
            limiter: RateLimiter::new(config.rate_limits.clone()),
            metrics: Metrics::new(),
            config,
            slowmode: crate::slowmode::Slowmode::default(),
        });
        Ok(Server { state, listener })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The shared state (stores, gateway).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then sends every gateway session
    /// op 7 RECONNECT, waits (up to the drain time) for them to leave, and
    /// stops.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let state = self.state.clone();
        let app = crate::routes::router(self.state.clone());
        let drain = state.config.drain;
        let gateway = state.gateway.clone();
        let stop = async move {
            shutdown.await;
            tracing::info!("shutting down: asking gateway sessions to reconnect elsewhere");
            gateway.shutdown(drain).await;
        };
        axum::serve(
            self.listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop)
        .await
    }

    /// Serves on a background task; the handle stops it.
    pub fn spawn(self) -> RunningServer {
        let addr = self.local_addr();
        let state = self.state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(self.serve(async move {
            let _ = rx.await;
        }));
        RunningServer {
            addr,
            state,
            stop: Some(tx),
            task,
        }
    }
}

/// A server serving on a background task.
#[derive(Debug)]
pub struct RunningServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state.
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Shuts down gracefully and waits for it.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match (&mut self.task).await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}
