-- Cluster schema (PostgreSQL). Snowflakes are BIGINT (i64; our IDs use 63 bits,
-- so signed order is ID order). Documents that Discord may extend are JSON
-- text in `data`; columns exist for what queries filter or sort on.

CREATE TABLE users (
    id            BIGINT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    data          TEXT NOT NULL
);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE
);
CREATE INDEX tokens_by_user ON tokens (user_id);

CREATE TABLE applications (
    id          BIGINT PRIMARY KEY,
    owner_id    BIGINT NOT NULL,
    bot_user_id BIGINT NOT NULL UNIQUE REFERENCES users(id),
    data        TEXT NOT NULL
);

CREATE TABLE guilds (
    id       BIGINT PRIMARY KEY,
    owner_id BIGINT NOT NULL,
    data     TEXT NOT NULL
);

CREATE TABLE channels (
    id       BIGINT PRIMARY KEY,
    guild_id BIGINT REFERENCES guilds(id) ON DELETE CASCADE,
    position BIGINT NOT NULL DEFAULT 0,
    data     TEXT NOT NULL
);
CREATE INDEX channels_by_guild ON channels (guild_id, position, id);

CREATE TABLE roles (
    id       BIGINT PRIMARY KEY,
    guild_id BIGINT NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    position BIGINT NOT NULL DEFAULT 0,
    data     TEXT NOT NULL
);
CREATE INDEX roles_by_guild ON roles (guild_id, position, id);

CREATE TABLE members (
    guild_id  BIGINT NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    user_id   BIGINT NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
CREATE INDEX members_by_user ON members (user_id);

CREATE TABLE member_roles (
    guild_id BIGINT NOT NULL,
    user_id  BIGINT NOT NULL,
    role_id  BIGINT NOT NULL,
    PRIMARY KEY (guild_id, user_id, role_id),
    FOREIGN KEY (guild_id, user_id) REFERENCES members (guild_id, user_id) ON DELETE CASCADE
);
CREATE INDEX member_roles_by_role ON member_roles (role_id);

CREATE TABLE invites (
    code       TEXT PRIMARY KEY,
    guild_id   BIGINT NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    uses       BIGINT NOT NULL DEFAULT 0,
    data       TEXT NOT NULL
);
CREATE INDEX invites_by_guild ON invites (guild_id);
CREATE INDEX invites_by_channel ON invites (channel_id);

-- Messages: the seed design's (channel_id, bucket, message_id) key; the
-- primary key (channel_id, id) serves history directly, so `bucket` is informational
-- here (ScyllaDB partitions by it).
CREATE TABLE messages (
    channel_id BIGINT NOT NULL,
    id         BIGINT NOT NULL,
    bucket     BIGINT NOT NULL,
    author_id  BIGINT NOT NULL,
    nonce      TEXT,
    content    TEXT NOT NULL,
    edited_at  BIGINT,
    data       TEXT NOT NULL,
    PRIMARY KEY (channel_id, id)
);
CREATE UNIQUE INDEX messages_nonce ON messages (channel_id, author_id, nonce) WHERE nonce IS NOT NULL;

CREATE TABLE reactions (
    channel_id BIGINT NOT NULL,
    message_id BIGINT NOT NULL,
    emoji      TEXT NOT NULL,
    user_id    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, message_id, emoji, user_id)
);

-- The durable event bus: one log, consumer groups keep their offset.
CREATE TABLE bus_events (
    "offset"   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    payload    BYTEA NOT NULL
);

CREATE TABLE bus_offsets (
    group_name TEXT PRIMARY KEY,
    "offset"   BIGINT NOT NULL
);
