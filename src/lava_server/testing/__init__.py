"""Testing support shipped with the server: the fakes (an AI provider, Stripe) and a threaded
uvicorn runner. See docs/fakes.md.

Used by the project's tests, the demo and the benchmarks; importable by downstream test suites too.
"""

from lava_server.testing.fake_provider import create_fake_provider_app, run
from lava_server.testing.fake_stripe import FakeStripe, create_fake_stripe_app
from lava_server.testing.server import ServerThread, serve_in_thread

__all__ = [
    "FakeStripe",
    "ServerThread",
    "create_fake_provider_app",
    "create_fake_stripe_app",
    "run",
    "serve_in_thread",
]
