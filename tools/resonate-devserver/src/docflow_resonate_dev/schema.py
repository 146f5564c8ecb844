"""SQLite layout of the dev server's store.

Every lookup the engine makes has an index, so no operation scans all promises or tasks:
by id (primary keys), by due deadline (``promises.expires_at``, ``tasks.timer_at``), by branch
(preload), by awaited promise and by awaiting task (``awaiters``), by listener (``listeners``),
tasks by state (``task.search``).
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 3
# Stores of an older version this server brings up to date: version -> its statements.
MIGRATIONS = {
    2: [
        "ALTER TABLE schedules ADD COLUMN next_run_at INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE schedules ADD COLUMN last_run_at INTEGER",
    ],
}

DDL = """
CREATE TABLE IF NOT EXISTS promises (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order: preload and search order
    id         TEXT NOT NULL UNIQUE,
    state      TEXT NOT NULL,
    param      TEXT NOT NULL,                      -- JSON
    value      TEXT NOT NULL,                      -- JSON
    tags       TEXT NOT NULL,                      -- JSON object of strings
    branch     TEXT,                               -- tags["resonate:branch"]
    parent     TEXT,                               -- tags["resonate:parent"]: children lookup
    target     TEXT,                               -- tags["resonate:target"]
    timeout_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    settled_at INTEGER,
    expires_at INTEGER                             -- when the sweep times it out; NULL: never
);
CREATE INDEX IF NOT EXISTS promises_by_branch ON promises(branch) WHERE branch IS NOT NULL;
CREATE INDEX IF NOT EXISTS promises_by_parent ON promises(parent, id) WHERE parent IS NOT NULL;
CREATE INDEX IF NOT EXISTS promises_by_expiry ON promises(expires_at)
    WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS promises_by_state ON promises(state, id);

CREATE TABLE IF NOT EXISTS tasks (
    id         TEXT PRIMARY KEY,                   -- the id of the promise it executes
    state      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    pid        TEXT,
    ttl        INTEGER,
    timer_kind INTEGER,                            -- 0: re-send while pending, 1: lease expiry
    timer_at   INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tasks_by_timer ON tasks(timer_at) WHERE timer_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks(state, id);  -- task.search by state

CREATE TABLE IF NOT EXISTS task_resumes (
    task_id    TEXT NOT NULL,
    promise_id TEXT NOT NULL,
    PRIMARY KEY (task_id, promise_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS awaiters (
    promise_id TEXT NOT NULL,                      -- the awaited promise
    task_id    TEXT NOT NULL,                      -- the suspended task waiting for it
    PRIMARY KEY (promise_id, task_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS awaiters_by_task ON awaiters(task_id);

CREATE TABLE IF NOT EXISTS listeners (
    promise_id TEXT NOT NULL,
    address    TEXT NOT NULL,
    PRIMARY KEY (promise_id, address)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS schedules (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,             -- search order
    cron            TEXT NOT NULL,
    promise_id      TEXT NOT NULL,                    -- a template: {{.id}}, {{.timestamp}}
    promise_timeout INTEGER NOT NULL,
    promise_param   TEXT NOT NULL,
    promise_tags    TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    next_run_at     INTEGER NOT NULL DEFAULT 0,       -- the slot it fires next
    last_run_at     INTEGER
);
CREATE INDEX IF NOT EXISTS schedules_by_next_run ON schedules(next_run_at);

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""


def connect(path: str) -> sqlite3.Connection:
    """Open (creating if needed) a store at ``path`` (``:memory:`` for a throwaway one).

    WAL with ``synchronous=NORMAL``: every committed request survives a ``kill -9`` of the
    server (the WAL is in the OS page cache); only an OS crash may lose the last commits.
    """
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA busy_timeout=5000")
    # Keep the hot part of a large store in memory: index pages stay cached as the store grows.
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA temp_store=MEMORY")
    has_meta = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
    stored = (
        conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if has_meta
        else None
    )
    if stored is not None and int(stored[0]) in MIGRATIONS:
        for statement in MIGRATIONS[int(stored[0])]:
            conn.execute(statement)
        version = str(SCHEMA_VERSION)
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
        stored = (version,)
    if stored is not None and int(stored[0]) != SCHEMA_VERSION:
        msg = (
            f"store {path} has schema version {stored[0]}, this server needs {SCHEMA_VERSION}: "
            "move it aside (a dev store holds nothing that outlives its jobs) and start again"
        )
        raise RuntimeError(msg)
    conn.executescript(DDL)
    if stored is None:
        conn.execute(
            "INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )
    return conn
