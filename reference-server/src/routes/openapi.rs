//! The OpenAPI 3.1 document of the REST surface, served at
//! `/api/v10/openapi.json`. It is built from the table below; a test checks
//! that every route the router serves is in it and that everything in it is
//! served.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// One operation: method, path (relative to `/api/v10`), tag, summary,
/// success status, response schema, request schema.
type Op = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u16,
    Option<&'static str>,
    Option<&'static str>,
);

#[rustfmt::skip]
const OPS: &[Op] = &[
    ("post", "/auth/register", "Accounts", "Create an account", 201, Some("TokenReply"), Some("Credentials")),
    ("post", "/auth/login", "Accounts", "Log in", 200, Some("TokenReply"), Some("Credentials")),
    ("post", "/applications", "Applications", "Create an application with a bot user", 201, Some("Application"), Some("Object")),
    ("get", "/applications/@me", "Applications", "The bot's own application", 200, Some("Application"), None),
    ("get", "/oauth2/applications/@me", "Applications", "The bot's own application (OAuth2 path)", 200, Some("Application"), None),
    ("get", "/applications/{application_id}", "Applications", "An application you own", 200, Some("Application"), None),
    ("post", "/applications/{application_id}/bot/reset", "Applications", "Reset the bot's token", 200, Some("Object"), None),
    ("get", "/users/@me", "Users", "The current user", 200, Some("User"), None),
    ("patch", "/users/@me", "Users", "Modify the current user", 200, Some("User"), Some("Object")),
    ("get", "/users/@me/guilds", "Users", "The current user's guilds", 200, Some("Array"), None),
    ("delete", "/users/@me/guilds/{guild_id}", "Users", "Leave a guild", 204, None, None),
    ("get", "/users/{user_id}", "Users", "A user", 200, Some("User"), None),
    ("post", "/guilds", "Guilds", "Create a guild with @everyone, #general and General", 201, Some("Guild"), Some("Object")),
    ("get", "/guilds/{guild_id}", "Guilds", "A guild", 200, Some("Guild"), None),
    ("patch", "/guilds/{guild_id}", "Guilds", "Modify a guild (MANAGE_GUILD)", 200, Some("Guild"), Some("Object")),
    ("delete", "/guilds/{guild_id}", "Guilds", "Delete a guild (owner)", 204, None, None),
    ("get", "/guilds/{guild_id}/channels", "Channels", "A guild's channels", 200, Some("Array"), None),
    ("post", "/guilds/{guild_id}/channels", "Channels", "Create a channel (MANAGE_CHANNELS)", 201, Some("Channel"), Some("Object")),
    ("patch", "/guilds/{guild_id}/channels", "Channels", "Reorder channels (MANAGE_CHANNELS)", 204, None, Some("Array")),
    ("get", "/guilds/{guild_id}/members", "Members", "List members (limit 1-1000, after)", 200, Some("Array"), None),
    ("get", "/guilds/{guild_id}/members/search", "Members", "Members whose username or nickname starts with `query`", 200, Some("Array"), None),
    ("patch", "/guilds/{guild_id}/members/@me", "Members", "Change your nickname", 200, Some("Member"), Some("Object")),
    ("get", "/guilds/{guild_id}/members/{user_id}", "Members", "A member", 200, Some("Member"), None),
    ("put", "/guilds/{guild_id}/members/{user_id}", "Members", "Add a bot user (owner or MANAGE_GUILD)", 201, Some("Member"), None),
    ("patch", "/guilds/{guild_id}/members/{user_id}", "Members", "Modify a member", 200, Some("Member"), Some("Object")),
    ("delete", "/guilds/{guild_id}/members/{user_id}", "Members", "Kick a member (KICK_MEMBERS)", 204, None, None),
    ("put", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", "Members", "Give a role (MANAGE_ROLES)", 204, None, None),
    ("delete", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", "Members", "Take a role (MANAGE_ROLES)", 204, None, None),
    ("get", "/guilds/{guild_id}/roles", "Roles", "A guild's roles", 200, Some("Array"), None),
    ("post", "/guilds/{guild_id}/roles", "Roles", "Create a role (MANAGE_ROLES)", 200, Some("Role"), Some("Object")),
    ("patch", "/guilds/{guild_id}/roles", "Roles", "Reorder roles (MANAGE_ROLES)", 200, Some("Array"), Some("Array")),
    ("get", "/guilds/{guild_id}/roles/{role_id}", "Roles", "A role", 200, Some("Role"), None),
    ("patch", "/guilds/{guild_id}/roles/{role_id}", "Roles", "Modify a role (MANAGE_ROLES)", 200, Some("Role"), Some("Object")),
    ("delete", "/guilds/{guild_id}/roles/{role_id}", "Roles", "Delete a role (MANAGE_ROLES)", 204, None, None),
    ("get", "/guilds/{guild_id}/invites", "Invites", "A guild's invites (MANAGE_GUILD)", 200, Some("Array"), None),
    ("get", "/channels/{channel_id}", "Channels", "A channel", 200, Some("Channel"), None),
    ("patch", "/channels/{channel_id}", "Channels", "Modify a channel (MANAGE_CHANNELS)", 200, Some("Channel"), Some("Object")),
    ("delete", "/channels/{channel_id}", "Channels", "Delete a channel (MANAGE_CHANNELS)", 200, Some("Channel"), None),
    ("put", "/channels/{channel_id}/permissions/{overwrite_id}", "Channels", "Set a permission overwrite (MANAGE_ROLES)", 204, None, Some("Object")),
    ("delete", "/channels/{channel_id}/permissions/{overwrite_id}", "Channels", "Remove a permission overwrite (MANAGE_ROLES)", 204, None, None),
    ("post", "/channels/{channel_id}/typing", "Channels", "Start typing", 204, None, None),
    ("get", "/channels/{channel_id}/invites", "Invites", "A channel's invites (MANAGE_CHANNELS)", 200, Some("Array"), None),
    ("post", "/channels/{channel_id}/invites", "Invites", "Create an invite", 200, Some("Invite"), Some("Object")),
    ("get", "/channels/{channel_id}/messages", "Messages", "History, newest first (limit, before, after, around)", 200, Some("Array"), None),
    ("post", "/channels/{channel_id}/messages", "Messages", "Send a message (JSON or multipart with files)", 200, Some("Message"), Some("Object")),
    ("post", "/channels/{channel_id}/messages/bulk-delete", "Messages", "Delete 2-100 messages (MANAGE_MESSAGES)", 204, None, Some("Object")),
    ("get", "/channels/{channel_id}/messages/{message_id}", "Messages", "A message", 200, Some("Message"), None),
    ("patch", "/channels/{channel_id}/messages/{message_id}", "Messages", "Edit a message", 200, Some("Message"), Some("Object")),
    ("delete", "/channels/{channel_id}/messages/{message_id}", "Messages", "Delete a message", 204, None, None),
    ("get", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}", "Reactions", "Users who reacted", 200, Some("Array"), None),
    ("put", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", "Reactions", "React", 204, None, None),
    ("delete", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", "Reactions", "Remove your reaction", 204, None, None),
    ("delete", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/{user_id}", "Reactions", "Remove someone's reaction (MANAGE_MESSAGES)", 204, None, None),
    ("get", "/invites/{code}", "Invites", "View an invite (no token needed)", 200, Some("Invite"), None),
    ("post", "/invites/{code}", "Invites", "Join a guild with an invite", 200, Some("Invite"), None),
    ("delete", "/invites/{code}", "Invites", "Delete an invite", 200, Some("Invite"), None),
    ("get", "/gateway", "Gateway", "The gateway URL", 200, Some("Object"), None),
    ("get", "/gateway/bot", "Gateway", "The gateway URL, shard count and session start limit", 200, Some("Object"), None),
    ("get", "/openapi.json", "Meta", "This document", 200, Some("Object"), None),
];

/// Schemas: loose objects naming the fields clients rely on (the full
/// shapes are Discord's, documented in discord-api-docs).
fn schemas() -> Value {
    let obj = |required: &[&str]| {
        let props: Map<String, Value> = required
            .iter()
            .map(|k| ((*k).to_owned(), json!({})))
            .collect();
        json!({"type": "object", "required": required, "properties": props})
    };
    json!({
        "Object": {"type": "object"},
        "Array": {"type": "array", "items": {}},
        "Error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "errors": {"type": "object"}
            }
        },
        "RateLimited": {
            "type": "object",
            "required": ["message", "retry_after", "global"],
            "properties": {
                "message": {"type": "string"},
                "retry_after": {"type": "number"},
                "global": {"type": "boolean"}
            }
        },
        "Credentials": {
            "type": "object",
            "required": ["username", "password"],
            "properties": {"username": {"type": "string"}, "password": {"type": "string"}}
        },
        "TokenReply": obj(&["token", "user"]),
        "User": obj(&["id", "username", "discriminator", "global_name", "avatar"]),
        "Application": obj(&["id", "name", "bot", "owner", "flags"]),
        "Guild": obj(&["id", "name", "owner_id", "roles", "features"]),
        "Channel": obj(&["id", "type"]),
        "Member": obj(&["user", "roles", "joined_at", "deaf", "mute"]),
        "Role": obj(&["id", "name", "permissions", "position"]),
        "Message": obj(&["id", "channel_id", "author", "content", "timestamp", "attachments", "embeds", "mentions"]),
        "Invite": obj(&["code", "channel"]),
    })
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn error_response(description: &str, schema: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema_ref(schema)}}})
}

/// Builds the document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for &(method, path, tag, summary, status, response, request) in OPS {
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut responses = Map::new();
        let ok = match response {
            Some(r) => {
                json!({"description": "Success", "content": {"application/json": {"schema": schema_ref(r)}}})
            }
            None => json!({"description": "Success, no content"}),
        };
        responses.insert(status.to_string(), ok);
        responses.insert(
            "400".into(),
            error_response(
                "Invalid request (50035 with field errors, 50109 bad JSON)",
                "Error",
            ),
        );
        responses.insert(
            "401".into(),
            error_response("Missing or invalid token", "Error"),
        );
        responses.insert(
            "403".into(),
            error_response("50001 Missing Access or 50013 Missing Permissions", "Error"),
        );
        responses.insert(
            "404".into(),
            error_response("Unknown resource (100xx codes)", "Error"),
        );
        responses.insert(
            "429".into(),
            error_response(
                "Rate limited; see X-RateLimit-* and Retry-After",
                "RateLimited",
            ),
        );
        let mut op = json!({
            "tags": [tag],
            "summary": summary,
            "operationId": format!("{method}{}", path.replace(['/', '{', '}', '@', '.', '-'], "_")),
            "parameters": params,
            "responses": responses,
        });
        if let Some(req) = request {
            op["requestBody"] =
                json!({"content": {"application/json": {"schema": schema_ref(req)}}});
        }
        if matches!(
            path,
            "/auth/register" | "/auth/login" | "/gateway" | "/openapi.json"
        ) || (path == "/invites/{code}" && method == "get")
        {
            op["security"] = json!([]);
        }
        let entry = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        entry[method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "discord-rs reference server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Discord API v10-compatible REST surface. Shapes, status codes and error bodies follow Discord's documentation; /auth and /applications are this server's own."
        },
        "servers": [{"url": "/api/v10"}, {"url": "/api/v9"}],
        "security": [{"token": []}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`Bot <token>` for bots, the bare token for user accounts"
                }
            }
        }
    })
}

pub(super) async fn serve() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let body = DOC.get_or_init(|| document().to_string()).clone();
    ([(CONTENT_TYPE, "application/json")], body).into_response()
}
