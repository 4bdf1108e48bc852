"""Shared fixtures for the real-client suite.

One `verdict serve` per test session, over TLS on loopback with a throw-away self-signed
certificate. Each test makes its own accounts and tasks through the native API, so tests do not
depend on each other or on their order.

The certificate is made, and REQUESTS_CA_BUNDLE / SSL_CERT_FILE pointed at it, in
`pytest_configure`, i.e. before any test module (and so any client library) is imported. That
order matters: aiohttp builds its default verifying SSL context when it is first imported, from
the CA bundle named by SSL_CERT_FILE at that moment. requests reads REQUESTS_CA_BUNDLE and httpx
reads SSL_CERT_FILE whenever they make a connection or client.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BIN = ROOT / "target" / "debug" / "verdict"

# The CA-bundle variables the suite points at the test certificate while it runs.
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
# Loopback must never go through a proxy, whatever the environment says.
NO_PROXY_VARIABLES = ("NO_PROXY", "no_proxy")

# Modules that read the CA bundle at import time; they must not be loaded before we set it.
IMPORT_TIME_TLS_MODULES = ("aiohttp",)

STARTUP_TIMEOUT_S = 60
SERVING_LINE = re.compile(r"verdict serving addr=(?P<host>[0-9.]+):(?P<port>\d+) tls=true")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class Tls:
    cert: str
    key: str


_state: dict = {}


def pytest_configure(config):
    loaded = [m for m in IMPORT_TIME_TLS_MODULES if m in sys.modules]
    if loaded:
        raise pytest.UsageError(
            f"{loaded} imported before the suite could set SSL_CERT_FILE; "
            "run the suite with clients/run (no extra plugins)"
        )
    workdir = tempfile.mkdtemp(prefix="verdict-clients-")
    cert = os.path.join(workdir, "cert.pem")
    key = os.path.join(workdir, "key.pem")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", key, "-out", cert, "-days", "2",
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    saved = {name: os.environ.get(name) for name in CA_VARIABLES + NO_PROXY_VARIABLES}
    for name in CA_VARIABLES:
        os.environ[name] = cert
    for name in NO_PROXY_VARIABLES:
        os.environ[name] = ",".join(filter(None, ["127.0.0.1,localhost", saved[name]]))
    # No library call in this suite sets a timeout; a hung server must fail a test, not the run.
    saved_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)
    _state.update(workdir=workdir, tls=Tls(cert=cert, key=key), saved=saved, timeout=saved_timeout)


def pytest_unconfigure(config):
    for name, value in _state.get("saved", {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    socket.setdefaulttimeout(_state.get("timeout"))
    if "workdir" in _state:
        shutil.rmtree(_state["workdir"], ignore_errors=True)


@pytest.fixture(scope="session")
def tls() -> Tls:
    return _state["tls"]


# --------------------------------------------------------------------------------------------
# The server


class Server:
    def __init__(self, proc: subprocess.Popen, port: int, admin_token: str, log: list[str]):
        self.proc = proc
        self.port = port
        self.admin_token = admin_token
        self.log = log

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log[-n:])


def start_server(tls: Tls) -> Server:
    """A `verdict serve` of its own over TLS on a fresh database; stop it with stop_server."""
    binary = os.environ.get("VERDICT_BIN") or str(DEFAULT_BIN)
    if not os.access(binary, os.X_OK):
        pytest.exit(f"verdict binary not found at {binary} (set VERDICT_BIN or build it)", 2)
    workdir = tempfile.mkdtemp(prefix="verdict-server-", dir=_state["workdir"])
    token = "admin-" + secrets.token_hex(16)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "VERDICT_LISTEN": "127.0.0.1:0",
        "VERDICT_DATABASE_URL": f"sqlite://{workdir}/v.db",
        "VERDICT_ADMIN_TOKEN": token,
        "VERDICT_TLS__CERT_FILE": tls.cert,
        "VERDICT_TLS__KEY_FILE": tls.key,
    }
    stdout = open(os.path.join(workdir, "stdout.log"), "wb")
    proc = subprocess.Popen(
        [binary, "serve"],
        env=env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
    )
    log: list[str] = []
    ready = threading.Event()
    found: dict = {}

    def drain():
        # Keeps reading until the process closes stderr, so the pipe never fills.
        for line in proc.stderr:
            line = ANSI.sub("", line.rstrip("\n"))
            log.append(line)
            if not ready.is_set():
                m = SERVING_LINE.search(line)
                if m:
                    found["port"] = int(m.group("port"))
                    ready.set()
        ready.set()  # EOF: the server exited (found stays empty unless it had started)

    threading.Thread(target=drain, name="verdict-stderr", daemon=True).start()
    if not ready.wait(STARTUP_TIMEOUT_S) or "port" not in found:
        proc.kill()
        proc.wait()
        pytest.exit("verdict did not start:\n" + "\n".join(log[-40:]), 2)
    srv = Server(proc, found["port"], token, log)
    srv.stdout = stdout
    return srv


def stop_server(srv: Server) -> None:
    """SIGTERM, and the server must exit 0 within 20 s."""
    srv.proc.send_signal(signal.SIGTERM)
    try:
        rc = srv.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        srv.proc.kill()
        srv.proc.wait()
        raise AssertionError("verdict did not stop on SIGTERM:\n" + srv.log_tail())
    finally:
        srv.stdout.close()
    assert rc == 0, f"verdict exited with {rc} on SIGTERM:\n{srv.log_tail()}"


@pytest.fixture(scope="session")
def server(tls) -> Server:
    srv = start_server(tls)
    yield srv
    stop_server(srv)


# --------------------------------------------------------------------------------------------
# The native API: accounts, tasks, and what verdict recorded


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    key: str


_ids = itertools.count(74455221488)
_names = itertools.count(1)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Native:
    """The admin side of verdict's native API, used to set up and inspect the world."""

    def __init__(self, server: Server, tls: Tls):
        self.base = server.base_url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {server.admin_token}"
        self.http.verify = tls.cert

    def _ok(self, resp: requests.Response, status: int = 200) -> dict:
        assert resp.status_code == status, f"{resp.request.method} {resp.url}: {resp.status_code} {resp.text}"
        return resp.json()

    # setting up -------------------------------------------------------------------------

    def account(self, prefix: str = "acct", api_key: str | None = None) -> Account:
        name = f"{prefix}-{next(_names)}-{secrets.token_hex(3)}"
        body = {"name": name}
        if api_key is not None:
            body["api_key"] = api_key
        made = self._ok(self.http.post(f"{self.base}/v1/accounts", json=body), 201)
        assert made["name"] == name
        return Account(id=made["id"], name=made["name"], key=made["api_key"])

    def task(
        self,
        account: Account,
        type: str = "image",
        *,
        age: timedelta = timedelta(0),
        uuid_id: bool = False,
        cost: str = "0.0020",
        answer: str = "w9h5k",
    ) -> str:
        """Ingests one completed task and returns its id (digits, or a UUID)."""
        task_id = str(uuid.uuid4()) if uuid_id else str(next(_ids))
        record = {
            "id": task_id,
            "account": account.id,
            "type": type,
            "provider": "p",
            "answer": answer,
            "cost": cost,
            "completed_at": rfc3339(now_utc() - age),
        }
        got = self._ok(self.http.post(f"{self.base}/v1/tasks", json=[record]))
        assert got == {"inserted": 1, "duplicates": 0, "rejected": []}, got
        return task_id

    # inspecting -------------------------------------------------------------------------

    def report(self, task_id: str) -> dict | None:
        return self._ok(self.http.get(f"{self.base}/v1/tasks/{task_id}"))["report"]

    def balance(self, account: Account) -> Decimal:
        return Decimal(self._ok(self.http.get(f"{self.base}/v1/accounts/{account.id}"))["balance"])

    def ledger(self, account: Account) -> list[dict]:
        return self._ok(self.http.get(f"{self.base}/v1/accounts/{account.id}/ledger"))["entries"]

    # assertions -------------------------------------------------------------------------

    def assert_accepted(self, account: Account, task_id: str, dialect: str, cost: str = "0.0020"):
        """An incorrect-report recorded as accepted, with the task's cost refunded exactly once."""
        report = self.report(task_id)
        assert report is not None, f"no report recorded for {task_id}"
        assert (report["kind"], report["dialect"], report["verdict"], report["reason"]) == (
            "incorrect", dialect, "accepted", "incorrect_accepted",
        ), report
        assert Decimal(report["refund"]) == Decimal(cost), report
        refunds = [e for e in self.ledger(account) if e.get("task") == task_id]
        assert [(e["kind"], Decimal(e["amount"])) for e in refunds] == [("refund", Decimal(cost))], refunds

    def assert_acknowledged(self, account: Account, task_id: str, dialect: str):
        """Positive feedback: recorded as acknowledged, nothing refunded."""
        report = self.report(task_id)
        assert report is not None, f"no report recorded for {task_id}"
        assert (report["kind"], report["dialect"], report["verdict"], report["reason"]) == (
            "correct", dialect, "acknowledged", "positive_feedback",
        ), report
        assert report["refund"] is None, report
        assert [e for e in self.ledger(account) if e.get("task") == task_id] == []

    def assert_unreported(self, task_id: str):
        assert self.report(task_id) is None

    def assert_balance(self, account: Account, amount: str):
        assert self.balance(account) == Decimal(amount)


@pytest.fixture(scope="session")
def native(server, tls) -> Native:
    return Native(server, tls)


def unknown_key() -> str:
    """A well-formed key (32 hex characters, as 2captcha's are) that no account has."""
    return secrets.token_hex(16)


def run(coro):
    """Runs one coroutine of an async client to completion on a fresh event loop."""
    return asyncio.run(coro)


@pytest.fixture
def plain(server, tls):
    """Plain `requests` against verdict, for the reports a library cannot send itself."""
    s = requests.Session()
    s.verify = tls.cert

    def post(path: str, **kwargs) -> requests.Response:
        return s.post(server.base_url + path, **kwargs)

    return post
