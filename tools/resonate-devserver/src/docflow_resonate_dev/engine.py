"""The Resonate server's state machine, persisted in SQLite.

Semantics follow the reference the SDK ships (``resonate.connections.local.ServerState``), which
the differential test drives side by side with this engine; ``promise.search`` and a top-level
``promise.register_callback`` follow the real server (resonatehq/resonate). Unlike the
reference, nothing here scans the whole store: every lookup goes through an index
(see :mod:`.schema`), so a request costs the same with 100k promises as with ten.

The engine is synchronous and single-threaded on purpose: the HTTP server calls it from one
event loop, so requests are applied one at a time, each in its own transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from . import fields as f
from .addresses import INVALID_LISTENER, INVALID_TARGET, is_valid_address
from .crons import InvalidCron, next_run
from .fields import ProtocolError
from .schema import connect

#: How long a pending task waits before its execute message is sent again (ms).
PENDING_RETRY_TTL = 30_000
#: Lease length when a request names none (ms).
DEFAULT_TTL = 60_000
SEARCH_DEFAULT_LIMIT = 100
SCHEDULE_SEARCH_DEFAULT_LIMIT = 10
SEARCH_MAX_LIMIT = 1000
TASK_STATES = ("pending", "acquired", "suspended", "halted", "fulfilled")

TIMER_RETRY = 0
TIMER_LEASE = 1


_PROMISE_COLUMNS = "id, state, param, value, tags, timeout_at, created_at, settled_at"


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass(slots=True)
class Promise:
    id: str
    state: str
    param: Any
    value: Any
    tags: dict[str, str]
    timeout_at: int
    created_at: int
    settled_at: int | None

    def record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "param": self.param,
            "value": self.value,
            "tags": self.tags,
            "timeoutAt": self.timeout_at,
            "createdAt": self.created_at,
        }
        if self.settled_at is not None:
            rec["settledAt"] = self.settled_at
        return rec


@dataclass(slots=True)
class Task:
    id: str
    state: str
    version: int
    pid: str | None = None
    ttl: int | None = None
    timer_kind: int | None = None
    timer_at: int | None = None

    def record(self) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "id": self.id,
            "state": self.state,
            "version": self.version,
            "promiseId": self.id,
        }
        if self.pid is not None:
            rec["pid"] = self.pid
        if self.ttl is not None:
            rec["ttl"] = self.ttl
        return rec

    def set_timer(self, kind: int, at: int) -> None:
        self.timer_kind, self.timer_at = kind, at

    def clear_timer(self) -> None:
        self.timer_kind, self.timer_at = None, None


@dataclass(slots=True)
class Outgoing:
    """A message to deliver after the request commits: ``execute`` or ``unblock``."""

    address: str
    message: dict[str, Any]


def timeout_state(tags: dict[str, str]) -> str:
    """A timer promise resolves at its deadline; any other promise times out."""
    return "resolved" if tags.get("resonate:timer") == "true" else "rejected_timedout"


class Engine:
    def __init__(self, path: str = ":memory:", retry_timeout: int = PENDING_RETRY_TTL) -> None:
        self.db: sqlite3.Connection = connect(path)
        self.retry_timeout = retry_timeout
        self.outgoing: list[Outgoing] = []
        self.schedule_promises = 0  # slots fired since start (the real server's metric)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            # SQLite may already have rolled back (I/O error, full disk): roll back only if not,
            # so the next request starts clean instead of "transaction within a transaction".
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            self.outgoing = []
            raise

    def ping(self) -> None:
        self.db.execute("SELECT 1 FROM meta LIMIT 1").fetchone()

    # ------------------------------------------------------------------ entry points

    def apply(self, now: int, req: Any) -> dict[str, Any]:
        """Apply one flat request (``kind``, ``corrId`` and the data fields) and answer it.

        Messages to deliver are left in :attr:`outgoing`, to be sent once the caller has
        the answer. Raises :class:`ProtocolError` for a request the server refuses outright.
        """
        self.outgoing = []
        kind = f.string(req, "kind")
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise ProtocolError(400, f"Unknown operation: {kind}")
        _check_addresses(kind, req)
        with self._transaction():
            self._auto_timeout_touched(now, kind, req)
            resp: dict[str, Any] = handler(self, now, f.get(req, "corrId"), req)
        return resp

    def tick(self, now: int) -> list[Outgoing]:
        """Time out due promises, expire lapsed leases, re-send pending tasks, fire schedules."""
        self.outgoing = []
        with self._transaction():
            self._tick(now)
            self._fire_schedules(now)
        return self.outgoing

    # ------------------------------------------------------------------ storage

    def _promise(self, promise_id: str) -> Promise | None:
        row = self.db.execute(
            "SELECT id, state, param, value, tags, timeout_at, created_at, settled_at"
            " FROM promises WHERE id = ?",
            (promise_id,),
        ).fetchone()
        return None if row is None else _promise_from_row(row)

    def _insert_promise(self, p: Promise, expires_at: int | None) -> None:
        self.db.execute(
            "INSERT INTO promises(id, state, param, value, tags, branch, parent, target,"
            " timeout_at, created_at, settled_at, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                p.id,
                p.state,
                _dump(p.param),
                _dump(p.value),
                _dump(p.tags),
                p.tags.get("resonate:branch"),
                p.tags.get("resonate:parent"),
                p.tags.get("resonate:target"),
                p.timeout_at,
                p.created_at,
                p.settled_at,
                expires_at,
            ),
        )

    def _settle_row(self, p: Promise, state: str, value: Any, settled_at: int) -> None:
        p.state, p.value, p.settled_at = state, value, settled_at
        self.db.execute(
            "UPDATE promises SET state = ?, value = ?, settled_at = ?, expires_at = NULL"
            " WHERE id = ?",
            (state, _dump(value), settled_at, p.id),
        )

    def _set_expiry(self, promise_id: str, at: int) -> None:
        self.db.execute("UPDATE promises SET expires_at = ? WHERE id = ?", (at, promise_id))

    def _task(self, task_id: str) -> Task | None:
        row = self.db.execute(
            "SELECT id, state, version, pid, ttl, timer_kind, timer_at FROM tasks WHERE id = ?",
            (task_id,),
        ).fetchone()
        return None if row is None else Task(*row)

    def _save_task(self, t: Task) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO tasks(id, state, version, pid, ttl, timer_kind, timer_at)"
            " VALUES (?,?,?,?,?,?,?)",
            (t.id, t.state, t.version, t.pid, t.ttl, t.timer_kind, t.timer_at),
        )

    def _clear_resumes(self, task_id: str) -> None:
        self.db.execute("DELETE FROM task_resumes WHERE task_id = ?", (task_id,))

    def _add_resume(self, task_id: str, promise_id: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO task_resumes(task_id, promise_id) VALUES (?, ?)",
            (task_id, promise_id),
        )

    def _has_resumes(self, task_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM task_resumes WHERE task_id = ? LIMIT 1", (task_id,))
        return row.fetchone() is not None

    def _preload(self, promise_id: str) -> list[dict[str, Any]]:
        """Every other promise on the same branch: what a resumed task has already done."""
        row = self.db.execute("SELECT branch FROM promises WHERE id = ?", (promise_id,)).fetchone()
        if row is None or row[0] is None:
            return []
        rows = self.db.execute(
            "SELECT id, state, param, value, tags, timeout_at, created_at, settled_at"
            " FROM promises WHERE branch = ? AND id != ? ORDER BY seq",
            (row[0], promise_id),
        )
        return [_promise_from_row(r).record() for r in rows]

    # ------------------------------------------------------------------ shared transitions

    def _auto_timeout_touched(self, now: int, kind: str, req: Any) -> None:
        """Time out, before anything else, each promise the request touches that is past due."""
        if kind in ("promise.get", "promise.create", "promise.settle"):
            self._try_auto_timeout(now, f.string(req, "id"))
        elif kind in ("promise.register_listener", "promise.register_callback"):
            self._try_auto_timeout(now, f.string(req, "awaited"))
        elif kind == "task.create":
            self._try_auto_timeout(now, f.string(f.action_data(f.get(req, "action")), "id"))
        elif kind in ("task.acquire", "task.release", "task.fulfill", "task.get", "task.halt",
                      "task.continue"):  # fmt: skip
            self._try_auto_timeout(now, f.string(req, "id"))
        elif kind == "task.fence":
            self._try_auto_timeout(now, f.string(req, "id"))
            self._try_auto_timeout(now, f.string(f.action_data(f.get(req, "action")), "id"))
        elif kind == "task.suspend":
            self._try_auto_timeout(now, f.string(req, "id"))
            actions = f.get(req, "actions")
            if isinstance(actions, list):
                for action in actions:
                    awaited = f.string(f.action_data(action), "awaited")
                    if awaited:
                        self._try_auto_timeout(now, awaited)

    def _try_auto_timeout(self, now: int, promise_id: str) -> None:
        if not promise_id:
            return
        p = self._promise(promise_id)
        if p is None or p.state != "pending" or now < p.timeout_at:
            return
        self._settle_row(p, timeout_state(p.tags), p.value, p.timeout_at)
        self._after_settle(p, now)

    def _after_settle(self, p: Promise, now: int) -> None:
        self._enqueue_settle(p.id)
        self._resume_awaiters(p.id, now)
        self._notify_listeners(p)

    def _enqueue_settle(self, promise_id: str) -> None:
        """A settled promise fulfills its own task (creating a fulfilled one if it has a target)."""
        t = self._task(promise_id)
        if t is None:
            row = self.db.execute(
                "SELECT target FROM promises WHERE id = ?", (promise_id,)
            ).fetchone()
            if row is not None and row[0] is not None:
                self._save_task(Task(id=promise_id, state="fulfilled", version=0))
            return
        if t.state == "fulfilled":
            return
        t.state, t.pid, t.ttl = "fulfilled", None, None
        t.clear_timer()
        self._save_task(t)
        self._clear_resumes(promise_id)
        self.db.execute("DELETE FROM awaiters WHERE task_id = ?", (promise_id,))

    def _resume_awaiters(self, promise_id: str, now: int) -> None:
        awaiter_ids = [
            r[0]
            for r in self.db.execute(
                "SELECT task_id FROM awaiters WHERE promise_id = ?", (promise_id,)
            ).fetchall()
        ]
        for awaiter_id in awaiter_ids:
            task = self._task(awaiter_id)
            if task is None:
                continue
            self._resume(task, promise_id, now)
        self.db.execute("DELETE FROM awaiters WHERE promise_id = ?", (promise_id,))

    def _resume(self, task: Task, settled_id: str, now: int) -> None:
        """``settled_id`` settled: a suspended task goes back to work, a running one notes it."""
        if task.state == "suspended":
            task.state, task.version = "pending", task.version + 1
            task.set_timer(TIMER_RETRY, now + self.retry_timeout)
            self._save_task(task)
            self._clear_resumes(task.id)
            self._add_resume(task.id, settled_id)
            self._send_execute_to_target(task.id, task.version)
        elif task.state in ("pending", "acquired", "halted"):
            self._add_resume(task.id, settled_id)

    def _notify_listeners(self, p: Promise) -> None:
        addresses = [
            r[0]
            for r in self.db.execute(
                "SELECT address FROM listeners WHERE promise_id = ?", (p.id,)
            ).fetchall()
        ]
        if not addresses:
            return
        record = p.record()
        for address in addresses:
            self.outgoing.append(
                Outgoing(address, {"kind": "unblock", "data": {"promise": record}})
            )
        self.db.execute("DELETE FROM listeners WHERE promise_id = ?", (p.id,))

    def _send_execute_to_target(self, task_id: str, version: int) -> None:
        row = self.db.execute("SELECT target FROM promises WHERE id = ?", (task_id,)).fetchone()
        if row is not None and row[0] is not None:
            self._send_execute(row[0], task_id, version)

    def _send_execute(self, address: str, task_id: str, version: int) -> None:
        msg = {"kind": "execute", "data": {"task": {"id": task_id, "version": version}}}
        for existing in self.outgoing:  # one execute per task per request: the newest wins
            if existing.message.get("kind") == "execute" and (
                existing.message["data"]["task"]["id"] == task_id
            ):
                existing.address, existing.message = address, msg
                return
        self.outgoing.append(Outgoing(address, msg))

    def _release_to_pending(self, t: Task, now: int) -> None:
        t.state, t.version, t.pid, t.ttl = "pending", t.version + 1, None, None
        t.set_timer(TIMER_RETRY, now + self.retry_timeout)
        self._save_task(t)
        self._send_execute_to_target(t.id, t.version)

    # ------------------------------------------------------------------ the sweep

    def _tick(self, now: int) -> None:
        due_promises = [
            _promise_from_row(r)
            for r in self.db.execute(
                "SELECT id, state, param, value, tags, timeout_at, created_at, settled_at"
                " FROM promises WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY seq",
                (now,),
            ).fetchall()
        ]
        due_tasks = [
            Task(*r)
            for r in self.db.execute(
                "SELECT id, state, version, pid, ttl, timer_kind, timer_at FROM tasks"
                " WHERE timer_at IS NOT NULL AND timer_at <= ? ORDER BY timer_at, id",
                (now,),
            ).fetchall()
        ]
        leases = [
            (t.id, t.version)
            for t in due_tasks
            if t.timer_kind == TIMER_LEASE and t.state == "acquired"
        ]
        retries = [t.id for t in due_tasks if t.timer_kind == TIMER_RETRY and t.state == "pending"]

        settled = [p for p in due_promises if p.state == "pending"]
        for p in settled:
            self._settle_row(p, timeout_state(p.tags), None, p.timeout_at)
        for p in settled:
            self._enqueue_settle(p.id)
        for p in settled:
            self._resume_awaiters(p.id, now)
            self._notify_listeners(p)

        for task_id, version in leases:
            t = self._task(task_id)
            if t is not None and t.state == "acquired" and t.version == version:
                self._release_to_pending(t, now)

        for task_id in retries:
            t = self._task(task_id)
            if t is not None and t.state == "pending":
                t.set_timer(TIMER_RETRY, now + self.retry_timeout)
                self._save_task(t)
                self._send_execute_to_target(task_id, t.version)

    # ------------------------------------------------------------------ promises

    def promise_get(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        promise_id = f.require_str(req, "id")
        p = self._promise(promise_id)
        if p is None:
            return _answer("promise.get", corr_id, 404, error=f"promise {promise_id} not found")
        return _answer("promise.get", corr_id, 200, promise=p.record())

    def promise_create(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        promise_id = f.require_str(req, "id")
        existing = self._promise(promise_id)
        if existing is not None:
            return _answer("promise.create", corr_id, 200, promise=existing.record())

        timeout_at = f.i64(req, "timeoutAt", f.I64_MAX)
        param = f.get(req, "param")
        tags = f.tags_of(req)

        if now >= timeout_at:
            p = Promise(
                promise_id, timeout_state(tags), param, None, tags, timeout_at, timeout_at,
                timeout_at,
            )  # fmt: skip
            self._insert_promise(p, None)
            self._after_settle(p, now)
            return _answer("promise.create", corr_id, 200, promise=p.record())

        p = Promise(promise_id, "pending", param, None, tags, timeout_at, now, None)
        address = tags.get("resonate:target")
        # Only a promise with an address is timed out by the sweep (as in the real server).
        self._insert_promise(p, timeout_at if address is not None else None)
        if address is not None:
            delay = f.parse_int(tags.get("resonate:delay"))
            deferred = delay is not None and now < delay
            t = Task(id=promise_id, state="pending", version=0)
            t.set_timer(
                TIMER_RETRY, delay if deferred and delay is not None else now + self.retry_timeout
            )
            self._save_task(t)
            if not deferred:
                self._send_execute(address, promise_id, 0)
        return _answer("promise.create", corr_id, 201, promise=p.record())

    def promise_settle(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        promise_id = f.require_str(req, "id")
        state = f.settle_state(f.get(req, "state"))
        value = f.get(req, "value")
        p = self._promise(promise_id)
        if p is None:
            return _answer("promise.settle", corr_id, 404, error=f"promise {promise_id} not found")
        if p.state != "pending":
            return _answer("promise.settle", corr_id, 200, promise=p.record())
        self._settle_row(p, state, value, now)
        record = p.record()
        self._after_settle(p, now)
        return _answer("promise.settle", corr_id, 200, promise=record)

    def promise_register_listener(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        awaited = f.require_str(req, "awaited")
        address = f.require_str(req, "address")
        p = self._promise(awaited)
        if p is None:  # server.rs:911-918
            return _answer("promise.register_listener", corr_id, 404,
                           error="Awaited promise not found")  # fmt: skip
        if p.state == "pending":
            self.db.execute(
                "INSERT OR IGNORE INTO listeners(promise_id, address) VALUES (?, ?)",
                (awaited, address),
            )
        return _answer("promise.register_listener", corr_id, 200, promise=p.record())

    def promise_register_callback(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        """Make the awaiter's task wait for ``awaited`` (the real server's semantics)."""
        kind = "promise.register_callback"
        awaited_id = f.require_str(req, "awaited")
        awaiter_id = f.require_str(req, "awaiter")
        if awaited_id == awaiter_id:
            return _answer(
                kind, corr_id, 400, error="Awaited and awaiter must be different promises"
            )
        self._try_auto_timeout(now, awaiter_id)
        awaited = self._promise(awaited_id)
        if awaited is None:
            return _answer(kind, corr_id, 404, error="Awaited promise not found")
        awaiter = self._promise(awaiter_id)
        if awaiter is None:
            return _answer(kind, corr_id, 422, error="Awaiter promise not found")
        if "resonate:target" not in awaiter.tags:
            return _answer(kind, corr_id, 422, error="Awaiter promise has no resonate:target tag")
        if awaited.state == "pending":
            if awaiter.state == "pending":
                self.db.execute(
                    "INSERT OR IGNORE INTO awaiters(promise_id, task_id) VALUES (?, ?)",
                    (awaited_id, awaiter_id),
                )
        else:
            task = self._task(awaiter_id)
            if task is not None:
                self._resume(task, awaited_id, now)
        return _answer(kind, corr_id, 200, promise=awaited.record())

    def promise_search(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        """Promises by exact state and tag subset, in id order, a page at a time."""
        kind = "promise.search"
        clauses: list[str] = []
        args: list[Any] = []
        state = f.get(req, "state")
        if state is not None:
            if state not in f.PROMISE_STATES:
                return _answer(
                    kind, corr_id, 400, error=f"Invalid request: unknown state {state!r}"
                )
            clauses.append("state = ?")
            args.append(state)
        tags = f.get(req, "tags")
        if tags is not None:
            if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
                return _answer(
                    kind, corr_id, 400, error="Invalid request: tags must map to strings"
                )
            for key, value in tags.items():
                if key == "resonate:parent":  # indexed: how a job's steps are listed
                    clauses.append("parent = ?")
                    args.append(value)
                else:
                    clauses.append("json_extract(tags, ?) = ?")
                    args.extend([f"$.{json.dumps(key)}", value])
        limit = f.get(req, "limit")
        if limit is None:
            limit = SEARCH_DEFAULT_LIMIT
        elif not f.is_int(limit) or limit < 1:
            return _answer(kind, corr_id, 400, error="Limit must be a positive integer")
        elif limit > SEARCH_MAX_LIMIT:
            return _answer(kind, corr_id, 400, error="Invalid 'limit' — must be between 1 and 1000")
        cursor = f.get(req, "cursor")
        if isinstance(cursor, str) and cursor:
            clauses.append("id > ?")
            args.append(cursor)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT {_PROMISE_COLUMNS} FROM promises {where} ORDER BY id LIMIT ?"  # noqa: S608
        rows = self.db.execute(query, (*args, limit + 1)).fetchall()
        page = [_promise_from_row(r).record() for r in rows[:limit]]
        more = len(rows) > limit
        answer = _answer(kind, corr_id, 200, promises=page)
        if more:
            answer["cursor"] = page[-1]["id"]
        return answer

    # ------------------------------------------------------------------ tasks

    def task_create(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        pid = f.require_str(req, "pid")
        ttl = f.ttl(req, "ttl", DEFAULT_TTL)
        promise_req = f.action_data(f.get(req, "action"))
        promise_id = f.require_str(promise_req, "id")

        existing = self._task(promise_id)
        if existing is not None:
            p = self._promise(promise_id)
            record = p.record() if p is not None else None
            if existing.state == "pending":
                preload = self._preload(promise_id)
                existing.state, existing.pid, existing.ttl = "acquired", pid, ttl
                existing.set_timer(TIMER_LEASE, f.saturating_add(now, ttl))
                self._save_task(existing)
                self._clear_resumes(promise_id)
                return _answer(
                    "task.create", corr_id, 200, task=existing.record(), promise=record,
                    preload=preload,
                )  # fmt: skip
            if existing.state == "fulfilled":
                return _answer(
                    "task.create", corr_id, 200, task=existing.record(), promise=record,
                    preload=self._preload(promise_id),
                )  # fmt: skip
            return _answer("task.create", corr_id, 409, error="Already exists")

        if self._promise(promise_id) is not None:
            return _answer("task.create", corr_id, 409, error="Already exists")

        timeout_at = f.i64(promise_req, "timeoutAt", f.I64_MAX)
        param = f.get(promise_req, "param")
        tags = f.tags_of(promise_req)

        if now >= timeout_at:
            p = Promise(
                promise_id, timeout_state(tags), param, None, tags, timeout_at, timeout_at,
                timeout_at,
            )  # fmt: skip
            self._insert_promise(p, None)
            t = Task(id=promise_id, state="fulfilled", version=0)
            self._save_task(t)
            return _answer(
                "task.create", corr_id, 200, task=t.record(), promise=p.record(), preload=[]
            )

        p = Promise(promise_id, "pending", param, None, tags, timeout_at, now, None)
        self._insert_promise(p, timeout_at)
        t = Task(id=promise_id, state="acquired", version=0, pid=pid, ttl=ttl)
        t.set_timer(TIMER_LEASE, f.saturating_add(now, ttl))
        self._save_task(t)
        return _answer(
            "task.create", corr_id, 201, task=t.record(), promise=p.record(),
            preload=self._preload(promise_id),
        )  # fmt: skip

    def task_acquire(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        task_id = f.require_str(req, "id")
        pid = f.string(req, "pid")
        ttl = max(f.ttl(req, "ttl", DEFAULT_TTL), 1)
        t = self._task(task_id)
        if t is None:
            return _answer("task.acquire", corr_id, 404, error=f"task {task_id} not found")
        if t.state != "pending":
            return _answer(
                "task.acquire", corr_id, 409,
                error=f"task not in pending state (state: {t.state.capitalize()})",
            )  # fmt: skip
        preload = self._preload(task_id)
        t.state, t.pid, t.ttl = "acquired", pid, ttl
        t.set_timer(TIMER_LEASE, f.saturating_add(now, ttl))
        self._save_task(t)
        self._clear_resumes(task_id)
        p = self._promise(task_id)
        return _answer(
            "task.acquire", corr_id, 200, task=t.record(),
            promise=p.record() if p is not None else None, preload=preload,
        )  # fmt: skip

    def task_release(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        task_id = f.require_str(req, "id")
        t = self._task(task_id)
        if t is None:
            return _answer("task.release", corr_id, 404)
        if t.state != "acquired":
            return _answer("task.release", corr_id, 409)
        self._release_to_pending(t, now)
        return _answer("task.release", corr_id, 200)

    def task_fulfill(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        task_id = f.require_str(req, "id")
        t = self._task(task_id)
        if t is None:
            return _answer("task.fulfill", corr_id, 404)
        if t.state != "acquired":
            return _answer("task.fulfill", corr_id, 409)

        settle = f.action_data(f.get(req, "action"))
        settle_id = f.get(settle, "id")
        promise_id = settle_id if isinstance(settle_id, str) else task_id
        p = self._promise(promise_id)
        if p is not None and p.state == "pending":
            self._settle_row(p, f.settle_state(f.get(settle, "state")), f.get(settle, "value"), now)
        record = p.record() if p is not None else None

        self._enqueue_settle(task_id)
        self._resume_awaiters(promise_id, now)
        if p is not None:
            self._notify_listeners(p)
        return _answer("task.fulfill", corr_id, 200, promise=record)

    def task_fence(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        """Apply a promise create/settle only while the caller still holds the task's lease."""
        task_id = f.require_str(req, "id")
        version = f.i64(req, "version", 0)
        t = self._task(task_id)
        if t is None:
            return _answer("task.fence", corr_id, 404)
        if t.state != "acquired" or t.version != version:
            return _answer("task.fence", corr_id, 409)

        action = f.get(req, "action")
        sub_kind = f.get(action, "kind")
        data = f.action_data(action)
        flat = dict(data) if isinstance(data, dict) else {}
        if sub_kind == "promise.create":
            inner = self.promise_create(now, corr_id, flat)
        elif sub_kind == "promise.settle":
            inner = self.promise_settle(now, corr_id, flat)
        else:
            raise ProtocolError(400, f"unknown fence action kind: {sub_kind}")
        return _answer(
            "task.fence", corr_id, 200, action={"data": {"promise": inner.get("promise")}},
            preload=self._preload(task_id),
        )  # fmt: skip

    def task_suspend(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        task_id = f.require_str(req, "id")
        t = self._task(task_id)
        if t is None:
            return _answer("task.suspend", corr_id, 404)
        if t.state != "acquired":
            return _answer("task.suspend", corr_id, 409)

        # A dependency settled while the task ran: go on instead of suspending.
        if self._has_resumes(task_id):
            self._clear_resumes(task_id)
            return _answer(
                "task.suspend", corr_id, 300, redirect=True, preload=self._preload(task_id)
            )

        awaited_ids: list[str] = []
        actions = f.get(req, "actions")
        if isinstance(actions, list):
            for action in actions:
                awaited = f.get(f.action_data(action), "awaited")
                if isinstance(awaited, str):
                    awaited_ids.append(awaited)

        any_settled = False
        for awaited_id in awaited_ids:
            row = self.db.execute(
                "SELECT state FROM promises WHERE id = ?", (awaited_id,)
            ).fetchone()
            if row is None:
                continue
            if row[0] == "pending":
                self.db.execute(
                    "INSERT OR IGNORE INTO awaiters(promise_id, task_id) VALUES (?, ?)",
                    (awaited_id, task_id),
                )
            else:
                any_settled = True
        if any_settled:
            return _answer(
                "task.suspend", corr_id, 300, redirect=True, preload=self._preload(task_id)
            )

        t.state, t.pid, t.ttl = "suspended", None, None
        t.clear_timer()
        self._save_task(t)
        self._clear_resumes(task_id)
        return _answer("task.suspend", corr_id, 200)

    def task_heartbeat(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        pid = f.require_str(req, "pid")
        refs = f.get(req, "tasks")
        if isinstance(refs, list):
            for ref in refs:
                t = self._task(f.require_str(ref, "id"))
                version = f.get(ref, "version")
                if (
                    t is not None
                    and t.state == "acquired"
                    and t.pid == pid
                    and (not f.is_int(version) or version == t.version)
                ):
                    ttl = t.ttl if t.ttl is not None else 30_000
                    t.set_timer(TIMER_LEASE, f.saturating_add(now, ttl))
                    self._save_task(t)
        return _answer("task.heartbeat", corr_id, 200)

    # Halting and continuing a task: the real server's operator controls (server.rs:1020-1082,
    # 2054-2263; persistence_sqlite.rs:1091-1187). A halted task is sent nothing and leased to
    # nobody until it is continued; what it awaits settling is recorded for then.

    def task_get(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        t = self._existing_task(req)
        return _answer("task.get", corr_id, 200, task=self._task_view(t))

    def task_halt(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        t = self._existing_task(req)
        if t.state == "fulfilled":
            raise ProtocolError(409, "Task is fulfilled")
        if t.state != "halted":
            t.state, t.pid, t.ttl = "halted", None, None
            t.clear_timer()
            self._save_task(t)
        return _answer("task.halt", corr_id, 200)

    def task_continue(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        t = self._existing_task(req)
        p = self._promise(t.id)
        if t.state != "halted" or p is None or p.state != "pending":
            raise ProtocolError(409, "Task is not halted")
        t.state = "pending"  # at the same version (persistence_sqlite.rs:1113-1156)
        t.set_timer(TIMER_RETRY, now + self.retry_timeout)
        self._save_task(t)
        self._send_execute_to_target(t.id, t.version)
        return _answer("task.continue", corr_id, 200)

    def task_search(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        """Tasks by state, in id order, a page at a time (``cursor``: the last id seen)."""
        state = f.get(req, "state")
        if state is not None and state not in TASK_STATES:
            expected = ", ".join(f"`{s}`" for s in TASK_STATES)
            raise ProtocolError(
                400, f"Invalid request: unknown variant `{state}`, expected one of {expected}"
            )
        limit = _search_limit(req, SEARCH_DEFAULT_LIMIT)
        cursor = f.get(req, "cursor")
        cursor = cursor if isinstance(cursor, str) and cursor else None
        rows = self.db.execute(
            "SELECT id, state, version, pid, ttl, timer_kind, timer_at FROM tasks"
            " WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3",
            (state, cursor, limit + 1),
        ).fetchall()
        page = [self._task_view(Task(*row)) for row in rows[:limit]]
        answer = _answer("task.search", corr_id, 200, tasks=page)
        if len(rows) > limit:
            answer["cursor"] = page[-1]["id"]
        return answer

    def _existing_task(self, req: Any) -> Task:
        task_id = f.string(req, "id")
        if not task_id:
            raise ProtocolError(400, "Task ID is required")
        t = self._task(task_id)
        if t is None:
            raise ProtocolError(404, "Task not found")
        return t

    def _task_view(self, t: Task) -> dict[str, Any]:
        """A task as the real server shows it (types.rs:226-237): with ``resumes``, the settled
        promises it has not seen yet."""
        record = {k: v for k, v in t.record().items() if k != "promiseId"}
        (record["resumes"],) = self.db.execute(
            "SELECT COUNT(*) FROM task_resumes WHERE task_id = ?", (t.id,)
        ).fetchone()
        return record

    # ------------------------------------------------------------------ schedules

    # Schedules, as the real server keeps and fires them (server.rs:2267-2550,
    # processing/processing_timeouts.rs:63-102, persistence_sqlite.rs:1226-1402).

    def schedule_create(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        schedule_id = _required(req, "id", "Schedule ID is required")
        cron = _required(req, "cron", "Cron expression is required")
        template = _required(req, "promiseId", "Promise ID template is required")
        timeout = f.get(req, "promiseTimeout")
        if timeout is None:
            raise ProtocolError(400, "Invalid request: missing field `promiseTimeout`")
        if not f.is_int(timeout) or timeout < 0:
            raise ProtocolError(400, "Promise timeout must be a non-negative integer")
        param, tags = f.get(req, "promiseParam") or {}, f.get(req, "promiseTags") or {}
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise ProtocolError(400, "Invalid request: promiseTags must map to strings")
        try:
            first = next_run(cron, now)
        except InvalidCron:
            raise ProtocolError(400, "Invalid cron expression") from None
        # The same id again: the stored schedule, unchanged, whatever this request says.
        self.db.execute(
            "INSERT OR IGNORE INTO schedules(id, cron, promise_id, promise_timeout, promise_param,"
            " promise_tags, created_at, next_run_at) VALUES (?,?,?,?,?,?,?,?)",
            (schedule_id, cron, template, timeout, _dump(param), _dump(tags), now, first),
        )
        return _answer("schedule.create", corr_id, 200, schedule=self._schedule(schedule_id))

    def schedule_get(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        schedule_id = _required(req, "id", "Schedule ID is required")
        record = self._schedule(schedule_id)
        if record is None:
            raise ProtocolError(404, "Schedule not found")
        return _answer("schedule.get", corr_id, 200, schedule=record)

    def schedule_delete(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        schedule_id = _required(req, "id", "Schedule ID is required")
        if not self.db.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)).rowcount:
            raise ProtocolError(404, "Schedule not found")
        return _answer("schedule.delete", corr_id, 200)

    def schedule_search(self, now: int, corr_id: Any, req: Any) -> dict[str, Any]:
        """Schedules whose promise tags include ``tags``, in id order, a page at a time."""
        tags = f.get(req, "tags") or {}
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise ProtocolError(400, "Invalid request: tags must map to strings")
        limit = _search_limit(req, SCHEDULE_SEARCH_DEFAULT_LIMIT)
        clauses, args = ["(?1 IS NULL OR id > ?1)"], [f.get(req, "cursor") or None]
        for key, value in tags.items():
            clauses.append("json_extract(promise_tags, ?) = ?")
            args.extend([f"$.{json.dumps(key)}", value])
        rows = self.db.execute(
            f"SELECT {_SCHEDULE_COLUMNS} FROM schedules WHERE {' AND '.join(clauses)}"  # noqa: S608
            " ORDER BY id LIMIT ?",
            (*args, limit + 1),
        ).fetchall()
        page = [_schedule_record(r) for r in rows[:limit]]
        answer = _answer("schedule.search", corr_id, 200, schedules=page)
        if len(rows) > limit:
            answer["cursor"] = page[-1]["id"]
        return answer

    def _schedule(self, schedule_id: str) -> dict[str, Any] | None:
        row = self.db.execute(
            f"SELECT {_SCHEDULE_COLUMNS} FROM schedules WHERE id = ?",  # noqa: S608
            (schedule_id,),
        ).fetchone()
        return None if row is None else _schedule_record(row)

    def _fire_schedules(self, now: int) -> None:
        """Fire each schedule's due slot, one per schedule per sweep (after a stop, the missed
        slots follow one sweep apart, as in the real server)."""
        due = self.db.execute(
            "SELECT id, cron, promise_id, promise_timeout, promise_param, promise_tags,"
            " next_run_at FROM schedules WHERE next_run_at <= ? ORDER BY next_run_at, id",
            (now,),
        ).fetchall()
        for schedule_id, cron, template, timeout, param, tags, slot in due:
            try:
                following = next_run(cron, slot or now)
            except InvalidCron:  # stored before crons were checked: it can never fire
                following = f.I64_MAX
            if slot > 0:  # 0: never computed (a store from before schedules fired)
                self._create_scheduled(schedule_id, template, slot, timeout, param, tags, now)
                self.schedule_promises += 1
            self.db.execute(
                "UPDATE schedules SET next_run_at = ?, last_run_at = COALESCE(?, last_run_at)"
                " WHERE id = ?",
                (following, slot or None, schedule_id),
            )

    def _create_scheduled(
        self, schedule_id: str, template: str, slot: int, timeout: int, param: str, tags: str,
        now: int,
    ) -> None:  # fmt: skip
        """The slot's promise (and, with a target, its task), created once: a slot fired again
        finds it. Its id from the template; its deadline ``promiseTimeout`` after the slot."""
        promise_id = template.replace("{{.id}}", schedule_id).replace("{{.timestamp}}", str(slot))
        if self._promise(promise_id) is not None:
            return
        lineage = {"resonate:schedule": schedule_id, "resonate:origin": promise_id,
                   "resonate:branch": promise_id, "resonate:parent": promise_id,
                   "resonate:prefix": promise_id}  # fmt: skip
        all_tags = {**json.loads(tags), **lineage}
        timeout_at = f.saturating_add(slot, timeout)
        address = all_tags.get("resonate:target")
        if now >= timeout_at:
            p = Promise(promise_id, timeout_state(all_tags), json.loads(param), None, all_tags,
                        timeout_at, slot, timeout_at)  # fmt: skip
            self._insert_promise(p, None)
            if address is not None:
                self._save_task(Task(id=promise_id, state="fulfilled", version=0))
            return
        pending = json.loads(param), None, all_tags, timeout_at, slot, None
        self._insert_promise(Promise(promise_id, "pending", *pending), timeout_at)
        if address is not None:
            t = Task(id=promise_id, state="pending", version=0)
            t.set_timer(TIMER_RETRY, slot + self.retry_timeout)
            self._save_task(t)
            self._send_execute(address, promise_id, 0)


_SCHEDULE_COLUMNS = (
    "id, cron, promise_id, promise_timeout, promise_param, promise_tags, created_at,"
    " next_run_at, last_run_at"
)


def _search_limit(req: Any, default: int) -> int:
    """A search's page size, checked as the real server checks it (server.rs:2213-2223)."""
    limit = f.get(req, "limit")
    if limit is None:
        return default
    if not f.is_int(limit) or limit < 1:
        raise ProtocolError(400, "Limit must be a positive integer")
    if limit > SEARCH_MAX_LIMIT:
        raise ProtocolError(400, "Invalid 'limit' — must be between 1 and 1000")
    return int(limit)


def _required(req: Any, key: str, message: str) -> str:
    value = f.get(req, key)
    if not isinstance(value, str) or not value:
        raise ProtocolError(400, message)
    return value


def _promise_from_row(row: tuple[Any, ...]) -> Promise:
    pid, state, param, value, tags, timeout_at, created_at, settled_at = row
    return Promise(
        pid, state, json.loads(param), json.loads(value), json.loads(tags), timeout_at,
        created_at, settled_at,
    )  # fmt: skip


def _schedule_record(row: tuple[Any, ...]) -> dict[str, Any]:
    """A schedule as the real server shows it (types.rs:240-258)."""
    sid, cron, promise_id, timeout, param, tags, created_at, next_run_at, last_run_at = row
    record = {"id": sid, "cron": cron, "promiseId": promise_id, "promiseTimeout": timeout,
              "promiseParam": json.loads(param), "promiseTags": json.loads(tags),
              "createdAt": created_at, "nextRunAt": next_run_at}  # fmt: skip
    if last_run_at is not None:
        record["lastRunAt"] = last_run_at
    return record


def _answer(kind: str, corr_id: Any, status: int, **data: Any) -> dict[str, Any]:
    return {"kind": kind, "corrId": corr_id, "status": status, **data}


def _check_addresses(kind: str, req: Any) -> None:
    """Refuse an address no message could go to, before anything else (the real server checks
    a target before its idempotency check: server.rs:582-597, 882-894, 1112-1125, 1793-1807)."""
    if kind == "promise.register_listener":
        address = f.string(req, "address")
        if address and not is_valid_address(address):
            raise ProtocolError(400, INVALID_LISTENER)
        return
    action = f.get(req, "action")
    if kind == "promise.create":
        created = req
    elif kind == "task.create" or (
        kind == "task.fence" and f.get(action, "kind") == "promise.create"
    ):
        created = f.action_data(action)
    else:
        return
    target = f.get(f.get(created, "tags"), "resonate:target")
    if target is not None and not (isinstance(target, str) and is_valid_address(target)):
        raise ProtocolError(400, INVALID_TARGET)


_HANDLERS = {
    "promise.get": Engine.promise_get,
    "promise.create": Engine.promise_create,
    "promise.settle": Engine.promise_settle,
    "promise.register_listener": Engine.promise_register_listener,
    "promise.register_callback": Engine.promise_register_callback,
    "promise.search": Engine.promise_search,
    "task.create": Engine.task_create,
    "task.acquire": Engine.task_acquire,
    "task.release": Engine.task_release,
    "task.fulfill": Engine.task_fulfill,
    "task.fence": Engine.task_fence,
    "task.suspend": Engine.task_suspend,
    "task.heartbeat": Engine.task_heartbeat,
    "task.get": Engine.task_get,
    "task.halt": Engine.task_halt,
    "task.continue": Engine.task_continue,
    "task.search": Engine.task_search,
    "schedule.create": Engine.schedule_create,
    "schedule.get": Engine.schedule_get,
    "schedule.delete": Engine.schedule_delete,
    "schedule.search": Engine.schedule_search,
}
