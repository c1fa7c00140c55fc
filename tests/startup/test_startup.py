"""Start-up checks in process: the closest valid name of an unknown `LAVA_*` variable, and the
settings that share a prefix with the per-provider variables. (The command itself: e2e.)"""

from __future__ import annotations

import pytest

from lava_server.app import create_app
from lava_server.db.engine import Database
from lava_server.settings import Settings
from lava_server.startup import unknown_variables


def test_the_closest_valid_name_of_each_unknown_variable() -> None:
    env = dict.fromkeys(
        [
            "PATH",
            "LAVA_PRT",
            "LAVA_FOO",
            "LAVA_UPSTRAEM_OPENAI",
            "LAVA_UPSTREAM_CONECT_TIMEOUT",
            "LAVA_UPSTREAM_FOO",
            "LAVA_PROVIDER_KEY_GOOGLE_OPENAI_COMPATIBL",
            "lava_port",
            "LAVA_SDK_TEST_BASE_URL",
        ],
        "x",
    )
    found = {
        variable.name: (variable.closest, variable.provider) for variable in unknown_variables(env)
    }
    assert found == {
        "LAVA_PRT": ("LAVA_PORT", None),
        "LAVA_FOO": (None, None),
        "LAVA_UPSTRAEM_OPENAI": ("LAVA_UPSTREAM_OPENAI", None),
        "LAVA_UPSTREAM_CONECT_TIMEOUT": ("LAVA_UPSTREAM_CONNECT_TIMEOUT", "CONECT_TIMEOUT"),
        "LAVA_UPSTREAM_FOO": (None, "FOO"),
        "LAVA_PROVIDER_KEY_GOOGLE_OPENAI_COMPATIBL": (
            "LAVA_PROVIDER_KEY_GOOGLE_OPENAI_COMPATIBLE",
            "GOOGLE_OPENAI_COMPATIBL",
        ),
    }


def test_upstream_timeouts_are_settings_not_providers(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LAVA_UPSTREAM_CONNECT_TIMEOUT shares the prefix of LAVA_UPSTREAM_<PROVIDER>."""
    monkeypatch.setenv("LAVA_UPSTREAM_CONNECT_TIMEOUT", "5")
    monkeypatch.setenv("LAVA_UPSTREAM_OPENAI", "http://127.0.0.1:9100")
    app = create_app(settings, db)
    assert app.state.forward.origins == {"openai": "http://127.0.0.1:9100"}
