//! The server's settings: command-line flags, each also readable from an
//! environment variable, over an optional TOML file, over defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use discord_gateway::GatewayConfig;
use serde::Deserialize;

/// Command-line flags. Every flag has an environment variable; a flag or
/// variable wins over the same key in the TOML file given by `--config`.
#[derive(Debug, Default, Parser)]
#[command(
    name = "reference-server",
    version,
    about = "A Discord v10-compatible chat server: REST API, gateway and attachments in one binary"
)]
pub struct Flags {
    /// A TOML file with any of the settings below (keys as the long flag
    /// names with `_` for `-`).
    #[arg(long, env = "DISCORD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "DISCORD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The URL clients reach this server at, used in gateway and attachment
    /// URLs [default: http://LISTEN].
    #[arg(long, env = "DISCORD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Where the embedded store keeps its SQLite file and attachments
    /// [default: ./data].
    #[arg(long, env = "DISCORD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// This node's name in a cluster [default: node-RANDOM].
    #[arg(long, env = "DISCORD_NODE_ID")]
    pub node_id: Option<String>,
    /// Snowflake worker ID 0-1023 (unique per node in a cluster)
    /// [default: derived from the node ID].
    #[arg(long, env = "DISCORD_WORKER_ID")]
    pub worker_id: Option<u16>,
    /// Cluster mode: PostgreSQL for users, guilds, members (and messages
    /// when no ScyllaDB is given).
    #[arg(long, env = "DISCORD_POSTGRES_URL")]
    pub postgres_url: Option<String>,
    /// Cluster mode: a ScyllaDB node (host:port) for messages.
    #[arg(long, env = "DISCORD_SCYLLA_URI")]
    pub scylla_uri: Option<String>,
    /// Cluster mode: Redis for presence, gateway sessions and pub/sub
    /// between nodes.
    #[arg(long, env = "DISCORD_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Cluster mode: Kafka brokers for the message event bus.
    #[arg(long, env = "DISCORD_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Cluster mode: the Kafka topic for message events [default:
    /// message_events].
    #[arg(long, env = "DISCORD_KAFKA_TOPIC")]
    pub kafka_topic: Option<String>,
    /// Turn REST rate limits off (for local bot testing) [default: on].
    #[arg(long, env = "DISCORD_NO_RATE_LIMITS")]
    pub no_rate_limits: bool,
    /// Log filter (tracing's `EnvFilter` syntax) [default: info].
    #[arg(long, env = "DISCORD_LOG")]
    pub log: Option<String>,
    /// On SIGTERM, how long gateway sessions get to resume on another node
    /// before the process exits, in seconds [default: 10].
    #[arg(long, env = "DISCORD_DRAIN_SECS")]
    pub drain_secs: Option<u64>,
    /// The gateway's heartbeat interval (sent in HELLO), in milliseconds; a
    /// session silent for twice as long is closed. 1,000-600,000
    /// [default: 41250, as Discord's].
    #[arg(long, env = "DISCORD_HEARTBEAT_INTERVAL_MS")]
    pub heartbeat_interval_ms: Option<u64>,
    /// The address voice media (WebRTC over UDP) is bound to and offered to
    /// clients at [default: 127.0.0.1; set the host's address for clients
    /// on other machines].
    #[arg(long, env = "DISCORD_MEDIA_IP")]
    pub media_ip: Option<std::net::IpAddr>,
    /// Several voice (SFU) nodes: every node of the cluster as
    /// `ID=ws(s)://HOST/voice[@REGION]`, comma-separated, this node's ID
    /// among them. Each voice channel lives on one of them (by rendezvous
    /// hashing; a channel's `rtc_region` picks among that region's nodes)
    /// [default: this node alone].
    #[arg(long, env = "DISCORD_VOICE_NODES", value_delimiter = ',')]
    pub voice_nodes: Vec<String>,
    /// The secret voice tokens are signed with; every node needs the same
    /// one (at least 16 characters). Required with --voice-nodes
    /// [default: random per process].
    #[arg(long, env = "DISCORD_VOICE_SECRET", hide_env_values = true)]
    pub voice_secret: Option<String>,
}

/// The same settings as a TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    node_id: Option<String>,
    worker_id: Option<u16>,
    postgres_url: Option<String>,
    scylla_uri: Option<String>,
    redis_url: Option<String>,
    kafka_brokers: Option<String>,
    kafka_topic: Option<String>,
    #[serde(default)]
    no_rate_limits: bool,
    log: Option<String>,
    drain_secs: Option<u64>,
    heartbeat_interval_ms: Option<u64>,
    media_ip: Option<std::net::IpAddr>,
    #[serde(default)]
    voice_nodes: Vec<String>,
    voice_secret: Option<String>,
}

/// Per-route and global REST rate limits.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimitConfig {
    /// Whether limits are enforced at all.
    pub enabled: bool,
    /// Requests per second per token (or per IP without one) across all
    /// routes.
    pub global_per_second: u32,
    /// Default requests per route bucket per `window_secs`.
    pub route_limit: u32,
    /// The route bucket window in seconds.
    pub window_secs: f64,
    /// Messages per channel per `message_window_secs` for one sender.
    pub message_limit: u32,
    /// The message bucket window in seconds.
    pub message_window_secs: f64,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            global_per_second: 50,
            route_limit: 50,
            window_secs: 10.0,
            message_limit: 5,
            message_window_secs: 5.0,
        }
    }
}

/// Where data lives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterUrls {
    /// PostgreSQL URL.
    pub postgres: Option<String>,
    /// ScyllaDB node.
    pub scylla: Option<String>,
    /// Redis URL.
    pub redis: Option<String>,
    /// Kafka brokers.
    pub kafka: Option<String>,
    /// The Kafka topic (`message_events` when `None`).
    pub kafka_topic: Option<String>,
}

impl ClusterUrls {
    /// Whether any cluster backend is configured.
    pub fn any(&self) -> bool {
        self.postgres.is_some()
            || self.scylla.is_some()
            || self.redis.is_some()
            || self.kafka.is_some()
    }
}

/// The resolved settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Listen address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The public base URL; `None` uses the bound address.
    pub public_url: Option<String>,
    /// The embedded store's directory (attachments in every mode).
    pub data_dir: PathBuf,
    /// This node's name.
    pub node_id: String,
    /// Snowflake worker ID (0-1023).
    pub worker_id: u16,
    /// Cluster backends.
    pub cluster: ClusterUrls,
    /// Rate limits.
    pub rate_limits: RateLimitConfig,
    /// Log filter.
    pub log: String,
    /// How long a graceful shutdown waits for gateway sessions to move.
    pub drain: std::time::Duration,
    /// The gateway's heartbeat interval (a session silent for twice as
    /// long is closed).
    pub heartbeat_interval: std::time::Duration,
    /// Largest request body (attachments included), in bytes.
    pub max_body: usize,
    /// Where voice media is bound and advertised.
    pub media_ip: std::net::IpAddr,
    /// Every voice node of the cluster (empty: this node alone).
    pub voice_nodes: Vec<discord_voice::VoiceNode>,
    /// The shared voice token secret (`None`: random, single node).
    pub voice_secret: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        let node_id = format!("node-{:08x}", rand::random::<u32>());
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            data_dir: PathBuf::from("data"),
            worker_id: worker_of(&node_id),
            node_id,
            cluster: ClusterUrls::default(),
            rate_limits: RateLimitConfig::default(),
            log: "info".to_owned(),
            drain: std::time::Duration::from_secs(10),
            heartbeat_interval: GatewayConfig::default().heartbeat_interval,
            max_body: 25 * 1024 * 1024 + 64 * 1024,
            media_ip: std::net::IpAddr::from([127, 0, 0, 1]),
            voice_nodes: Vec::new(),
            voice_secret: None,
        }
    }
}

/// A settings problem, said plainly.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML file is not valid.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<toml::de::Error>,
    },
    /// A value is out of range.
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Flags over the file they name over defaults.
    pub fn from_flags(flags: Flags) -> Result<Config, ConfigError> {
        let file = match &flags.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let mut c = Config::default();
        if let Some(v) = flags.listen.or(file.listen) {
            c.listen = v;
        }
        c.public_url = flags.public_url.or(file.public_url);
        if let Some(v) = flags.data_dir.or(file.data_dir) {
            c.data_dir = v;
        }
        if let Some(v) = flags.node_id.or(file.node_id) {
            c.worker_id = worker_of(&v);
            c.node_id = v;
        }
        if let Some(v) = flags.worker_id.or(file.worker_id) {
            if v > 1023 {
                return Err(ConfigError::Invalid(format!(
                    "worker_id must be 0-1023, not {v}"
                )));
            }
            c.worker_id = v;
        }
        c.cluster = ClusterUrls {
            postgres: flags.postgres_url.or(file.postgres_url),
            scylla: flags.scylla_uri.or(file.scylla_uri),
            redis: flags.redis_url.or(file.redis_url),
            kafka: flags.kafka_brokers.or(file.kafka_brokers),
            kafka_topic: flags.kafka_topic.or(file.kafka_topic),
        };
        c.rate_limits.enabled = !(flags.no_rate_limits || file.no_rate_limits);
        if let Some(v) = flags.log.or(file.log) {
            c.log = v;
        }
        if let Some(v) = flags.drain_secs.or(file.drain_secs) {
            c.drain = std::time::Duration::from_secs(v);
        }
        if let Some(v) = flags.heartbeat_interval_ms.or(file.heartbeat_interval_ms) {
            if !(1_000..=600_000).contains(&v) {
                return Err(ConfigError::Invalid(format!(
                    "heartbeat_interval_ms must be 1000-600000, not {v}"
                )));
            }
            c.heartbeat_interval = std::time::Duration::from_millis(v);
        }
        if let Some(v) = flags.media_ip.or(file.media_ip) {
            if v.is_unspecified() {
                return Err(ConfigError::Invalid(format!(
                    "media_ip must be an address clients can reach, not {v}"
                )));
            }
            c.media_ip = v;
        }
        let nodes = if flags.voice_nodes.is_empty() {
            file.voice_nodes
        } else {
            flags.voice_nodes
        };
        for text in nodes.iter().filter(|t| !t.trim().is_empty()) {
            let node = discord_voice::VoiceNode::parse(text).ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "voice_nodes entries look like ID=ws://HOST/voice or ID=wss://HOST/voice@REGION, not {text:?}"
                ))
            })?;
            if c.voice_nodes.iter().any(|n| n.id == node.id) {
                return Err(ConfigError::Invalid(format!(
                    "voice node {:?} is listed twice",
                    node.id
                )));
            }
            c.voice_nodes.push(node);
        }
        c.voice_secret = flags.voice_secret.or(file.voice_secret);
        if let Some(secret) = &c.voice_secret
            && secret.len() < 16
        {
            return Err(ConfigError::Invalid(
                "voice_secret must be at least 16 characters".into(),
            ));
        }
        if !c.voice_nodes.is_empty() {
            if c.voice_secret.is_none() {
                return Err(ConfigError::Invalid(
                    "voice_nodes needs voice_secret: every node must sign voice tokens with the same secret".into(),
                ));
            }
            if !c.voice_nodes.iter().any(|n| n.id == c.node_id) {
                return Err(ConfigError::Invalid(format!(
                    "voice_nodes must list this node ({:?})",
                    c.node_id
                )));
            }
        }
        if let Some(url) = &c.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "public_url must start with http:// or https://, not {url:?}"
            )));
        }
        Ok(c)
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

/// A worker ID (0-1023) from a node name (FNV-1a).
fn worker_of(node_id: &str) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for b in node_id.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h % 1024) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_which_wins_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("server.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/chat\"\nnode_id = \"a\"\nredis_url = \"redis://r\"\nmedia_ip = \"10.0.0.5\"\n",
        )
        .unwrap();
        let flags = Flags::try_parse_from([
            "reference-server",
            "--config",
            path.to_str().unwrap(),
            "--listen",
            "0.0.0.0:1234",
        ])
        .unwrap();
        let c = Config::from_flags(flags).unwrap();
        assert_eq!(
            c.listen,
            "0.0.0.0:1234".parse::<std::net::SocketAddr>().unwrap()
        );
        assert_eq!(c.data_dir, PathBuf::from("/srv/chat"));
        assert_eq!(c.node_id, "a");
        assert_eq!(c.worker_id, worker_of("a"));
        assert_eq!(c.cluster.redis.as_deref(), Some("redis://r"));
        assert!(c.cluster.any());
        assert!(c.rate_limits.enabled);
        assert_eq!(c.media_ip.to_string(), "10.0.0.5");
        assert_eq!(
            c.heartbeat_interval,
            std::time::Duration::from_millis(41_250)
        );
        let flags = Flags::try_parse_from(["s", "--heartbeat-interval-ms", "2500"]).unwrap();
        let c = Config::from_flags(flags).unwrap();
        assert_eq!(
            c.heartbeat_interval,
            std::time::Duration::from_millis(2_500)
        );
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let flags = Flags::try_parse_from(["s", "--config", path.to_str().unwrap()]).unwrap();
        let err = Config::from_flags(flags).unwrap_err().to_string();
        assert!(err.contains("lisen"), "{err}");
        let flags = Flags::try_parse_from(["s", "--worker-id", "5000"]).unwrap();
        assert!(Config::from_flags(flags).is_err());
        let flags = Flags::try_parse_from(["s", "--public-url", "example.com"]).unwrap();
        assert!(Config::from_flags(flags).is_err());
        assert!(Flags::try_parse_from(["s", "--listen", "nope"]).is_err());
        let flags = Flags::try_parse_from(["s", "--media-ip", "0.0.0.0"]).unwrap();
        assert!(Config::from_flags(flags).is_err());
        for bad in ["999", "600001"] {
            let flags = Flags::try_parse_from(["s", "--heartbeat-interval-ms", bad]).unwrap();
            let err = Config::from_flags(flags).unwrap_err().to_string();
            assert!(err.contains("heartbeat_interval_ms"), "{err}");
        }
    }

    #[test]
    fn voice_nodes_need_a_secret_and_this_node() {
        let parse = |args: &[&str]| {
            let mut all = vec!["s", "--node-id", "a"];
            all.extend_from_slice(args);
            Config::from_flags(Flags::try_parse_from(all).unwrap())
        };
        let c = parse(&[
            "--voice-nodes",
            "a=ws://10.0.0.1:8080/voice,b=wss://b.example/voice@eu",
            "--voice-secret",
            "0123456789abcdef",
        ])
        .unwrap();
        assert_eq!(c.voice_nodes.len(), 2);
        assert_eq!(c.voice_nodes[1].region.as_deref(), Some("eu"));
        let without_secret = parse(&["--voice-nodes", "a=ws://h/voice"]).unwrap_err();
        assert!(without_secret.to_string().contains("voice_secret"));
        let without_self = parse(&[
            "--voice-nodes",
            "b=ws://h/voice",
            "--voice-secret",
            "0123456789abcdef",
        ])
        .unwrap_err();
        assert!(without_self.to_string().contains("this node"));
        assert!(
            parse(&[
                "--voice-nodes",
                "a=http://h/voice",
                "--voice-secret",
                "0123456789abcdef"
            ])
            .is_err()
        );
        assert!(
            parse(&[
                "--voice-nodes",
                "a=ws://h/v,a=ws://i/v",
                "--voice-secret",
                "0123456789abcdef"
            ])
            .is_err()
        );
        assert!(parse(&["--voice-secret", "short"]).is_err());
    }
}
