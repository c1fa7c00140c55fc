"""The delivery worker (`docs/webhooks.md#delivery`): runs in `lava serve` (unless
LAVA_SEPARATE_WORKER=true) and in `lava worker`.

Every `LAVA_WEBHOOK_POLL_SECONDS` it turns due outbox rows into events and deliveries, then
claims due deliveries: in one short transaction it reads them (`FOR UPDATE SKIP LOCKED` on
PostgreSQL, so several processes share the work) and leases them (their `next_attempt_at` moves
past the send's timeout), so no two processes send one delivery at once, and a process that dies
mid-send loses nothing: its leases run out and the deliveries are due again. Each send is a task;
at most `LAVA_WEBHOOK_CONCURRENCY` run at once per process, and at most
`LAVA_WEBHOOK_ENDPOINT_CONCURRENCY` to one endpoint, so a slow or dead receiver holds a few
slots and nothing else: the API and the proxy never wait for a receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server import outbox
from lava_server.addresses import AddressRefused, GuardedResolver, check_host
from lava_server.db.engine import Database
from lava_server.db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from lava_server.metrics import WEBHOOK_ATTEMPTS, WEBHOOK_GIVEN_UP
from lava_server.settings import Settings
from lava_server.timeutil import iso, utcnow
from lava_server.webhooks import events, repository, service, signing
from lava_server.webhooks.repository import DELIVERED, DISABLED, ENABLED, FAILED

log = logging.getLogger("lava_server.webhooks")
ANSWER_KEPT = 2048
LEASE_MARGIN = timedelta(seconds=5)
PURGE_EVERY_SECONDS = 3600.0  # the retention purge, at start and then hourly


@dataclass(frozen=True)
class _Job:
    delivery_id: str
    endpoint_id: str
    url: str
    livemode: bool
    body: bytes
    event_id: str
    secrets: tuple[str, ...]


_attempts = {
    kind: WEBHOOK_ATTEMPTS.labels(kind) for kind in ("delivered", "refused", "unreachable")
}


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    duration_ms: int
    answer: str
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def kind(self) -> str:
        """Its label in `lava_webhook_attempts_total`."""
        if self.ok:
            return "delivered"
        return "unreachable" if self.status_code is None else "refused"


class Deliverer:
    """One per process: the loop, its in-flight sends and their HTTP sessions."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.delays = [float(d) for d in settings.webhook_retry_delays.split(",")]
        self.give_up = timedelta(seconds=settings.webhook_give_up_seconds)
        self.timeout = settings.webhook_timeout_seconds
        self.lease = timedelta(seconds=self.timeout) + LEASE_MARGIN
        self._in_flight: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Outcomes waiting to be written: one transaction records a batch of them.
        self._results: list[tuple[_Job, _Outcome, asyncio.Future[None]]] = []
        self._recorder: asyncio.Task[None] | None = None
        self._sessions: dict[bool, aiohttp.ClientSession] = {}
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        outbox.configure(settings)

    # -- the loop ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._stop.clear()
        self._loop = asyncio.create_task(self._run())

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming; let sends in flight finish for `grace` seconds, then cancel them
        (their leases run out and another round sends them again)."""
        self._stop.set()
        self._wake.set()
        if self._loop is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        interval = self.settings.webhook_poll_seconds
        next_purge = time.monotonic()
        while not self._stop.is_set():
            self._wake.clear()
            try:
                await self.run_once(wait=False)
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + PURGE_EVERY_SECONDS
                    await self.purge()
            except Exception:
                log.exception("webhook round failed; retrying in %s s", interval)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)

    async def purge(self, now: datetime | None = None) -> int:
        """Forget attempts, finished deliveries and events past the retention
        (`webhook_retention_days`); returns how many rows went."""
        cutoff = (now or utcnow()) - timedelta(days=self.settings.webhook_retention_days)
        async with self.db.write() as session:
            return await repository.purge_before(session, cutoff)

    async def run_once(self, *, wait: bool = True, now: datetime | None = None) -> int:
        """One round: fan out the outbox, claim and start due sends (`wait`: and finish them).
        Returns how many sends were started."""
        now = now or utcnow()
        while await events.fan_out(self.db, now) == events.BATCH:
            pass
        started = await self._claim(now)
        if wait and self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        return started

    # -- claiming ---------------------------------------------------------------------------

    async def _claim(self, now: datetime) -> int:
        free = self.settings.webhook_concurrency - len(self._tasks)
        if free <= 0:
            return 0
        cap = self.settings.webhook_endpoint_concurrency
        saturated = {e for e, n in self._in_flight.items() if n >= cap}
        jobs: list[_Job] = []
        async with self.db.read() as session:  # no write transaction when nothing is due
            if not await repository.any_due_delivery(session, now):
                return 0
        async with self.db.write() as session:
            rows = await repository.due_deliveries(
                session,
                now,
                free * 2,
                skip_endpoints=saturated,
                skip_locked=not self.db.is_sqlite,
            )
            counts = dict(self._in_flight)
            picked: list[WebhookDelivery] = []
            for row in rows:
                if len(picked) >= free:
                    break
                if counts.get(row.endpoint_id, 0) >= cap:
                    continue
                counts[row.endpoint_id] = counts.get(row.endpoint_id, 0) + 1
                picked.append(row)
            if not picked:
                return 0
            await repository.lease(session, [row.id for row in picked], now + self.lease)
            found = await repository.events_by_ids(session, {row.event_id for row in picked})
            endpoints = await repository.endpoints_by_ids(
                session, {row.endpoint_id for row in picked}
            )
            for row in picked:
                event = found[row.event_id]
                endpoint = endpoints[row.endpoint_id]
                body = signing.payload(
                    event.id, row.event_type, iso(event.created_at), event.livemode, event.data
                )
                jobs.append(
                    _Job(
                        delivery_id=row.id,
                        endpoint_id=endpoint.id,
                        url=endpoint.url,
                        livemode=endpoint.livemode,
                        body=body,
                        event_id=event.id,
                        secrets=tuple(service.valid_secrets(endpoint, now)),
                    )
                )
        for job in jobs:
            self._in_flight[job.endpoint_id] = self._in_flight.get(job.endpoint_id, 0) + 1
            task = asyncio.create_task(self._deliver(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(jobs)

    # -- sending ----------------------------------------------------------------------------

    async def _deliver(self, job: _Job) -> None:
        try:
            outcome = await self._send(job)
            recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._results.append((job, outcome, recorded))
            if self._recorder is None or self._recorder.done():
                self._recorder = asyncio.create_task(self._record_batches())
            await recorded
            _attempts[outcome.kind].inc()
        except Exception:
            log.exception(
                "webhook delivery %s failed; its lease will bring it back", job.delivery_id
            )
        finally:
            left = self._in_flight.get(job.endpoint_id, 1) - 1
            if left > 0:
                self._in_flight[job.endpoint_id] = left
            else:
                self._in_flight.pop(job.endpoint_id, None)
            self._wake.set()  # a slot is free: claim the next one now, not at the next poll

    def _allow_loopback(self, livemode: bool) -> bool:
        return self.settings.webhooks_allow_http and not livemode

    def _session(self, allow_loopback: bool) -> aiohttp.ClientSession:
        session = self._sessions.get(allow_loopback)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.settings.webhook_concurrency,
                resolver=GuardedResolver(allow_loopback=allow_loopback),
                ttl_dns_cache=None,  # resolve (and check) on every new connection
            )
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self._sessions[allow_loopback] = session
        return session

    async def _send(self, job: _Job) -> _Outcome:
        allow_loopback = self._allow_loopback(job.livemode)
        host = urlsplit(job.url).hostname or ""
        refused = check_host(host, allow_loopback=allow_loopback)
        if refused is not None:  # an IP address: no name to resolve, so checked here
            return _Outcome(None, 0, "", f"refused: the URL points to {refused}")
        headers = signing.headers(job.event_id, job.body, job.secrets, int(time.time()))
        started = time.perf_counter()
        try:
            async with self._session(allow_loopback).post(
                job.url, data=job.body, headers=headers, allow_redirects=False
            ) as response:
                answer = await response.content.read(ANSWER_KEPT)
                status = response.status
        except asyncio.TimeoutError:
            return _Outcome(None, _ms(started), "", f"timed out after {self.timeout:g} s")
        except (aiohttp.ClientError, OSError, ValueError) as error:
            return _Outcome(None, _ms(started), "", _describe(error))
        return _Outcome(status, _ms(started), answer.decode("utf-8", "replace"), None)

    def delay_after(self, attempts: int) -> timedelta:
        """The pause after the `attempts`-th failed try, with up to 20 % jitter either way."""
        base = self.delays[min(attempts, len(self.delays)) - 1]
        return timedelta(seconds=base * random.uniform(0.8, 1.2))

    async def _record_batches(self) -> None:
        """Write the outcomes waiting, a batch per transaction, until none is left."""
        while self._results:
            await asyncio.sleep(0.02)  # let the sends finishing now join this batch
            batch, self._results = self._results, []
            try:
                await self._record([(job, outcome) for job, outcome, _ in batch])
            except Exception as error:
                for _, _, recorded in batch:
                    if not recorded.done():
                        recorded.set_exception(error)
                continue
            for _, _, recorded in batch:
                if not recorded.done():
                    recorded.set_result(None)

    async def _record(self, outcomes: list[tuple[_Job, _Outcome]]) -> None:
        now = utcnow()
        async with self.db.write() as session:
            # Locks in id order, endpoints first: never two transactions waiting on each other.
            endpoints = await repository.lock_endpoints(
                session, {j.endpoint_id for j, _ in outcomes}
            )
            deliveries = await repository.lock_deliveries(
                session, {job.delivery_id for job, _ in outcomes}
            )
            attempts = []
            for job, outcome in outcomes:
                delivery = deliveries[job.delivery_id]
                endpoint = endpoints[job.endpoint_id]
                attempts.append(
                    WebhookAttempt(
                        delivery_id=delivery.id,
                        attempted_at=now,
                        status_code=outcome.status_code,
                        duration_ms=outcome.duration_ms,
                        response_body=outcome.answer[:ANSWER_KEPT],
                        error=outcome.error[:255] if outcome.error else None,
                    )
                )
                await self._apply(session, delivery, endpoint, outcome, now)
            await repository.add_all(session, attempts)

    async def _apply(
        self,
        session: AsyncSession,
        delivery: WebhookDelivery,
        endpoint: WebhookEndpoint,
        outcome: _Outcome,
        now: datetime,
    ) -> None:
        delivery.attempts += 1
        delivery.lease_until = None
        if outcome.ok:
            delivery.status = DELIVERED
            delivery.delivered_at = now
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
            return
        if now - delivery.created_at >= self.give_up:
            delivery.status = FAILED
            WEBHOOK_GIVEN_UP.inc()
        else:
            delivery.next_attempt_at = now + self.delay_after(delivery.attempts)
        if endpoint.failing_since is None:
            endpoint.failing_since = now
        elif now - endpoint.failing_since >= self.give_up and endpoint.status == ENABLED:
            endpoint.status = DISABLED
            endpoint.disabled_reason = "failing"
            log.warning("webhook endpoint %s disabled: failing for too long", endpoint.id)
            await outbox.record(
                session,
                outbox.ENDPOINT_DISABLED,
                object_id=endpoint.id,
                merchant_id=endpoint.merchant_id,
                livemode=endpoint.livemode,
                data=dict(service.render(endpoint)),
                now=now,
            )


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _describe(error: BaseException) -> str:
    cause = getattr(error, "os_error", None) or error.__cause__
    if isinstance(cause, AddressRefused):
        return f"refused: {cause.args[0]}"[:200]
    text = str(error) or type(error).__name__
    return text[:200]
