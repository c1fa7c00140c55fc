"""The checkout page's steps, as the server keeps them on the checkout session.

    onboarding:    details → code → amount → pay → done
    topup:                   code → amount → pay → done
    subscription:  details → code →          pay → done   (no details with a connection_id)

Each action checks its input before changing anything; a refusal is a `FormError` and leaves the
session as it was (a wrong code uses up one of its tries, which is the point of counting them).
An action for a step the session has left (a double submit, a stale tab) changes nothing either
(`StaleStep`): the page then shows the current step.

Paying claims a pending payment whose idempotency key is the session's payment step and attempt
number, charges it with that key, and settles it in one transaction that credits the wallet,
creates the connection (and the subscription), and completes the session, only if the payment was
still pending. A repeated submit re-drives the same pending payment, so it is charged and credited
once; only a declined payment lets the next submit start a new attempt.

A code is committed (and counted against the hourly send limits, `send_limits`) before it is
sent, outside any transaction; when it cannot be sent, all of that is put back and the page says
why, so the customer can simply try again. The customer chooses where the code goes (`phone` or
`email`, `code_channel`) among what the mode's code senders deliver to (`channels_of`).

A live session takes nothing while live mode is not configured (`Billing.live_mode_missing`):
its page says so and every action is refused. Its page never takes typed card details either:
those are for sandbox test cards, and a live card is collected in the provider's own fields.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lava_server import outbox
from lava_server.checkout import codes, forms, repository, service
from lava_server.checkout.forms import FormError
from lava_server.checkout.send_limits import Reservation, SendLimits
from lava_server.connections import repository as connections
from lava_server.connections.service import contact_of
from lava_server.db.models import (
    ActiveSubscription,
    CheckoutSession,
    Connection,
    CreditBundle,
    Payment,
    PaymentMethod,
    SubscriptionConfig,
    Wallet,
)
from lava_server.ids import new_id, new_secret
from lava_server.merchants import repository as merchants
from lava_server.payments import repository as payment_records
from lava_server.payments import service as payments
from lava_server.payments.code_senders import CodeNotSent, Destination, Email, Phone
from lava_server.payments.context import Billing
from lava_server.payments.interface import CardRefused, ChargeResult, SavedCard
from lava_server.payments.repository import CHECKOUT, FAILED, PENDING, SUCCEEDED
from lava_server.pricing import MAX_AMOUNT
from lava_server.subscriptions import repository as subscriptions
from lava_server.subscriptions import service as subscription_service
from lava_server.wallets import autopay
from lava_server.wallets import repository as wallets
from lava_server.wallets.ledger import lock_wallet
from lava_server.wallets.service import credit_payment

log = logging.getLogger("lava_server.checkout")

# A checkout payment left pending (the page's request died mid-charge) is finished by the worker
# after this long, with the same idempotency key.
WORKER_TAKES_OVER_AFTER = timedelta(minutes=2)


class Step(enum.Enum):
    DETAILS = "details"
    CODE = "code"
    AMOUNT = "amount"
    PAY = "pay"
    DONE = "done"
    EXPIRED = "expired"
    UNAVAILABLE = "unavailable"  # a live session while live mode is not configured


# The steps at which a session can still take something.
_OPEN = (Step.DETAILS, Step.CODE, Step.AMOUNT, Step.PAY)


class StaleStep(Exception):
    """The action belongs to a step the session is no longer at: nothing was done."""


UNAVAILABLE_MESSAGE = (
    "This checkout cannot take payments: live payments are not set up on this server yet. "
    "Nothing was charged."
)
TYPED_CARDS_MESSAGE = (
    "Card details typed into this page are accepted on test checkouts only. Nothing was charged."
)


def _live_ready(billing: Billing, checkout: CheckoutSession) -> None:
    """Refuse any action of a live session while live mode is not configured."""
    if checkout.livemode and billing.live_mode_missing():
        raise FormError(UNAVAILABLE_MESSAGE, status=409)


def step_of(checkout: CheckoutSession, now: datetime) -> Step:
    if checkout.completed_at is not None:
        return Step.DONE
    if now >= checkout.expires_at:
        return Step.EXPIRED
    if checkout.phone is None:
        return Step.DETAILS
    if checkout.verified_at is None:
        return Step.CODE
    if checkout.mode != "subscription" and checkout.amount is None:
        return Step.AMOUNT
    return Step.PAY


def asks_details(checkout: CheckoutSession) -> bool:
    """Onboarding, and subscription without a connection, start with the customer's details
    (meaningful until the session completes and gets its connection)."""
    return checkout.mode != "topup" and checkout.connection_id is None


@dataclass(frozen=True)
class View:
    """Everything a page of the checkout shows."""

    checkout: CheckoutSession
    step: Step
    merchant_name: str
    plan: SubscriptionConfig | None
    processing: bool  # a payment is pending (being charged, or to be retried)
    paid: Payment | None  # the payment that completed the session
    balance: Decimal | None  # the wallet's spendable balance once done
    already_subscribed: bool  # subscription mode: the wallet has an active subscription
    channels: tuple[str, ...]  # where codes can go: ("phone",), ("email",) or both

    @property
    def sandbox(self) -> bool:
        return not self.checkout.livemode


async def load(billing: Billing, secret: str, now: datetime) -> View | None:
    async with billing.db.read() as session:
        checkout = await repository.by_secret(session, secret)
        if checkout is None:
            return None
        merchant = await merchants.get_merchant(session, checkout.merchant_id)
        plan = None
        if checkout.subscription_config_id is not None:
            plan = await subscriptions.config_by_id(session, checkout.subscription_config_id)
        history = await repository.payments(session, checkout.id)
        paid = next((p for p in history if p.status == SUCCEEDED), None)
        processing = any(p.status == PENDING for p in history)
        balance = None
        already_subscribed = False
        if checkout.wallet_id is not None:
            wallet = await wallets.get_wallet(session, checkout.wallet_id)
            if wallet is not None:
                balance = wallet.balance - wallet.held
            if checkout.mode == "subscription" and checkout.completed_at is None:
                running = await subscriptions.active_for_wallet(session, checkout.wallet_id)
                # The merchant's own subscription changes plan; another merchant's, or one to
                # this very plan, is in the way.
                already_subscribed = running is not None and (
                    running.merchant_id != checkout.merchant_id
                    or running.subscription_config_id == checkout.subscription_config_id
                )
    step = step_of(checkout, now)
    if step is Step.EXPIRED and processing:
        step = Step.PAY  # a payment started in time still finishes
    if step in _OPEN and checkout.livemode and billing.live_mode_missing():
        step = Step.UNAVAILABLE
    return View(
        checkout=checkout,
        step=step,
        merchant_name=merchant.name if merchant is not None else "",
        plan=plan,
        processing=processing,
        paid=paid,
        balance=balance,
        already_subscribed=already_subscribed,
        channels=channels_of(billing, checkout.livemode),
    )


async def _at_step(
    billing: Billing, session: AsyncSession, secret: str, now: datetime, expected: Step
) -> CheckoutSession:
    checkout = await repository.by_secret(session, secret, lock=True)
    if checkout is None:
        raise StaleStep()
    _live_ready(billing, checkout)
    step = step_of(checkout, now)
    if step is Step.EXPIRED:
        raise FormError("This checkout has expired. Nothing was charged.", status=410)
    if step is not expected:
        raise StaleStep()
    return checkout


async def _merchant_name(session: AsyncSession, merchant_id: str) -> str:
    merchant = await merchants.get_merchant(session, merchant_id)
    return merchant.name if merchant is not None else "Lava"


def channels_of(billing: Billing, livemode: bool) -> tuple[str, ...]:
    """Where this mode's code senders deliver (phone first); phone when live mode has none."""
    sender = billing.live_codes if livemode else billing.codes
    found = sender.channels if sender is not None else frozenset({"phone"})
    return tuple(channel for channel in ("phone", "email") if channel in found)


@dataclass(frozen=True)
class Asker:
    """Who asks for a code: the client address its limits count against, and those limits."""

    client: str
    limits: SendLimits


def _chosen_channel(
    billing: Billing, checkout: CheckoutSession, choice: str, email: str | None
) -> str:
    """The channel the customer chose (`code_channel`: `phone` or `email`), among those offered;
    without a choice, the one used before, else the first offered."""
    offered = channels_of(billing, checkout.livemode)
    if not choice:
        choice = checkout.code_channel or offered[0]
        if choice not in offered:
            choice = offered[0]
    if choice not in offered:
        raise FormError("Choose how to get your code: one of the options shown.", "code_channel")
    if choice == "email" and not email:
        raise FormError("There is no email address on file to send a code to.", "code_channel")
    return choice


def _destination(checkout: CheckoutSession) -> Destination:
    if checkout.code_channel == "email":
        assert checkout.email is not None
        return Email(checkout.email)
    assert checkout.phone is not None
    return Phone(checkout.phone)


_CODE_FIELDS = (
    "code_hash",
    "sandbox_code",
    "code_sent_at",
    "code_expires_at",
    "code_attempts",
    "codes_sent",
    "code_channel",
)
_DETAIL_FIELDS = ("phone", "email", "first_name", "last_name")


@dataclass(frozen=True)
class _Before:
    """What a checkout's code fields (and details) were before a code was issued: put back when
    the code could not be sent."""

    values: dict[str, object]

    @classmethod
    def of(cls, checkout: CheckoutSession, *, details: bool) -> _Before:
        names = _CODE_FIELDS + (_DETAIL_FIELDS if details else ())
        return cls({name: getattr(checkout, name) for name in names})

    def restore(self, checkout: CheckoutSession) -> None:
        for name, value in self.values.items():
            setattr(checkout, name, value)


@dataclass(frozen=True)
class _Pending:
    """A code issued and committed, to be sent now."""

    secret: str
    livemode: bool
    to: Destination
    code: str
    code_hash: str
    merchant_name: str
    before: _Before
    reservation: Reservation
    field: str | None  # where the page shows a refusal (None: above the form)


async def _issue(
    asker: Asker,
    session: AsyncSession,
    checkout: CheckoutSession,
    before: _Before,
    now: datetime,
    field: str | None,
) -> _Pending:
    """A new code for the checkout, counted against the send limits (in this transaction when
    the database counts them)."""
    code = codes.issue(checkout, now)
    to = _destination(checkout)
    reservation = await asker.limits.reserve(session, to, asker.client, now, field=field)
    assert checkout.code_hash is not None
    return _Pending(
        secret=checkout.secret,
        livemode=checkout.livemode,
        to=to,
        code=code,
        code_hash=checkout.code_hash,
        merchant_name=await _merchant_name(session, checkout.merchant_id),
        before=before,
        reservation=reservation,
        field=field,
    )


async def _deliver(billing: Billing, asker: Asker, pending: _Pending) -> None:
    """Send the committed code. When it could not be sent everything goes back as it was (the
    code fields, the session's count of codes, the hourly limits) and the page says why: the
    customer can try again at once."""
    minutes = int(codes.CODE_LIFETIME.total_seconds() // 60)
    try:
        await billing.codes_for(pending.livemode).send(
            pending.to,
            f"{pending.code} is your {pending.merchant_name} verification code. It expires in "
            f"{minutes} minutes.",
            livemode=pending.livemode,
        )
    except CodeNotSent as failure:
        await asker.limits.release(pending.reservation)
        async with billing.db.write() as session:
            checkout = await repository.by_secret(session, pending.secret, lock=True)
            if checkout is not None and checkout.code_hash == pending.code_hash:
                pending.before.restore(checkout)
        raise FormError(failure.message, pending.field, status=502) from None


async def submit_details(
    billing: Billing, asker: Asker, secret: str, form: Mapping[str, str], now: datetime
) -> None:
    checks = forms.Checks()
    phone = checks.run(lambda: forms.phone(form.get("phone", "")))
    email = checks.run(lambda: forms.email(form.get("email", "")))
    first_name = checks.run(
        lambda: forms.name(form.get("first_name", ""), "first_name", "first name")
    )
    last_name = checks.run(lambda: forms.name(form.get("last_name", ""), "last_name", "last name"))
    checks.done()
    assert phone is not None and email is not None
    pending = None
    try:
        async with billing.db.write() as session:
            checkout = await _at_step(billing, session, secret, now, Step.DETAILS)
            channel = _chosen_channel(billing, checkout, form.get("code_channel", ""), email)
            before = _Before.of(checkout, details=True)
            checkout.phone, checkout.email = phone, email
            checkout.first_name, checkout.last_name = first_name, last_name
            checkout.code_channel = channel
            pending = await _issue(asker, session, checkout, before, now, channel)
    except BaseException:
        if pending is not None:  # counted in Redis, but the transaction did not commit
            await asker.limits.release(pending.reservation)
        raise
    assert pending is not None
    await _deliver(billing, asker, pending)


async def send_code(
    billing: Billing, asker: Asker, secret: str, form: Mapping[str, str], now: datetime
) -> None:
    pending = None
    try:
        async with billing.db.write() as session:
            checkout = await _at_step(billing, session, secret, now, Step.CODE)
            email = checkout.email
            channel = _chosen_channel(billing, checkout, form.get("code_channel", ""), email)
            before = _Before.of(checkout, details=False)
            checkout.code_channel = channel
            pending = await _issue(asker, session, checkout, before, now, None)
    except BaseException:
        if pending is not None:
            await asker.limits.release(pending.reservation)
        raise
    assert pending is not None
    await _deliver(billing, asker, pending)


async def change_phone(billing: Billing, secret: str, now: datetime) -> None:
    async with billing.db.write() as session:
        checkout = await _at_step(billing, session, secret, now, Step.CODE)
        if checkout.connection_id is not None:
            raise StaleStep()  # the phone on file is the connection's
        checkout.phone = checkout.email = checkout.first_name = checkout.last_name = None
        checkout.code_channel = None
        codes.forget(checkout)


async def verify(billing: Billing, secret: str, form: Mapping[str, str], now: datetime) -> None:
    code = forms.code(form.get("code", ""))
    for attempt in range(2):
        try:
            async with billing.db.write() as session:
                checkout = await _at_step(billing, session, secret, now, Step.CODE)
                problem = codes.check(checkout, code, now)
                if problem is None and checkout.wallet_id is None:
                    problem = await _email_conflict(session, checkout)
                    if problem is not None:
                        codes.forget(checkout)
                        checkout.code_channel = "phone"
                if problem is None:
                    checkout.verified_at = now
                    if checkout.wallet_id is None:
                        checkout.wallet_id = await _wallet_for_phone(session, checkout, now)
            break
        except IntegrityError:
            # Another checkout created this phone's wallet at the same moment: use it.
            if attempt:
                raise
    if problem is not None:
        raise problem  # after the commit: the try it used up is kept


WALLET_NEEDS_PHONE = (
    "This phone number already has a wallet with another email address. Get your code by text "
    "message instead."
)


async def _email_conflict(session: AsyncSession, checkout: CheckoutSession) -> FormError | None:
    """A code sent by email proves the email address, not the phone: it reaches the phone's
    existing wallet only when that wallet has this email address."""
    if checkout.code_channel != "email":
        return None
    assert checkout.phone is not None and checkout.email is not None
    wallet = await connections.wallet_by_phone(session, checkout.phone, livemode=checkout.livemode)
    if wallet is None or (wallet.email or "").lower() == checkout.email.lower():
        return None
    return FormError(WALLET_NEEDS_PHONE, "code", status=409)


async def _wallet_for_phone(session: AsyncSession, checkout: CheckoutSession, now: datetime) -> str:
    """The wallet of the verified phone: the existing one (its blank details filled in) or a new
    one."""
    assert checkout.phone is not None
    wallet = await connections.wallet_by_phone(session, checkout.phone, livemode=checkout.livemode)
    if wallet is None:
        wallet = Wallet(
            id=new_id("wal", checkout.livemode),
            livemode=checkout.livemode,
            phone=checkout.phone,
            email=checkout.email,
            first_name=checkout.first_name,
            last_name=checkout.last_name,
            balance=Decimal(0),
            held=Decimal(0),
            autopay_enabled=False,
            period_credit=Decimal(0),
            created_at=now,
        )
        await wallets.add_wallet(session, wallet)
        return wallet.id
    wallet.email = wallet.email or checkout.email
    wallet.first_name = wallet.first_name or checkout.first_name
    wallet.last_name = wallet.last_name or checkout.last_name
    return wallet.id


async def choose_amount(
    billing: Billing, secret: str, form: Mapping[str, str], now: datetime
) -> None:
    settings = billing.settings
    amount = forms.amount(
        form.get("amount", ""), settings.checkout_min_amount, settings.checkout_max_amount
    )
    async with billing.db.write() as session:
        checkout = await _at_step(billing, session, secret, now, Step.AMOUNT)
        checkout.amount = amount


async def change_amount(billing: Billing, secret: str, now: datetime) -> None:
    async with billing.db.write() as session:
        checkout = await _at_step(billing, session, secret, now, Step.PAY)
        if (
            checkout.mode in ("subscription", "credit_bundle")
            or await repository.lock_pending_payment(session, checkout.id) is not None
        ):
            raise StaleStep()
        checkout.amount = None


async def pay(billing: Billing, secret: str, form: Mapping[str, str], now: datetime) -> None:
    """Charge the card and complete the checkout, at most once (see the module's docstring).
    While a payment of the session is pending, submitting again re-drives that payment (its
    card, its key) and ignores the card fields."""
    settings = billing.settings
    async with billing.db.read() as session:
        checkout = await repository.by_secret(session, secret)
        if checkout is None:
            raise StaleStep()
        _live_ready(billing, checkout)
        if checkout.livemode:
            raise FormError(TYPED_CARDS_MESSAGE, status=409)
        livemode, wallet_id = checkout.livemode, checkout.wallet_id
        redrive = any(p.status == PENDING for p in await repository.payments(session, checkout.id))
    saved: SavedCard | None = None
    autopay: forms.Autopay | None = None
    provider = billing.sandbox
    if not redrive:
        checks = forms.Checks()
        card = checks.run(lambda: forms.card(form, now))
        autopay = checks.run(
            lambda: forms.autopay(form, settings.checkout_min_amount, settings.checkout_max_amount)
        )
        checks.done()
        assert card is not None
        try:
            saved = await provider.save_card(card, customer_ref=wallet_id or "", livemode=livemode)
        except CardRefused as refused:
            raise FormError(refused.message, "card_number") from None

    async with billing.db.write() as session:
        checkout = await repository.by_secret(session, secret, lock=True)
        if checkout is None:
            raise StaleStep()
        payment = await repository.lock_pending_payment(session, checkout.id)
        if payment is None:
            # A new attempt: only now is the step checked (a pending payment still finishes
            # after the session's expiry).
            step = step_of(checkout, now)
            if step is Step.EXPIRED:
                raise FormError("This checkout has expired. Nothing was charged.", status=410)
            if step is not Step.PAY or saved is None:
                raise StaleStep()
            assert checkout.wallet_id is not None
            wallet = await lock_wallet(session, checkout.wallet_id)
            amount = checkout.amount
            if checkout.mode == "subscription":
                amount = await _subscription_amount(session, checkout)
            elif checkout.mode == "credit_bundle":
                amount = (await _bundle_bought(session, checkout))[0].cost
            if amount is None:  # a downgrade: nothing to charge now
                method = payments.save_method(
                    checkout.wallet_id, checkout.livemode, provider.name, saved, now
                )
                await payment_records.add_method(session, method)
                await _schedule_downgrade(session, checkout, method, now)
                await _record_completed(billing, session, checkout, now)
                return
            assert wallet is not None
            if wallet.balance + amount > MAX_AMOUNT:  # the range of money: checked before charging
                raise FormError(
                    f"This wallet can hold at most {forms.dollars(MAX_AMOUNT)}; it holds "
                    f"{forms.dollars(wallet.balance)} already. Nothing was charged.",
                    status=409,
                )
            method = payments.save_method(
                checkout.wallet_id, checkout.livemode, provider.name, saved, now
            )
            await payment_records.add_method(session, method)
            checkout.payment_attempts += 1
            checkout.autopay_threshold = autopay.threshold if autopay else None
            checkout.autopay_amount = autopay.amount if autopay else None
            payment = payments.new_payment(
                purpose=CHECKOUT,
                idempotency_key=f"{checkout.id}:pay:{checkout.payment_attempts}",
                method=method,
                amount=amount,
                merchant_id=checkout.merchant_id,
                now=now,
                next_attempt_at=now + WORKER_TAKES_OVER_AFTER,
                checkout_session_id=checkout.id,
            )
            await payment_records.add_payment(session, payment)
        request = await payments.charge_request(session, payment)
    result = await payments.charge(billing, request)
    problem = await settle(billing, request.payment_id, result, now)
    if problem is not None:
        raise FormError(problem, "card_number", status=402)


async def _subscription_amount(session: AsyncSession, checkout: CheckoutSession) -> Decimal | None:
    """What subscribing charges now: the plan's `period_amount`, or None for a downgrade of
    the merchant's own running subscription (`docs/current-api.md#checkout`), which is
    scheduled for the end of its cycle and charges nothing now."""
    assert checkout.wallet_id is not None and checkout.subscription_config_id is not None
    running = await subscriptions.active_for_wallet(session, checkout.wallet_id)
    if running is not None and running.merchant_id != checkout.merchant_id:
        raise FormError(
            "This wallet already has an active subscription. Nothing was charged.", status=409
        )
    if await repository.other_subscription_payment_pending(
        session, checkout.wallet_id, checkout.id
    ):
        raise FormError(
            "Another subscription payment for this wallet is in progress. Nothing was charged.",
            status=409,
        )
    config = await subscriptions.get_config(
        session, checkout.merchant_id, checkout.livemode, checkout.subscription_config_id
    )
    if config is None:
        raise FormError("This plan is no longer offered. Nothing was charged.", status=409)
    if running is not None:
        current = await subscriptions.config_by_id(session, running.subscription_config_id)
        assert current is not None
        if current.id == config.id:
            raise FormError(
                "This wallet already has an active subscription to this plan. Nothing was charged.",
                status=409,
            )
        if config.period_amount < current.period_amount:
            return None
    return config.period_amount


async def _bundle_bought(
    session: AsyncSession, checkout: CheckoutSession
) -> tuple[CreditBundle, ActiveSubscription]:
    """The bundle a `credit_bundle` checkout buys, and the subscription to the bundle's plan
    that it is bought for: both still there, or nothing is charged."""
    assert checkout.wallet_id is not None and checkout.credit_bundle_id is not None
    bundle = await subscriptions.get_bundle(
        session, checkout.merchant_id, checkout.livemode, checkout.credit_bundle_id
    )
    running = await subscriptions.active_for_wallet(session, checkout.wallet_id)
    if bundle is None or running is None or running.subscription_config_id != bundle.plan_id:
        raise FormError(
            "This credit bundle is no longer offered to you. Nothing was charged.", status=409
        )
    return bundle, running


async def _schedule_downgrade(
    session: AsyncSession, checkout: CheckoutSession, method: PaymentMethod, now: datetime
) -> None:
    """A cheaper plan starts when the running cycle ends; its renewals use this card."""
    assert checkout.wallet_id is not None and checkout.subscription_config_id is not None
    found = await subscriptions.active_for_wallet(session, checkout.wallet_id)
    assert found is not None
    running = await subscriptions.lock_subscription(session, found.id)
    running.pending_change = subscription_service.PENDING_DOWNGRADE
    running.pending_at = running.current_period_end
    running.pending_plan_id = checkout.subscription_config_id
    running.payment_method_id = method.id
    checkout.completed_at = now


async def settle(
    billing: Billing, payment_id: str, result: ChargeResult, now: datetime
) -> str | None:
    """Record a checkout payment's outcome and, when it succeeded, complete the session: all in
    one transaction, and only if the payment was still pending. Returns the message to show
    when the payment did not succeed."""
    async with billing.db.write() as session:
        found = await payment_records.get_payment(session, payment_id)
        assert found is not None and found.checkout_session_id is not None
        checkout = await repository.lock(session, found.checkout_session_id)
        await lock_wallet(session, found.wallet_id)
        payment = await payment_records.lock_payment(session, payment_id)
        assert payment is not None
        await settle_locked(billing, session, checkout, payment, result, now)
        status, message = payment.status, payment.failure_message
    if status == SUCCEEDED:
        return None
    if status == FAILED:
        return f"{message or 'Your card was declined.'} Nothing was charged; try another card."
    return (
        "The payment could not be completed right now. Please try again in a moment; "
        "you will not be charged twice."
    )


async def settle_locked(
    billing: Billing,
    session: AsyncSession,
    checkout: CheckoutSession,
    payment: Payment,
    result: ChargeResult,
    now: datetime,
) -> None:
    """`settle`'s work, for a caller that holds the locks of the session, the wallet and the
    payment (in that order): nothing unless the payment is still pending."""
    if payment.status != PENDING:
        return
    payments.record_outcome(payment, result, now)
    if payment.status != SUCCEEDED:
        return
    if checkout.completed_at is not None:
        # Paid twice (two tabs, say): the second payment is kept as credit, nothing else.
        log.warning("checkout %s was paid again by payment %s", checkout.id, payment.id)
        await credit_payment(session, payment, now)
        return
    await _complete(session, checkout, payment, now)
    await _record_completed(billing, session, checkout, now)


async def _record_completed(
    billing: Billing, session: AsyncSession, checkout: CheckoutSession, now: datetime
) -> None:
    """`checkout.completed`, in the transaction that completes the session: paid, or a
    downgrade scheduled (which charges nothing now)."""
    await outbox.record(
        session,
        outbox.CHECKOUT_COMPLETED,
        object_id=checkout.id,
        merchant_id=checkout.merchant_id,
        livemode=checkout.livemode,
        data=dict(service.render(checkout, billing.settings.public_base)),
        now=now,
    )


async def _complete(
    session: AsyncSession, checkout: CheckoutSession, payment: Payment, now: datetime
) -> None:
    await credit_payment(session, payment, now)
    wallet = await wallets.get_wallet(session, payment.wallet_id, fresh=True)
    assert wallet is not None
    connection_id = checkout.connection_id
    if connection_id is None:
        connection = Connection(
            id=new_id("con", checkout.livemode),
            merchant_id=checkout.merchant_id,
            livemode=checkout.livemode,
            wallet_id=wallet.id,
            reference_id=checkout.reference_id,
            secret=new_secret("cons", checkout.livemode),
            created_at=now,
            **contact_of(wallet),
        )
        await connections.add(session, connection)
        await outbox.record(
            session,
            outbox.CUSTOMER_CREATED,
            object_id=connection.id,
            merchant_id=checkout.merchant_id,
            livemode=checkout.livemode,
            now=now,
        )
        connection_id = connection.id
    if checkout.mode == "subscription":
        assert checkout.subscription_config_id is not None
        config = await subscriptions.config_by_id(session, checkout.subscription_config_id)
        method = await payment_records.get_method(session, payment.payment_method_id)
        assert config is not None and method is not None
        running = await subscriptions.active_for_wallet(session, wallet.id)
        if running is not None and running.merchant_id == checkout.merchant_id:
            # An upgrade (or leaving a free plan) applies at once: the old subscription ends.
            running = await subscriptions.lock_subscription(session, running.id)
            await subscription_service.end(session, running, subscription_service.REPLACED, now)
            await session.flush()
            running = None
        if running is None:
            await subscription_service.start(
                session,
                merchant_id=checkout.merchant_id,
                livemode=checkout.livemode,
                wallet_id=wallet.id,
                connection_id=connection_id,
                config=config,
                method=method,
                payment=payment,
                now=now,
            )
        else:  # a race the page's checks make all but impossible: keep the money as credit
            log.warning("checkout %s paid for a wallet already subscribed", checkout.id)
    if checkout.mode == "credit_bundle":
        bundle, running = await _bundle_bought(session, checkout)
        await subscription_service.bundle_bought(session, running, bundle, payment, now)
    if checkout.autopay_amount is not None:
        assert checkout.autopay_threshold is not None
        autopay.turn_on(
            wallet, threshold=checkout.autopay_threshold, amount=checkout.autopay_amount
        )
    checkout.completed_at = now
    checkout.connection_id = connection_id
