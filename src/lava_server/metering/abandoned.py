"""Forward calls abandoned by a server process that died (`docs/forward-proxy.md`).

A forward call is stored `pending` with its hold before it is sent, and settled or released when
it ends. If the server process dies in between (killed, out of memory, its machine lost), nothing
in that process will ever close it: its hold would keep that money out of the wallet's reach for
good. So:

- every `lava serve` process has a row in `server_processes` (`ProcessHeartbeat`), stamps the
  requests it forwards with its id (`requests.process_id`) and records every
  `LAVA_PROCESS_HEARTBEAT_SECONDS` that it is alive; a clean stop deletes the row;
- the worker (`release_abandoned`, each round) releases the pending forward calls of processes not
  seen for `LAVA_ABANDONED_AFTER_SECONDS`: the hold goes back to the wallet, nothing is charged,
  status `error`, and `lava_abandoned: "true"` in the request's metadata says why. Nothing is
  known of how far such a call got (the client saw its connection drop), so the customer is not
  billed for it; the merchant sees which calls these were.

Each release is its own transaction under the wallet's lock and acts only on a request still
`pending`, so any number of workers can sweep at once, and a settlement racing a release finds
the request closed and charges nothing (`ForwardBilling` settles only pending requests).

A process that is alive but cannot reach the database for longer than the threshold is taken for
dead: its calls in flight are released, and when they end their settlement finds them closed. Its
heartbeat then writes its row again and logs a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import datetime, timedelta
from typing import Final

from lava_server.db.engine import Database
from lava_server.ids import new_id
from lava_server.metering import repository
from lava_server.spend_keys import allowance
from lava_server.timeutil import utcnow
from lava_server.wallets.ledger import lock_wallet

log = logging.getLogger("lava_server.proxy")

ABANDONED_KEY: Final = "lava_abandoned"
"""Metadata key set to "true" on a forward request released because its process died."""
BATCH: Final = 100


class ProcessHeartbeat:
    """This server process's row in `server_processes`, kept fresh while it runs."""

    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.interval = interval
        self.id = new_id("proc", True)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._register()
        self._task = asyncio.get_running_loop().create_task(self._beat())

    async def stop(self) -> None:
        """A clean stop: the row goes (the process's calls are all closed by now)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with self.db.write() as session:
                await repository.forget_process(session, self.id)
        except Exception:
            log.exception("removing server process %s failed", self.id)

    async def beat(self) -> None:
        """Record that this process is alive (again, if a worker had taken it for dead)."""
        async with self.db.write() as session:
            seen = await repository.process_seen(session, self.id, utcnow())
        if not seen:
            log.warning(
                "server process %s was taken for dead (no heartbeat for too long); the calls "
                "it had in flight were released uncharged",
                self.id,
            )
            await self._register()

    async def _register(self) -> None:
        now = utcnow()
        async with self.db.write() as session:
            await repository.add_process(
                session, self.id, host=socket.gethostname()[:255], pid=os.getpid(), now=now
            )

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.beat()
            except Exception:
                log.exception("server process heartbeat failed; trying again")


async def release_abandoned(db: Database, abandoned_after: float, now: datetime) -> int:
    """Release the pending forward calls of processes not seen since `now - abandoned_after`
    (or gone); return how many were released. Also forgets those processes once they have no
    call left."""
    stale = now - timedelta(seconds=abandoned_after)
    async with db.read() as session:
        rows = await repository.abandoned_calls(session, stale, BATCH)
        silent = await repository.silent_processes(session, stale, BATCH)
    released = 0
    for seq, wallet_id in rows:
        if await _release(db, seq, wallet_id):
            released += 1
    if released:
        log.warning("released the holds of %d forward calls whose server process stopped", released)
    if silent and len(rows) < BATCH:
        async with db.write() as session:
            await repository.forget_idle_processes(session, silent, stale)
    return released


async def _release(db: Database, seq: int, wallet_id: str | None) -> bool:
    async with db.write() as session:
        if wallet_id is not None:
            await lock_wallet(session, wallet_id)  # the lock order of every money movement
        found = await repository.pending_hold(session, seq)
        if found is None:
            return False  # settled or released meanwhile
        hold, metadata, spend_key_id, created_at = found
        if not await repository.close_abandoned(session, seq, {**metadata, ABANDONED_KEY: "true"}):
            return False
        if wallet_id is not None and hold:
            await repository.change_held(session, wallet_id, -hold)
        if spend_key_id is not None:  # the key's allowance goes back too, request and all
            await allowance.give_back(session, spend_key_id, hold, created_at, request=True)
    return True
