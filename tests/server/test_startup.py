"""Start-up checks in process: the settings that share a prefix with the per-provider variables.
(The command itself: e2e.)"""

from __future__ import annotations

import pytest

from lava_server.app import create_app
from lava_server.db.engine import Database
from lava_server.settings import Settings


def test_upstream_timeouts_are_settings_not_providers(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LAVA_UPSTREAM_CONNECT_TIMEOUT shares the prefix of LAVA_UPSTREAM_<PROVIDER>."""
    monkeypatch.setenv("LAVA_UPSTREAM_CONNECT_TIMEOUT", "5")
    monkeypatch.setenv("LAVA_UPSTREAM_OPENAI", "http://127.0.0.1:9100")
    app = create_app(settings, db)
    assert app.state.forward.origins == {"openai": "http://127.0.0.1:9100"}
