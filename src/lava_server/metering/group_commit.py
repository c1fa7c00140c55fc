"""Group commit: the one batching of money transactions, for every door (the forward proxy's
holds and settlements, `POST /v1/requests`).

Jobs submitted while a transaction is being written wait and go together in the next one, so a
busy server pays one commit, one wallet lock and a handful of multi-row statements per batch
rather than per call; under light load a batch is one job and nothing waits.

A caller that is cancelled (its client went away) never cancels a write: batches are written by
a task of the group commit's own, never by a caller's task. So a job handed over is written
exactly once (committed, or refused as it would have been), whether its caller still waits or
not, and the other jobs of its batch are answered as usual. (The other choice, rolling back the
batch with the cancelled caller, would have to fail or redo every other job of that batch.) A
charge that its caller did not see is not lost: the request is stored, and sending it again with
the same `request_id` is a replay that charges nothing. A result that its caller will never
read (a hold taken for a call that went away) is handed to `orphaned`, which undoes it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from lava_server.metrics import GROUP_COMMIT_BATCH, GROUP_COMMIT_WAIT, GROUP_COMMIT_WRITE

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class Job(Generic[T, R]):
    item: T
    future: asyncio.Future[R] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    submitted: float = field(default_factory=time.perf_counter)

    def resolve(self, result: R) -> None:
        if not self.future.done():
            self.future.set_result(result)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class GroupCommit(Generic[T, R]):
    """`write(batch)` must resolve or fail every job of the batch."""

    def __init__(
        self,
        write: Callable[[list[Job[T, R]]], Awaitable[None]],
        *,
        max_batch: int = 64,
        linger: float = 0.0,
        name: str = "other",
        orphaned: Callable[[R], Coroutine[Any, Any, None]] | None = None,
    ) -> None:
        """`linger`: seconds the writer waits before writing the first batch of a busy spell;
        `name`: the label of its series in `/metrics` (`lava_group_commit_*{name=...}`);
        `orphaned`: called with each result whose caller was cancelled before it came."""
        self._batch_sizes = GROUP_COMMIT_BATCH.labels(name)
        self._waits = GROUP_COMMIT_WAIT.labels(name)
        self._writes = GROUP_COMMIT_WRITE.labels(name)
        self._write = write
        self._max_batch = max_batch
        self._linger = linger
        self._pending: list[Job[T, R]] = []
        self._writer: asyncio.Task[Any] | None = None
        self._orphaned = orphaned
        self._orphans: set[asyncio.Task[None]] = set()  # `orphaned` calls under way

    @property
    def busy(self) -> bool:
        """A batch is being written (or waits for its linger)."""
        return self._writer is not None

    async def submit(self, item: T) -> R:
        job: Job[T, R] = Job(item)
        self._pending.append(job)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())
        try:
            # Shielded: a cancelled caller leaves its job's future to the writer.
            return await asyncio.shield(job.future)
        except asyncio.CancelledError:
            job.future.add_done_callback(self._orphan)
            raise

    async def finish(self) -> None:
        """Wait until the batches under way are written and the `orphaned` calls they led to
        are done (at shutdown, before the connections they write on close). Their errors are
        their callers'; nothing is raised here."""
        while self._writer is not None or self._orphans:
            await asyncio.wait({*self._orphans, *([self._writer] if self._writer else [])})

    def _orphan(self, future: asyncio.Future[R]) -> None:
        """The result of a job whose caller went away: to `orphaned` (an error: nobody to tell)."""
        if future.cancelled() or future.exception() is not None or self._orphaned is None:
            return
        task = asyncio.get_running_loop().create_task(self._orphaned(future.result()))
        self._orphans.add(task)
        task.add_done_callback(self._orphans.discard)

    async def _drain(self) -> None:
        try:
            if self._linger:
                await asyncio.sleep(self._linger)
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                began = time.perf_counter()
                self._batch_sizes.observe(len(batch))
                self._waits.observe(began - batch[0].submitted)
                try:
                    await self._write(batch)
                    self._writes.observe(time.perf_counter() - began)
                except BaseException as error:
                    for job in batch:
                        job.fail(error)
                    if not isinstance(error, Exception):
                        raise
        finally:
            # Normally nothing is left (no job can arrive between the loop's test and here);
            # after a cancellation the jobs still waiting must not wait for ever.
            self._writer = None
            for job in self._pending:
                job.fail(RuntimeError("the group commit writer was stopped"))
            self._pending.clear()
