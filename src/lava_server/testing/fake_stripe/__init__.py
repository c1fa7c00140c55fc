"""A fake Stripe: Stripe's REST API (v1, form-encoded), its webhooks and a stand-in for Stripe.js,
offline and in memory, so that the official ``stripe`` library and a browser page work against it
unchanged.

>>> client = stripe.StripeClient("sk_test_x", base_addresses={"api": fake_url})  # doctest: +SKIP

Keys. ``Authorization: Bearer`` (or Basic) with ``sk_test_``/``sk_live_`` (``rk_`` too): the mode of
the key is the ``livemode`` of what it creates, and a key sees only its mode's objects. A
publishable key (``pk_test_``/``pk_live_``, in the header or as the ``key`` form field as Stripe.js
sends it; when the fake is given one, only that one) may only create payment methods and retrieve
or confirm an intent whose ``client_secret`` it passes (anything else: Stripe's 403). No key, or
another kind: Stripe's 401.

Idempotency. A POST's ``Idempotency-Key`` (per API key) replays the first answer (header
``Idempotent-Replayed: true``) for the same path and parameters, and answers Stripe's 400
``idempotency_error`` for others. Answers to invalid parameters are not kept, as at Stripe.

Routes (``expand[]`` accepted everywhere: ids at the named paths are replaced by their objects):

======================================================  ========================================
``POST/GET /v1/customers``, ``GET/POST .../{id}``       create, list (``email``), retrieve,
                                                        update (``invoice_settings``)
``GET /v1/customers/{id}/payment_methods``              a customer's cards
``POST /v1/payment_methods`` (publishable key too)      ``type=card&card[number]=...``
``GET /v1/payment_methods?customer=``, ``.../{id}``     list, retrieve
``POST /v1/payment_methods/{id}/attach|detach``         ``payment_method.attached|detached``
``POST/GET /v1/payment_intents``, ``.../{id}``          create (``confirm``, ``off_session``,
                                                        ``setup_future_usage``...), list, update,
                                                        retrieve (publishable + client secret)
``POST /v1/payment_intents/{id}/confirm|cancel``        confirm (publishable + client secret too)
``POST /v1/setup_intents``, ``GET .../{id}``,           the same for saving a card
``POST .../{id}/confirm|cancel``
``GET /v1/charges``, ``.../{id}``                       charges (``amount_refunded``, ``refunded``)
``POST/GET /v1/refunds``, ``GET .../{id}``              ``payment_intent`` or ``charge``, ``amount``
``GET /v1/disputes``, ``.../{id}``, ``POST .../close``  disputes (close = accept: ``lost``)
``GET /v1/events``, ``.../{id}``                        the events, newest first
``GET /v3/``                                            the Stripe.js stand-in
======================================================  ========================================

Cards: see :data:`.cards.TEST_CARDS` (4242 succeeds; 4000002500003155 asks for 3-D Secure on
session and declines ``authentication_required`` off session unless set up with 3-D Secure;
4000002760003184 always asks on session and always declines off session; 0002
``generic_decline``; 9995 ``insufficient_funds``; 0069 ``expired_card``; 0119
``processing_error``) and Stripe's ``pm_card_...`` test payment methods. Capture is automatic only.

Controls (no key; JSON or form bodies):

=============================================================  ==================================
``GET /_fake/health``                                          ``{"ok": true}``
``POST /_fake/reset``                                          forget every object, event,
                                                               delivery, request, idempotency key
``GET|DELETE /_fake/requests``                                 the API requests recorded
``GET|POST /_fake/webhook``                                    ``url``, ``secret``,
                                                               ``enabled_events``,
                                                               ``max_attempts``, ``retry_seconds``,
                                                               ``timeout_seconds``
``GET /_fake/deliveries[?event=evt_...]``                      every delivery attempt
``POST /_fake/drain`` ``{timeout}``                            wait for deliveries under way
``POST /_fake/events/{id}/deliver`` ``{times, concurrently}``  deliver an event again, N times
``POST /_fake/events/deliver`` ``{events: [...], times}``      deliver several at once
``POST /_fake/charges/{id}/refund`` ``{amount?, reason?}``     a dashboard refund
``POST /_fake/charges/{id}/dispute`` ``{amount?, reason?}``    the cardholder disputes
``POST /_fake/disputes/{id}/close`` ``{status: won|lost}``     the dispute closes
``POST /_fake/payment_intents/{id}/authenticate``              the customer completes or fails
``{result: complete|fail}`` (``setup_intents`` too)            the 3-D Secure challenge
``GET /_fake/three_d_secure/{id}``                             the challenge as a page (the
                                                               ``redirect_to_url`` of a server
                                                               confirmation with ``return_url``)
=============================================================  ==================================

Webhooks: see :mod:`.events`. Layout: :mod:`.forms` (form decoding), :mod:`.params`,
:mod:`.errors`, :mod:`.cards`, :mod:`.store` (objects and what each call does), :mod:`.events`,
:mod:`.app` (HTTP, keys, idempotency, controls).
"""

from lava_server.testing.fake_stripe.app import FakeStripe, create_fake_stripe_app, run
from lava_server.testing.fake_stripe.cards import TEST_CARDS, TEST_PAYMENT_METHODS
from lava_server.testing.fake_stripe.events import API_VERSION, sign

__all__ = [
    "API_VERSION",
    "TEST_CARDS",
    "TEST_PAYMENT_METHODS",
    "FakeStripe",
    "create_fake_stripe_app",
    "run",
    "sign",
]
