//! The schema, as an ordered list of migrations.
//!
//! Migration `i` (0-based) brings the store from `PRAGMA user_version = i` to `i + 1`. Migrations are
//! append-only: never edit one that has shipped, add a new one instead.
//!
//! Conventions: instants are `INTEGER` unix **nanoseconds** UTC (exact round trip of
//! `DateTime<Utc>`, index-friendly, valid 1677–2262); booleans are `INTEGER` 0/1; tags are stored
//! comma-framed (`,training,best-answer,`, empty: `''`) so a tag test is one `instr`.

/// Every migration, in order. The store's version is the number applied.
pub const MIGRATIONS: &[&str] = &[
    V1,
    V2,
    V3,
    V4,
    V5,
    V6,
    V7,
    V8,
    HIGHLIGHTS,
    ENGAGEMENT,
    NUDGES,
    PREFERENCES,
    LEASES,
    SCHEDULE_WATCH,
    RUN_WORKERS,
];

/// Version 8: the link of the post an inbound message became, as the forum answered it (a
/// webhook platform returns it; so do Discourse and Matrix).
const V8: &str = "ALTER TABLE inbound_messages ADD COLUMN posted_url TEXT;";

/// Training highlights (issue 21): ambassadors' nominations, one row per (post, nominator), a
/// withdrawal kept as its instant; and the highlights each digest delivered, per person and role,
/// written with the ledger row (so a highlight is never sent to a person twice, and the CPD
/// record can list them).
const HIGHLIGHTS: &str = r#"
CREATE TABLE highlight_nominations (
    post_id       INTEGER NOT NULL,
    group_id      TEXT NOT NULL,
    nominated_by  TEXT NOT NULL,
    at            INTEGER NOT NULL,
    withdrawn     INTEGER,
    PRIMARY KEY (post_id, nominated_by)
) WITHOUT ROWID;
CREATE INDEX highlight_nominations_group ON highlight_nominations(group_id, withdrawn);

CREATE TABLE highlights_sent (
    delivery_id   INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    post_id       INTEGER NOT NULL,
    person_email  TEXT NOT NULL,
    role          TEXT NOT NULL,
    at            INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, post_id)
) WITHOUT ROWID;
CREATE INDEX highlights_sent_person ON highlights_sent(person_email, at);
"#;

/// The engagement report's facts (`store::engagement`): the group of the post an inbound
/// message became (replies by email are told from replies on the forum by it), and the
/// moments people paused, unsubscribed or opted out of a schedule (the flags in `people` keep
/// only the present). Existing schedule opt-outs become events at the time they were made.
const ENGAGEMENT: &str = r#"
ALTER TABLE inbound_messages ADD COLUMN posted_group_id TEXT;
CREATE TABLE person_events (
    id     INTEGER PRIMARY KEY,
    email  TEXT NOT NULL,
    kind   TEXT NOT NULL
        CHECK (kind = 'pause' OR kind = 'resume' OR kind = 'unsubscribe'
               OR kind = 'resubscribe' OR kind = 'schedule-optout'),
    detail TEXT NOT NULL DEFAULT '',
    at     INTEGER NOT NULL
);
CREATE INDEX person_events_at ON person_events(at);
INSERT INTO person_events (email, kind, detail, at)
    SELECT email, 'schedule-optout', schedule, created FROM schedule_optouts;
"#;

/// The ambassadors' nudges: the post each nudge item's reply token stands for (a `highlight`
/// reply nominates that post; a digest's thread token stands for the thread's opening post).
const NUDGES: &str = r#"
CREATE TABLE token_posts (
    token_sha256  BLOB PRIMARY KEY,
    post_id       INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// The preferences page (`http::prefs`, `store::preferences`): a pause that ends by itself
/// (`paused_until`, unix nanoseconds; the `pause` command's `paused` flag stays as it was), a
/// per-person language (`locale_override`, over the config's `locale`), and the groups of their
/// roles a person leaves out of their digest.
const PREFERENCES: &str = r#"
ALTER TABLE people ADD COLUMN paused_until INTEGER;
ALTER TABLE people ADD COLUMN locale_override TEXT;
CREATE TABLE group_exclusions (
    email     TEXT NOT NULL,
    group_id  TEXT NOT NULL,
    created   INTEGER NOT NULL,
    PRIMARY KEY (email, group_id)
) WITHOUT ROWID;
"#;

/// Many workers on one database (issue 22): each schedule firing once cluster-wide, keyed by
/// (schedule, period end), its people cut into slices that workers claim with a lease and mark
/// done; and a lease on each pending delivery and queued inbound message, so that a row one
/// worker is sending or processing is not taken by another until the lease has expired.
/// Instants (`lease_until`, `done`) are unix nanoseconds like every other.
const LEASES: &str = r#"
CREATE TABLE firings (
    schedule    TEXT NOT NULL,
    period_end  INTEGER NOT NULL,
    slices      INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    PRIMARY KEY (schedule, period_end)
) WITHOUT ROWID;
CREATE TABLE firing_slices (
    schedule     TEXT NOT NULL,
    period_end   INTEGER NOT NULL,
    slice        INTEGER NOT NULL,
    claimed_by   TEXT,
    lease_until  INTEGER,
    done         INTEGER,
    PRIMARY KEY (schedule, period_end, slice)
) WITHOUT ROWID;
CREATE INDEX firing_slices_open ON firing_slices(lease_until) WHERE done IS NULL;
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
ALTER TABLE deliveries ADD COLUMN lease_until INTEGER;
ALTER TABLE inbound_messages ADD COLUMN claimed_by TEXT;
ALTER TABLE inbound_messages ADD COLUMN lease_until INTEGER;
"#;

/// Firings missed while the database was unreachable (issue 22): for each schedule, the instant
/// a daemon first ran with it configured. The take-over round runs an occurrence that passed
/// without a `firings` row only when it came after this instant, so a new installation, or a
/// schedule just added, never sends the firings from before it.
const SCHEDULE_WATCH: &str = r#"
CREATE TABLE schedule_watch (
    schedule  TEXT PRIMARY KEY,
    since     INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// The worker that wrote each `runs` row (issue 22): several workers each log their part of
/// one firing, and `status` sums them per firing.
const RUN_WORKERS: &str = "ALTER TABLE runs ADD COLUMN worker TEXT;";

/// Steps SQLite cannot do alone, run after migration `version`'s SQL in its transaction.
pub(crate) fn after(version: i64, tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    match version {
        3 => super::tokens::backfill_token_hashes(tx),
        4 => super::inbound::backfill_message_id_hashes(tx),
        _ => Ok(()),
    }
}

/// Version 7: confirmation requests for mail without a token that no trusted server vouched
/// for (see `store::confirmations`), and the time of each person's last `digest now` (for its
/// once-an-hour limit). A request is found by its token's SHA-256, like a reply token.
const V7: &str = r#"
CREATE TABLE confirmations (
    id            INTEGER PRIMARY KEY,
    token         TEXT NOT NULL,
    token_sha256  BLOB NOT NULL UNIQUE,
    person_email  TEXT NOT NULL,
    action        TEXT NOT NULL CHECK (action = 'new-thread' OR action = 'command'),
    detail        TEXT NOT NULL,
    inbound_id    INTEGER NOT NULL,
    created       INTEGER NOT NULL,
    expires       INTEGER NOT NULL,
    done          INTEGER
);
CREATE INDEX confirmations_person_created ON confirmations(person_email, created);
CREATE INDEX confirmations_expires ON confirmations(expires);

CREATE TABLE digest_now_requests (
    email  TEXT PRIMARY KEY,
    at     INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// Version 6: used one-click unsubscribe tokens (the nonce is the key; instants are unix
/// seconds, as in the token). `IF NOT EXISTS`: the HTTP endpoint created this table itself
/// before it was a migration, so older files may have it already.
const V6: &str = r#"
CREATE TABLE IF NOT EXISTS unsubscribe_tokens_used (
    nonce      TEXT PRIMARY KEY,
    email      TEXT NOT NULL,
    schedule   TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    used_at    INTEGER NOT NULL
);
"#;

/// Version 5: the inbound status check is written as equalities joined by `OR` instead of
/// `status IN (…)`. SQLite evaluates a `CHECK (x IN (list))` by building a temporary b-tree of
/// the list on every insert and every update of the row: about 1.4 µs a statement, most of
/// the cost of storing a message or recording where it ended. The `OR` form is a few
/// comparisons and admits exactly the same values. The table is small (the raw bytes are in
/// `inbound_raw` since version 4), so rebuilding it is cheap.
const V5: &str = r#"
CREATE TABLE inbound_rebuilt (
    id                INTEGER PRIMARY KEY,
    message_id        TEXT,
    message_id_hash   INTEGER,
    sha256            TEXT NOT NULL,
    received          INTEGER NOT NULL,
    source            TEXT NOT NULL,
    status            TEXT NOT NULL
        CHECK (status = 'queued' OR status = 'posted' OR status = 'answered'
               OR status = 'ignored' OR status = 'failed'),
    reason            TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt      INTEGER,
    posted_remote_id  TEXT
);
INSERT INTO inbound_rebuilt (id, message_id, message_id_hash, sha256, received, source, status,
                             reason, attempts, next_attempt, posted_remote_id)
    SELECT id, message_id, message_id_hash, sha256, received, source, status, reason, attempts,
           next_attempt, posted_remote_id
    FROM inbound_messages;
DROP TABLE inbound_messages;
ALTER TABLE inbound_rebuilt RENAME TO inbound_messages;
CREATE INDEX inbound_message_id_hash ON inbound_messages(message_id_hash)
    WHERE message_id_hash IS NOT NULL;
CREATE INDEX inbound_sha256_without_message_id ON inbound_messages(sha256)
    WHERE message_id IS NULL;
CREATE INDEX inbound_queued ON inbound_messages(id) WHERE status = 'queued';
"#;

/// Version 4: inbound messages are rebuilt for a cheap write path.
///
/// - The raw bytes move to `inbound_raw`, written once: recording where a message ended then
///   rewrites only its small status row, not the pages holding its body.
/// - Duplicates are found by Message-ID, and by SHA-256 only among messages without one (the
///   same bytes carry the same Message-ID), so each stored message adds one random index
///   entry instead of two. The SHA-256 is still kept for every message. The Message-ID index
///   holds a 64-bit hash of the Message-ID (`message_id_hash`, filled for older rows in
///   [`after`]), not the text: Message-IDs arrive in no order, and a small index takes those
///   random inserts on far fewer pages.
/// - The status index becomes a partial index of the queued messages only: small and hot,
///   instead of growing with every message ever received.
const V4: &str = r#"
CREATE TABLE inbound_rebuilt (
    id                INTEGER PRIMARY KEY,
    message_id        TEXT,
    message_id_hash   INTEGER,
    sha256            TEXT NOT NULL,
    received          INTEGER NOT NULL,
    source            TEXT NOT NULL,
    status            TEXT NOT NULL
        CHECK (status IN ('queued', 'posted', 'answered', 'ignored', 'failed')),
    reason            TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt      INTEGER,
    posted_remote_id  TEXT
);
INSERT INTO inbound_rebuilt (id, message_id, sha256, received, source, status, reason, attempts,
                             next_attempt, posted_remote_id)
    SELECT id, message_id, sha256, received, source, status, reason, attempts, next_attempt,
           posted_remote_id
    FROM inbound_messages;
CREATE TABLE inbound_raw (
    id   INTEGER PRIMARY KEY,
    raw  BLOB NOT NULL
);
INSERT INTO inbound_raw (id, raw) SELECT id, raw FROM inbound_messages;
DROP TABLE inbound_messages;
ALTER TABLE inbound_rebuilt RENAME TO inbound_messages;
CREATE INDEX inbound_message_id_hash ON inbound_messages(message_id_hash)
    WHERE message_id_hash IS NOT NULL;
CREATE INDEX inbound_sha256_without_message_id ON inbound_messages(sha256)
    WHERE message_id IS NULL;
CREATE INDEX inbound_queued ON inbound_messages(id) WHERE status = 'queued';
"#;

/// Version 3: reply tokens are looked up by the SHA-256 of the token (then the stored token is
/// compared with the presented one in constant time), so no SQL compares secret text. Existing
/// rows get their hash in [`after`].
const V3: &str = r#"
ALTER TABLE reply_tokens ADD COLUMN token_sha256 BLOB;
CREATE UNIQUE INDEX reply_tokens_sha256 ON reply_tokens(token_sha256);
"#;

/// Version 1: the whole first schema.
const V1: &str = r#"
CREATE TABLE groups (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    forum   TEXT NOT NULL
);

CREATE TABLE threads (
    id          INTEGER PRIMARY KEY,
    group_id    TEXT NOT NULL REFERENCES groups(id),
    remote_id   TEXT NOT NULL,
    title       TEXT NOT NULL,
    url         TEXT NOT NULL,
    created     INTEGER NOT NULL,
    UNIQUE (group_id, remote_id)
);

CREATE TABLE posts (
    id            INTEGER PRIMARY KEY,
    thread_id     INTEGER NOT NULL REFERENCES threads(id),
    group_id      TEXT NOT NULL,
    remote_id     TEXT NOT NULL,
    author_email  TEXT NOT NULL,
    author_name   TEXT NOT NULL,
    created       INTEGER NOT NULL,
    body          TEXT NOT NULL,
    body_format   TEXT NOT NULL,
    tags          TEXT NOT NULL DEFAULT '',
    likes         INTEGER NOT NULL DEFAULT 0,
    reply_count   INTEGER NOT NULL DEFAULT 0,
    best_answer   INTEGER NOT NULL DEFAULT 0,
    url           TEXT NOT NULL,
    UNIQUE (group_id, remote_id)
);
CREATE INDEX posts_created ON posts(created);
CREATE INDEX posts_group_created ON posts(group_id, created);
CREATE INDEX posts_thread ON posts(thread_id);

CREATE TABLE cursors (
    group_id       TEXT PRIMARY KEY,
    cursor         TEXT,
    last_success   INTEGER,
    last_error     TEXT,
    last_error_at  INTEGER
);

CREATE TABLE people (
    email               TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    time_zone           TEXT NOT NULL,
    locale              TEXT NOT NULL,
    frequency           TEXT NOT NULL,
    frequency_override  TEXT,
    in_config           INTEGER NOT NULL DEFAULT 1,
    paused              INTEGER NOT NULL DEFAULT 0,
    unsubscribed        INTEGER NOT NULL DEFAULT 0,
    bouncing            INTEGER NOT NULL DEFAULT 0,
    bounce_count        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE person_roles (
    email  TEXT NOT NULL REFERENCES people(email) ON DELETE CASCADE,
    role   TEXT NOT NULL,
    PRIMARY KEY (email, role)
) WITHOUT ROWID;

CREATE TABLE deliveries (
    id            INTEGER PRIMARY KEY,
    person_email  TEXT NOT NULL,
    schedule      TEXT NOT NULL,
    period_end    INTEGER NOT NULL,
    message_id    TEXT NOT NULL UNIQUE,
    raw           BLOB NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    error         TEXT,
    created       INTEGER NOT NULL,
    sent_at       INTEGER,
    attempts      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (person_email, schedule, period_end)
);
CREATE INDEX deliveries_status ON deliveries(status);
CREATE INDEX deliveries_period ON deliveries(period_end);

CREATE TABLE delivery_posts (
    delivery_id  INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    post_id      INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, post_id)
) WITHOUT ROWID;

CREATE TABLE reply_tokens (
    token         TEXT PRIMARY KEY,
    person_email  TEXT NOT NULL,
    thread_id     INTEGER,
    kind          TEXT NOT NULL CHECK (kind IN ('reply', 'command')),
    delivery_id   INTEGER REFERENCES deliveries(id) ON DELETE CASCADE,
    expires       INTEGER NOT NULL,
    created       INTEGER NOT NULL
);
CREATE INDEX reply_tokens_delivery ON reply_tokens(delivery_id);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    schedule    TEXT NOT NULL,
    period_end  INTEGER NOT NULL,
    started     INTEGER NOT NULL,
    finished    INTEGER,
    sent        INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_schedule ON runs(schedule, id);

CREATE TABLE inbound_messages (
    id                INTEGER PRIMARY KEY,
    message_id        TEXT,
    sha256            TEXT NOT NULL UNIQUE,
    raw               BLOB NOT NULL,
    received          INTEGER NOT NULL,
    source            TEXT NOT NULL,
    status            TEXT NOT NULL
        CHECK (status IN ('queued', 'posted', 'answered', 'ignored', 'failed')),
    reason            TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt      INTEGER,
    posted_remote_id  TEXT
);
CREATE INDEX inbound_message_id ON inbound_messages(message_id);
CREATE INDEX inbound_status ON inbound_messages(status);

CREATE TABLE answers_sent (
    address  TEXT NOT NULL,
    reason   TEXT NOT NULL,
    day      TEXT NOT NULL,
    PRIMARY KEY (address, reason, day)
) WITHOUT ROWID;

CREATE TABLE local_threads (
    id          INTEGER PRIMARY KEY,
    group_id    TEXT NOT NULL,
    title       TEXT NOT NULL,
    created     INTEGER NOT NULL,
    import_key  TEXT
);
CREATE INDEX local_threads_group ON local_threads(group_id);
CREATE UNIQUE INDEX local_threads_import_key ON local_threads(group_id, import_key)
    WHERE import_key IS NOT NULL;

CREATE TABLE local_posts (
    id               INTEGER PRIMARY KEY,
    thread_id        INTEGER NOT NULL REFERENCES local_threads(id),
    group_id         TEXT NOT NULL,
    author_email     TEXT NOT NULL,
    author_name      TEXT NOT NULL,
    created          INTEGER NOT NULL,
    body             TEXT NOT NULL,
    tags             TEXT NOT NULL DEFAULT '',
    likes            INTEGER NOT NULL DEFAULT 0,
    best_answer      INTEGER NOT NULL DEFAULT 0,
    idempotency_key  TEXT UNIQUE
);
CREATE INDEX local_posts_group ON local_posts(group_id, id);
CREATE INDEX local_posts_thread ON local_posts(thread_id, id);
"#;

/// Version 2: opt-outs of one schedule (a one-click unsubscribe names the schedule its digest
/// came from; the person keeps getting their other schedules' digests).
const V2: &str = r#"
CREATE TABLE schedule_optouts (
    email     TEXT NOT NULL,
    schedule  TEXT NOT NULL,
    created   INTEGER NOT NULL,
    PRIMARY KEY (email, schedule)
) WITHOUT ROWID;
"#;
