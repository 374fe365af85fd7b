//! Cross-crate end-to-end tests live in `tests/tests/`; they drive an
//! in-process reference server with real clients:
//!
//! - `twilight.rs`: the published twilight-http and twilight-gateway
//!   crates, unmodified, as a bot against the server;
//! - `serenity.rs`: serenity 0.12, unmodified;
//! - `compat.rs`: stock discord.py and discord.js bots (scripts in
//!   `compat/`);
//! - `cluster.rs`: two server nodes in cluster mode (PostgreSQL + Redis)
//!   delivering each other's events and handing sessions over.
