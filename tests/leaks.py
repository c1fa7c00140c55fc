"""No secret in any log of the whole suite (issue 17, point 3): a pytest plugin (loaded by
`tests/conftest.py`).

While the suite runs it records every secret created:

- in this process: every `secrets.token_urlsafe` draw (secret keys, spend keys, connection,
  product and checkout secrets, webhook signing secrets are all one);
- in `lava` subprocesses: every secret-shaped string (`aks_test_...`, `lava_sk_...`, ...) in the
  answers the tests receive through httpx, and in what `lava` commands print on stdout;
- forward tokens and other bearer credentials the tests send.

And every log: the records of this process's loggers (from INFO), the stderr of `lava` commands,
the output of `lava` processes read with `communicate()`, and the `*.log`, `*.err` and `*.out`
files the tests write under their temporary directories. At the end each pytest process looks
for its secrets in its logs (the token's random part, or a secret inside a base64 token such as
a forward or checkout token); the first process (the only one, or xdist's controller once its
workers are done) fails the run if any was found, naming the secret's start and the log.

Deliberate exceptions: the secret key a first `lava serve` prints once on its console (a line
saying "shown once"), and sandbox one-time codes, which the `log` code sender writes to the log
by design (six digits, never a live checkout's).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

_DIR_VARIABLE = "LAVA_TEST_LEAKS_DIR"
# A secret's random part: 32 bytes of `token_urlsafe` (43 characters).
_SECRET = re.compile(
    r"(?:aks|cons|css|ps|whsec)_(?:test|live)_([A-Za-z0-9_-]{43})|lava_sk_([A-Za-z0-9_-]{43})"
)
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{60,}={0,2}")
_SHOWN_ONCE = "shown once"
_SERVING = frozenset({"serve", "worker", "fake-provider", "fake-stripe", "fake-twilio"})
_LOG_SUFFIXES = (".log", ".err", ".out")
_MAX_FILE_BYTES = 50_000_000


class LeakWatch:
    """The secrets recorded and the log text seen by one pytest process."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()  # random parts (43 characters), or whole bearer tokens
        self.logs: list[tuple[str, str]] = []  # (where, text)

    # -- recording -----------------------------------------------------------------------------

    def record_drawn(self, token: str) -> None:
        if len(token) == 43:
            self.secrets.add(token)

    def record_in(self, text: str) -> None:
        """The secrets shown in an answer or a command's output."""
        for found in _SECRET.finditer(text):
            self.secrets.add(found.group(1) or found.group(2))

    def record_bearer(self, value: str | None) -> None:
        if value and value[:7].lower() == "bearer ":
            token = value[7:].strip()
            if len(token) >= 40:
                self.secrets.add(token)
                self.record_in(_decoded(token))

    def log(self, where: str, text: str) -> None:
        if text:
            self.logs.append((where, text))

    # -- checking ------------------------------------------------------------------------------

    def leaks(self, extra: Iterable[tuple[str, str]] = ()) -> list[str]:
        """`<where>: <the secret's first 12 characters>... in "<its line>"` for each secret found
        in a log (the secret masked in the line)."""
        found: list[str] = []
        for where, text in [*self.logs, *extra]:
            for secret in sorted(self._secrets_in(text) & self.secrets):
                found.append(f"{where}: {secret[:12]}... in {_line_of(text, secret)!r}")
        return found

    @staticmethod
    def _secrets_in(text: str) -> set[str]:
        text = "\n".join(line for line in text.splitlines() if _SHOWN_ONCE not in line)
        seen = {m.group(1) or m.group(2) for m in _SECRET.finditer(text)}
        for run in _BASE64.findall(text):
            seen.add(run)  # a bearer token (forward token) as it was sent
            seen |= {m.group(1) or m.group(2) for m in _SECRET.finditer(_decoded(run))}
        return seen


def _line_of(text: str, secret: str) -> str:
    """The line of `text` that holds `secret` (raw, or inside a base64 token), with it masked."""
    for line in text.splitlines():
        if secret in line:
            return line.replace(secret, secret[:12] + "...")[:200]
        for run in _BASE64.findall(line):
            if secret in _decoded(run):
                return line.replace(run, run[:12] + "...")[:200]
    return ""


def _decoded(token: str) -> str:
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            return decode(token + "=" * (-len(token) % 4)).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
    return ""


def log_files(root: Path) -> Iterator[tuple[str, str]]:
    if not root.is_dir():
        return
    for path in root.rglob("*"):
        if (
            path.suffix in _LOG_SUFFIXES
            and path.is_file()
            and path.stat().st_size <= _MAX_FILE_BYTES
        ):
            yield str(path.relative_to(root)), path.read_text("utf-8", "replace")


# -- the plugin --------------------------------------------------------------------------------

WATCH = LeakWatch()


class _Records(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += f"\n{record.exc_info[1]!r}"
        WATCH.log(f"log record {record.name}", text)


_HANDLER = _Records(logging.INFO)


def _is_lava(args: Any) -> bool:
    first = args[0] if isinstance(args, (list, tuple)) and args else args
    return isinstance(first, (str, os.PathLike)) and Path(str(first)).name == "lava"


def _serves(args: Any) -> bool:
    """A long-running `lava` process, whose whole output is its log."""
    words = [str(arg) for arg in args] if isinstance(args, (list, tuple)) else []
    return len(words) > 1 and words[1] in _SERVING


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _install() -> None:
    drawn = secrets.token_urlsafe

    def token_urlsafe(nbytes: int | None = None) -> str:
        token = drawn(nbytes)
        WATCH.record_drawn(token)
        return token

    secrets.token_urlsafe = token_urlsafe

    def seen(response: httpx.Response) -> None:
        WATCH.record_bearer(response.request.headers.get("authorization"))
        content = getattr(response, "_content", None)  # read already (not a stream)
        if content and b"_" in content:
            WATCH.record_in(content.decode("utf-8", "replace"))

    send, asend = httpx.Client.send, httpx.AsyncClient.send

    def client_send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = send(self, request, **kwargs)
        seen(response)
        return response

    async def async_send(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        response = await asend(self, request, **kwargs)
        seen(response)
        return response

    httpx.Client.send = client_send  # type: ignore[method-assign]
    httpx.AsyncClient.send = async_send  # type: ignore[method-assign]

    run = subprocess.run

    def run_watched(*args: Any, **kwargs: Any) -> Any:
        done = run(*args, **kwargs)
        command = args[0] if args else kwargs.get("args")
        if _is_lava(command):
            WATCH.record_in(_text(done.stdout))
            WATCH.log(
                f"stderr of `lava {' '.join(map(str, list(command)[1:3]))}`", _text(done.stderr)
            )
        return done

    subprocess.run = run_watched

    communicate = subprocess.Popen.communicate

    def communicate_watched(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> Any:
        out, err = communicate(self, *args, **kwargs)
        if _is_lava(self.args):
            command = " ".join(str(arg) for arg in list(self.args)[1:3])
            if _serves(self.args):
                WATCH.log(f"output of `lava {command}`", _text(out) + _text(err))
            else:  # a one-shot command: its stdout is its answer (`merchants create` prints a key)
                WATCH.record_in(_text(out))
                WATCH.log(f"stderr of `lava {command}`", _text(err))
        return out, err

    subprocess.Popen.communicate = communicate_watched  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and _DIR_VARIABLE not in os.environ:
        # The first process: its workers (xdist) write their findings here.
        os.environ[_DIR_VARIABLE] = tempfile.mkdtemp(prefix="lava-leaks-")
    _install()
    logging.getLogger("lava_server").setLevel(logging.INFO)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Attached again before each test: a command run in this process may have reset logging."""
    root = logging.getLogger()
    if _HANDLER not in root.handlers:
        root.addHandler(_HANDLER)
    lava = logging.getLogger("lava_server")
    if lava.getEffectiveLevel() > logging.INFO:
        lava.setLevel(logging.INFO)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    factory = getattr(config, "_tmp_path_factory", None)
    files: list[tuple[str, str]] = []
    if WATCH.secrets and factory is not None and getattr(factory, "_basetemp", None) is not None:
        files = list(log_files(factory.getbasetemp()))
    found = WATCH.leaks(files)
    directory = Path(os.environ[_DIR_VARIABLE])
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    (directory / f"{worker}.json").write_text(json.dumps(found))
    if hasattr(config, "workerinput"):
        return  # the controller reports for all
    everything = sorted(
        {line for path in directory.glob("*.json") for line in json.loads(path.read_text())}
    )
    shutil.rmtree(directory, ignore_errors=True)
    if everything:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        message = "SECRETS FOUND IN LOGS (issue 17): " + "; ".join(everything[:20])
        if reporter is not None:
            reporter.write_line(message, red=True, bold=True)
        else:
            print(message)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
