"""Testing support shipped with the server: a fake AI provider and a threaded uvicorn runner.

Used by the project's tests, the demo and the benchmarks; importable by downstream test suites too.
"""

from lava_server.testing.fake_provider import create_fake_provider_app, run
from lava_server.testing.server import ServerThread, serve_in_thread

__all__ = ["ServerThread", "create_fake_provider_app", "run", "serve_in_thread"]
