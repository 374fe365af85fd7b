//! `GET /gateway` and `GET /gateway/bot`: where to connect.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use discord_proto::rest::{GatewayBot, GatewayInfo, SessionStartLimit};

use super::ok;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/gateway", get(info))
        .route("/gateway/bot", get(bot))
}

async fn info(State(state): State<AppState>) -> Response {
    ok(&GatewayInfo {
        url: state.gateway_url.clone(),
    })
}

/// The guilds-per-shard figure Discord recommends sharding by.
const GUILDS_PER_SHARD: usize = 1000;

async fn bot(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    let guilds = state
        .stores
        .guilds
        .guild_ids_of_user(auth.id())
        .await?
        .len();
    let shards = u32::try_from(guilds.div_ceil(GUILDS_PER_SHARD).max(1)).unwrap_or(u32::MAX);
    Ok(ok(&GatewayBot {
        url: state.gateway_url.clone(),
        shards,
        session_start_limit: SessionStartLimit {
            total: 1000,
            remaining: 1000,
            reset_after: 86_400_000,
            max_concurrency: 1,
        },
    }))
}
