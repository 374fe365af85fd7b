-- Embedded schema (SQLite). Snowflakes are INTEGER (i64; our IDs use 63 bits,
-- so signed order is ID order). Documents that Discord may extend are JSON
-- text in `data`; columns exist for what queries filter or sort on.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    data          TEXT NOT NULL
);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE
);
CREATE INDEX tokens_by_user ON tokens (user_id);

CREATE TABLE applications (
    id          INTEGER PRIMARY KEY,
    owner_id    INTEGER NOT NULL,
    bot_user_id INTEGER NOT NULL UNIQUE REFERENCES users(id),
    data        TEXT NOT NULL
);

CREATE TABLE guilds (
    id       INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL,
    data     TEXT NOT NULL
);

CREATE TABLE channels (
    id       INTEGER PRIMARY KEY,
    guild_id INTEGER REFERENCES guilds(id) ON DELETE CASCADE,
    position INTEGER NOT NULL DEFAULT 0,
    data     TEXT NOT NULL
);
CREATE INDEX channels_by_guild ON channels (guild_id, position, id);

CREATE TABLE roles (
    id       INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    position INTEGER NOT NULL DEFAULT 0,
    data     TEXT NOT NULL
);
CREATE INDEX roles_by_guild ON roles (guild_id, position, id);

CREATE TABLE members (
    guild_id  INTEGER NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL,
    data      TEXT NOT NULL,
    PRIMARY KEY (guild_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_by_user ON members (user_id);

CREATE TABLE member_roles (
    guild_id INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    role_id  INTEGER NOT NULL,
    PRIMARY KEY (guild_id, user_id, role_id),
    FOREIGN KEY (guild_id, user_id) REFERENCES members (guild_id, user_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX member_roles_by_role ON member_roles (role_id);

CREATE TABLE invites (
    code       TEXT PRIMARY KEY,
    guild_id   INTEGER NOT NULL REFERENCES guilds(id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    uses       INTEGER NOT NULL DEFAULT 0,
    data       TEXT NOT NULL
);
CREATE INDEX invites_by_guild ON invites (guild_id);
CREATE INDEX invites_by_channel ON invites (channel_id);

-- Messages: the seed design's (channel_id, bucket, message_id) key, clustered
-- by (channel_id, id) so that a history page is one short range scan. (A
-- rowid table with an index inserts as fast at 10 M rows but reads each page
-- row from a different page: ten times slower pages; see docs/benchmarks.md.)
CREATE TABLE messages (
    channel_id INTEGER NOT NULL,
    id         INTEGER NOT NULL,
    bucket     INTEGER NOT NULL,
    author_id  INTEGER NOT NULL,
    nonce      TEXT,
    content    TEXT NOT NULL,
    edited_at  INTEGER,
    data       TEXT NOT NULL,
    PRIMARY KEY (channel_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX messages_nonce ON messages (channel_id, author_id, nonce) WHERE nonce IS NOT NULL;

CREATE TABLE reactions (
    channel_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    emoji      TEXT NOT NULL,
    user_id    INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, message_id, emoji, user_id)
) WITHOUT ROWID;

-- The durable event bus: one log, consumer groups keep their offset.
CREATE TABLE bus_events (
    "offset"   INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    payload    BLOB NOT NULL
);

CREATE TABLE bus_offsets (
    group_name TEXT PRIMARY KEY,
    "offset"   INTEGER NOT NULL
);
