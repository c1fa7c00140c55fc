"""`lava demo`: the whole product at once, on a fresh SQLite file, offline.

One process serves, each in its own thread (`lava_server.testing.serve_in_thread`):

- the Lava app (`create_app`, as `lava serve` runs it, worker loops included), wired by its
  settings to the three fakes below, so that sandbox and live mode both work;
- the fake AI provider (`LAVA_UPSTREAM_OPENAI`, `LAVA_UPSTREAM_ANTHROPIC`), the fake Stripe (live
  payments: `LAVA_PAYMENT_PROVIDER=stripe` with an `sk_live_` key) and the fake Twilio (live
  one-time codes).

Then, over real HTTP, it creates meters, a plan and 20 funded customers, and drives traffic through
the forward proxy and `POST /v1/requests`. To give the dashboard a week of history, the server's one
clock (`timeutil.clock`, replaceable by design) runs fast while the traffic flows: it starts seven
days in the past and catches up with the real time at the end of the traffic, never going backwards,
then stays the real time. Every record (requests, holds, ledger entries, roll-ups) is written by
the server's own code paths at the time the server believes it is, so `lava ledger check` is clean.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from lava_server import startup, timeutil
from lava_server.app import create_app
from lava_server.dashboard import users as dashboard_users
from lava_server.db.engine import Database
from lava_server.merchants import service as merchants
from lava_server.settings import Settings
from lava_server.testing import ServerThread
from lava_server.testing.fake_provider import create_fake_provider_app
from lava_server.testing.fake_stripe import create_fake_stripe_app
from lava_server.testing.fake_twilio import (
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    DEFAULT_FROM,
    create_fake_twilio_app,
)
from lavapayments.forward_token import encode_forward_token

HISTORY = timedelta(days=7)
CUSTOMERS = 20
FIRST_CUSTOMERS = 12  # at the start of the week; the others sign up during it
STRIPE_SECRET = "sk_live_demo"
STRIPE_PUBLISHABLE = "pk_live_demo"
STRIPE_WEBHOOK_SECRET = "whsec_demo"
PROVIDER_KEY = "sk-demo"

FIRST_NAMES = (
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Guido",
    "Hedy",
    "Tim",
    "Katherine",
    "John",
    "Annie",
    "Donald",
    "Sophie",
    "Niklaus",
)
LAST_NAMES = (
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Liskov",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Rossum",
    "Lamarr",
    "Berners-Lee",
    "Johnson",
    "Backus",
    "Easley",
    "Knuth",
    "Wilson",
    "Wirth",
)
PROMPTS = (
    "Summarise this support ticket in two sentences.",
    "Translate the following paragraph into French, keeping the tone informal.",
    "Write a SQL query listing the ten customers with the most orders last month.",
    "Suggest three names for a coffee shop run by robots.",
    "Explain the difference between a hold and a settlement to a new accountant.",
    "Draft a polite reply declining the meeting on Thursday.",
)


class FastClock:
    """Seven days ago from `begin()` on, standing still while the demo sets itself up (the
    customers and plans exist from the first day of the history), then, from `run()`, running
    `speed` times faster than the real time until it meets the real time (after `span` real
    seconds), then the real time. Monotonic throughout.

    Were it already running during the setup, a slow machine's setup would eat the history's
    first day (at the speed of a 12-second demo, one real second is 14 hours)."""

    def __init__(self, span: float) -> None:
        self.span = span
        self.speed = HISTORY.total_seconds() / span + 1
        self._start: datetime | None = None
        self._began: float | None = None

    def begin(self) -> None:
        """From now on the clock says seven days ago, and stands still until `run()`."""
        self._start = datetime.now(timezone.utc) - HISTORY

    def run(self) -> None:
        """From now on the clock runs fast, from seven days ago (never behind where it stood)
        toward the real time."""
        self._start = datetime.now(timezone.utc) - HISTORY
        self._began = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self._began if self._began is not None else 0.0

    def __call__(self) -> datetime:
        real = datetime.now(timezone.utc)
        if self._start is None:
            return real
        simulated = self._start + timedelta(seconds=self.elapsed() * self.speed)
        return min(simulated, real)


@dataclass
class Customer:
    id: str
    name: str
    weight: float  # how busy this customer is


@dataclass
class World:
    secret_key: str
    live_key: str
    meters: list[str]  # slugs: chat (forward proxy), reports
    customers: list[Customer] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)


@dataclass
class DemoResult:
    base_url: str
    secret_key: str
    live_key: str
    sign_in_link: str
    customer_id: str
    requests: int
    live_checkout_url: str


def _busy(moment: datetime) -> float:
    """Traffic by the hour of the day: quiet at night, busiest mid-afternoon (UTC), calmer at
    weekends."""
    hour = moment.hour + moment.minute / 60
    day = max(0.0, math.sin(math.pi * (hour - 7) / 16)) if 7 <= hour <= 23 else 0.0
    weekend = 0.5 if moment.weekday() >= 5 else 1.0
    return (0.12 + day) * weekend


class Demo:
    def __init__(self, *, port: int, directory: Path, minutes: float, console: Console) -> None:
        self.port = port
        self.directory = directory
        self.traffic_seconds = max(5.0, minutes * 60)
        self.console = console
        self.servers: list[ServerThread] = []
        self.clock = FastClock(self.traffic_seconds)
        self.rng = random.Random(17)
        self._real_clock = timeutil.clock

    # --- start and stop

    def start(self) -> Settings:
        """The fakes, then Lava wired to them, on a fresh database in `directory`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        database = self.directory / "lava-demo.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        startup.check_port("127.0.0.1", self.port, ("--port", "--port"))
        provider = self._serve(create_fake_provider_app())
        twilio = self._serve(create_fake_twilio_app())
        stripe = self._serve(
            create_fake_stripe_app(
                webhook_url=f"http://127.0.0.1:{self.port}/v1/stripe/webhook",
                webhook_secret=STRIPE_WEBHOOK_SECRET,
                publishable_key=STRIPE_PUBLISHABLE,
            )
        )
        for name in ("OPENAI", "ANTHROPIC"):
            os.environ[f"LAVA_UPSTREAM_{name}"] = provider.url
            os.environ[f"LAVA_PROVIDER_KEY_{name}"] = PROVIDER_KEY
        settings = startup.load_settings(
            database_url=f"sqlite:///{database}",
            host="127.0.0.1",
            port=self.port,
            payment_provider="stripe",
            stripe_secret_key=STRIPE_SECRET,
            stripe_publishable_key=STRIPE_PUBLISHABLE,
            stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
            stripe_api_base=stripe.url,
            stripe_js_url=f"{stripe.url}/v3/",
            code_sender_live="twilio",
            twilio_account_sid=DEFAULT_ACCOUNT_SID,
            twilio_auth_token=DEFAULT_AUTH_TOKEN,
            twilio_from=DEFAULT_FROM,
            twilio_base_url=twilio.url,
            # The clock runs ~10,000 times faster during the traffic: a heartbeat a few real
            # seconds old would look hours old and the calls in flight be taken for abandoned.
            abandoned_after_seconds=30 * 86400,
            rate_limit_per_minute=1_000_000,
        )
        startup.open_database(settings.database_url)
        self.settings = settings
        self.fakes = {"provider": provider.url, "stripe": stripe.url, "twilio": twilio.url}
        return settings

    def _serve(self, app: Any, port: int = 0) -> ServerThread:
        server = ServerThread(app, port=port)
        self.servers.append(server)
        return server.start()

    def serve_lava(self) -> None:
        self._serve(create_app(self.settings), self.port)

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()
        self.servers.clear()
        timeutil.clock = self._real_clock

    # --- the story

    async def bootstrap(self) -> tuple[str, str, str]:
        """The sandbox merchant (as `lava serve`'s first start makes it) and a live key."""
        db = Database(self.settings.database_url, pool_size=1)
        try:
            new_key = await merchants.bootstrap(db)
            if new_key is None:
                raise RuntimeError("the demo's database is not empty")
            live = await merchants.create_key(db, new_key.merchant_id, livemode=True)
            return new_key.merchant_id, new_key.secret_key, live.secret_key
        finally:
            await db.dispose()

    async def sign_in_link(self, merchant_id: str) -> str:
        db = Database(self.settings.database_url, pool_size=1)
        try:
            token = await dashboard_users.create_owner(db, self.settings, merchant_id)
            return dashboard_users.link_url(self.settings, token)
        finally:
            await db.dispose()

    async def setup(self, client: httpx.AsyncClient, secret_key: str, live_key: str) -> World:
        auth = {"Authorization": f"Bearer {secret_key}"}
        chat = await _post(
            client,
            "/v1/meters",
            auth,
            {
                "name": "Assistant chat",
                "meter_slug": "chat",
                "rate_type": "fixed",
                "tier_type": "tokens_1m",
                "tiers": [{"start": "0", "rate": "12"}, {"start": "2000000", "rate": "8"}],
            },
        )
        await _post(
            client,
            "/v1/meters",
            auth,
            {
                "name": "Document analysis",
                "meter_slug": "documents",
                "rate_type": "fixed",
                "tier_type": "tokens_1m",
                "tiers": [{"start": "0", "rate": "20"}],
            },
        )
        await _post(
            client,
            "/v1/plans",
            auth,
            {
                "name": "Pro",
                "period_amount": "20",
                "billing_interval": "month",
                "included_credit": "20",
                "meter_ids": [chat["meter_id"] if "meter_id" in chat else chat["id"]],
                "credit_bundles": [{"name": "Boost", "cost": "10", "credit_amount": "10"}],
            },
        )
        world = World(secret_key=secret_key, live_key=live_key, meters=["chat", "documents"])
        for index in range(FIRST_CUSTOMERS):
            await self.add_customer(client, world, index)
        return world

    async def add_customer(self, client: httpx.AsyncClient, world: World, index: int) -> None:
        first, last = FIRST_NAMES[index % len(FIRST_NAMES)], LAST_NAMES[index % len(LAST_NAMES)]
        balance = Decimal(self.rng.choice((25, 50, 50, 100, 200)))
        made = await _post(
            client,
            "/v1/test_helpers/connections",
            {"Authorization": f"Bearer {world.secret_key}"},
            {
                "balance": str(balance),
                "reference_id": f"user_{index + 1:03d}",
                "email": f"{first.lower()}.{last.lower()}@example.com",
                "first_name": first,
                "last_name": last,
            },
        )
        world.customers.append(
            Customer(made["connection_id"], f"{first} {last}", self.rng.uniform(0.3, 3))
        )

    async def one_call(self, client: httpx.AsyncClient, world: World, number: int) -> None:
        """One customer's call: through the forward proxy (OpenAI or Anthropic, sometimes
        streamed) or reported with `POST /v1/requests`; now and then a top-up."""
        rng = self.rng
        customer = rng.choices(world.customers, [c.weight for c in world.customers])[0]
        kind = rng.random()
        prompt = " ".join(rng.choices(PROMPTS, k=rng.randrange(1, 6)))
        if kind < 0.02:
            response = await client.post(
                f"/v1/test_helpers/connections/{customer.id}/fund",
                headers={"Authorization": f"Bearer {world.secret_key}"},
                json={"amount": str(rng.choice((10, 20, 50)))},
            )
            world.statuses[
                "top-up" if response.is_success else f"top-up {response.status_code}"
            ] += 1
            return
        if kind < 0.40:
            body = {
                "request_id": f"demo-{number}-{rng.getrandbits(32):08x}",
                "customer_id": customer.id,
                "meter_slug": "documents",
                "input_tokens": rng.randrange(500, 12000),
                "output_tokens": rng.randrange(50, 1500),
                "provider": "openai",
                "model": "gpt-4o",
                "metadata": {"feature": rng.choice(("summary", "extract", "classify"))},
            }
            response = await client.post(
                "/v1/requests", headers={"Authorization": f"Bearer {world.secret_key}"}, json=body
            )
            world.statuses[f"report {response.status_code}"] += 1
            return
        token = encode_forward_token(
            secret_key=world.secret_key, customer_id=customer.id, meter_slug="chat"
        )
        headers = {"Authorization": f"Bearer {token}"}
        max_tokens = rng.randrange(32, 600)
        if kind < 0.75:
            url = "/v1/forward?u=https://api.openai.com/v1/chat/completions"
            body = {
                "model": rng.choice(("gpt-4o-mini", "gpt-4o-mini", "gpt-4o")),
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_tokens,
            }
            label = "openai"
        else:
            url = "/v1/forward?u=https://api.anthropic.com/v1/messages"
            headers["anthropic-version"] = "2023-06-01"
            body = {
                "model": "claude-3-5-haiku-latest",
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_tokens,
            }
            label = "anthropic"
        if rng.random() < 0.25:
            body["stream"] = True
            if label == "openai":
                body["stream_options"] = {"include_usage": True}
            async with client.stream("POST", url, headers=headers, json=body) as streamed:
                async for _ in streamed.aiter_bytes():
                    pass
                status = streamed.status_code
            label += " stream"
        else:
            status = (await client.post(url, headers=headers, json=body)).status_code
        world.statuses[f"{label} {status}"] += 1

    async def traffic(self, client: httpx.AsyncClient, world: World, progress: Progress) -> int:
        task = progress.add_task("traffic", total=self.traffic_seconds, day="", calls=0)
        self.clock.run()
        sent = 0
        joined = FIRST_CUSTOMERS
        joins = sorted(self.rng.uniform(0.05, 0.9) for _ in range(CUSTOMERS - FIRST_CUSTOMERS))
        lock = asyncio.Lock()

        async def worker() -> None:
            nonlocal sent, joined
            while self.clock.elapsed() < self.traffic_seconds:
                async with lock:
                    share = self.clock.elapsed() / self.traffic_seconds
                    while joins and share >= joins[0]:
                        joins.pop(0)
                        await self.add_customer(client, world, joined)
                        joined += 1
                    sent += 1
                    number = sent
                await self.one_call(client, world, number)
                busy = _busy(self.clock())
                await asyncio.sleep(0.04 / busy * self.rng.uniform(0.5, 1.5))

        async def show() -> None:
            while self.clock.elapsed() < self.traffic_seconds:
                progress.update(
                    task,
                    completed=self.clock.elapsed(),
                    day=self.clock().strftime("%a %d %b %H:%M"),
                    calls=sent,
                )
                await asyncio.sleep(0.2)

        await asyncio.gather(show(), *(worker() for _ in range(4)))
        while joins:  # a very short run: everyone still signs up
            joins.pop(0)
            await self.add_customer(client, world, joined)
            joined += 1
        progress.update(task, completed=self.traffic_seconds, day="now", calls=sent)
        return sent

    async def live_checkout(self, client: httpx.AsyncClient, world: World) -> str:
        """A live customer and a live top-up checkout, paid through the fake Stripe."""
        auth = {"Authorization": f"Bearer {world.live_key}"}
        customer = await _post(
            client,
            "/v1/customers",
            auth,
            {"reference_id": "live_user_001", "name": "Live Demo", "phone": "+15555550123"},
        )
        session = await _post(
            client,
            "/v1/checkout_sessions",
            auth,
            {
                "checkout_mode": "topup",
                "origin_url": f"http://127.0.0.1:{self.port}",
                "customer_id": customer.get("customer_id") or customer["id"],
            },
        )
        token = json.loads(base64.b64decode(session["checkout_session_token"]))
        return f"{token['base']}embed/checkout/{token['secret']}"

    async def run(self) -> DemoResult:
        base = f"http://127.0.0.1:{self.port}"
        timeutil.clock = self.clock
        self.clock.begin()
        merchant_id, secret_key, live_key = await self.bootstrap()
        self.serve_lava()
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            with Progress(
                TextColumn("[bold]{task.description}[/bold]"),
                BarColumn(),
                TextColumn("{task.fields[day]:>16}"),
                TextColumn("{task.fields[calls]:>6} calls"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            ) as progress:
                setup = progress.add_task("setup", total=1, day="", calls=0)
                world = await self.setup(client, secret_key, live_key)
                progress.update(setup, completed=1)
                sent = await self.traffic(client, world, progress)
            live_url = await self.live_checkout(client, world)
        link = await self.sign_in_link(merchant_id)
        summary = ", ".join(f"{name}: {count}" for name, count in sorted(world.statuses.items()))
        self.console.print(f"Traffic: {sent} calls ({summary})", soft_wrap=True)
        return DemoResult(
            base_url=f"{base}/v1/",
            secret_key=secret_key,
            live_key=live_key,
            sign_in_link=link,
            customer_id=world.customers[0].id,
            requests=sent,
            live_checkout_url=live_url,
        )


async def _post(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(path, headers=headers, json=body)
    if not response.is_success:
        raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text}")
    answer: dict[str, Any] = response.json()
    return answer


def snippets(result: DemoResult) -> tuple[str, str]:
    """A ready-to-run `curl` and Python snippet."""
    curl = (
        f'curl -s -H "Authorization: Bearer {result.secret_key}" '
        f'"{result.base_url}customers/{result.customer_id}"'
    )
    week_ago = (datetime.now(timezone.utc) - HISTORY).strftime("%Y-%m-%dT00:00:00Z")
    python = (
        f"{sys.executable} - <<'EOF'\n"
        "from lavapayments import Lava\n"
        f'lava = Lava("{result.secret_key}", base_url="{result.base_url}")\n'
        f'usage = lava.usage.retrieve(start="{week_ago}")\n'
        "for day in usage.items:\n"
        "    print(day.date, day.total_requests, day.total_request_cost)\n"
        "print(lava.connections.list().data[0].wallet.balance)\n"
        "EOF"
    )
    return curl, python


def _stop(signum: int, _frame: object) -> None:
    # A KeyboardInterrupt, as Python's own SIGINT handler raises: asyncio lets it through
    # wherever it lands (another exception raised in a callback would only be logged).
    raise KeyboardInterrupt


def main(
    *, port: int, directory: Path | None, minutes: float, keep_running: bool, console: Console
) -> int:
    """Run the demo; 0 on success and on Ctrl-C (SIGINT) or SIGTERM."""
    where = directory or Path(tempfile.mkdtemp(prefix="lava-demo-"))
    demo = Demo(port=port, directory=where, minutes=minutes, console=console)
    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    started = time.monotonic()
    try:
        settings = demo.start()
        console.print(
            f"Demo database: {where / 'lava-demo.db'}\n"
            f"Fakes: AI provider {demo.fakes['provider']}, Stripe {demo.fakes['stripe']}, "
            f"Twilio {demo.fakes['twilio']}",
            soft_wrap=True,
        )
        result = asyncio.run(demo.run())
        curl, python = snippets(result)
        console.print(
            f"\n[bold green]Lava demo ready[/bold green] in {time.monotonic() - started:.0f} s: "
            f"20 customers, {result.requests} calls over the past 7 days.\n"
            f"Dashboard sign-in link (works once, for {settings.dashboard_link_minutes} minutes): "
            f"{result.sign_in_link}\n"
            f"API base URL: {result.base_url}\n"
            f"Secret key (sandbox): {result.secret_key}\n"
            f"Secret key (live, paid through the fake Stripe): {result.live_key}",
            soft_wrap=True,
            highlight=False,
        )
        console.print(
            f"A live top-up checkout (card 4242 4242 4242 4242; the code arrives at the fake "
            f"Twilio, {demo.fakes['twilio']}/_fake/messages): {result.live_checkout_url}",
            soft_wrap=True,
            highlight=False,
        )
        console.print(f"\ncurl:\n{curl}\n\nPython:\n{python}\n", soft_wrap=True, highlight=False)
        if keep_running:
            console.print("Serving until Ctrl-C.")
            console.file.flush()
            while True:
                time.sleep(3600)
        return 0
    except KeyboardInterrupt:
        console.print("\nStopping the demo.")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        demo.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
