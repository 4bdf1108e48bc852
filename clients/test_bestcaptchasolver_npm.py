"""bestcaptchasolver 1.1.6 (npm): `set_access_token(token)` then `set_captcha_bad(id)`.

The package POSTs JSON `{"access_token": …}` to `https://bcsapi.xyz/api/captcha/bad/{id}`
through requestify 0.2.5 (`Content-Type: application/json`,
`User-Agent: node/http-request-lib/v0.1`). Its promise resolves with the parsed body on any 2xx
and rejects with `new Error(body.error)` otherwise; requestify parses a body only when it is
labelled `application/json`.

Each call runs `npm/set_captcha_bad.js` in Node (installed by clients/run with `npm ci` from
npm/package-lock.json into target/clients-node), which prints how the promise settled. Aiming:
the package has no host setting (`BASE_URL` is a module constant), so the script wraps Node's
`https.request`, before loading the package, to send requests for bcsapi.xyz to verdict.
NODE_EXTRA_CA_CERTS makes Node verify TLS against the test certificate.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import ROOT, unknown_key

DIALECT = "bestcaptchasolver"
HERE = Path(__file__).resolve().parent
NODE_DIR = Path(os.environ.get("VERDICT_CLIENTS_NODE") or ROOT / "target" / "clients-node")


@pytest.fixture(scope="module")
def node():
    binary = shutil.which("node")
    assert binary, "node is not installed"
    assert (NODE_DIR / "node_modules" / "bestcaptchasolver").is_dir(), (
        f"bestcaptchasolver is not installed in {NODE_DIR}: run the suite with clients/run"
    )
    return binary


@pytest.fixture
def set_captcha_bad(node, server, tls):
    def call(token: str, captcha_id) -> dict:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "NODE_PATH": str(NODE_DIR / "node_modules"),
            "NODE_EXTRA_CA_CERTS": tls.cert,
            "NO_PROXY": "127.0.0.1,localhost",
        }
        done = subprocess.run(
            [node, str(HERE / "npm" / "set_captcha_bad.js"), server.base_url, token, str(captcha_id)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"node exited {done.returncode}: {done.stdout} {done.stderr}"
        return json.loads(done.stdout.strip().splitlines()[-1])

    return call


@pytest.mark.parametrize(
    "captcha_type", ["image", "audio", "recaptcha_v2", "hcaptcha", "turnstile", "funcaptcha", "geetest"]
)
def test_set_captcha_bad_is_recorded_and_refunded_once(native, set_captcha_bad, captcha_type):
    acct = native.account("bcsnpm")
    task = native.task(acct, captcha_type)
    assert set_captcha_bad(acct.key, task) == {"resolved": {"status": "updated"}}
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_unknown_id(native, set_captcha_bad):
    acct = native.account("bcsnpm")
    assert set_captcha_bad(acct.key, 999000000004) == {"rejected": "captcha not found"}


def test_another_accounts_captcha_is_unknown(native, set_captcha_bad):
    me, other = native.account("bcsnpm"), native.account("bcsnpm")
    task = native.task(other, "image")
    assert set_captcha_bad(me.key, task) == {"rejected": "captcha not found"}
    native.assert_unreported(task)
    native.assert_balance(other, "0")


def test_an_id_that_is_not_an_integer(native, set_captcha_bad):
    acct = native.account("bcsnpm")
    assert set_captcha_bad(acct.key, "abc") == {
        "rejected": "invalid captcha id: it must be the integer id the captcha was submitted with"
    }


def test_identical_repeat_succeeds_and_refunds_once(native, set_captcha_bad):
    acct = native.account("bcsnpm")
    task = native.task(acct, "image")
    assert set_captcha_bad(acct.key, task) == {"resolved": {"status": "updated"}}
    assert set_captcha_bad(acct.key, task) == {"resolved": {"status": "updated"}}
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_report_after_a_confirmation_is_refused(native, plain, set_captcha_bad):
    acct = native.account("bcsnpm")
    task = native.task(acct, "recaptcha_v2")
    r = plain("/res.php", data={"key": acct.key, "action": "reportgood", "id": task})
    assert r.text == "OK_REPORT_RECORDED"
    assert set_captcha_bad(acct.key, task) == {"rejected": "captcha already has a different report"}
    native.assert_acknowledged(acct, task, "twocaptcha")
    native.assert_balance(acct, "0")


@pytest.mark.parametrize(
    "captcha_type,age",
    [("image", timedelta(days=2)), ("recaptcha_v2", timedelta(seconds=90))],
    ids=["image-2d", "recaptcha-90s"],
)
def test_expired_captcha(native, set_captcha_bad, captcha_type, age):
    acct = native.account("bcsnpm")
    task = native.task(acct, captcha_type, age=age)
    assert set_captcha_bad(acct.key, task) == {
        "rejected": "captcha can no longer be reported: its report window has passed"
    }
    native.assert_unreported(task)


def test_wrong_token(native, set_captcha_bad):
    acct = native.account("bcsnpm")
    task = native.task(acct, "image")
    assert set_captcha_bad(unknown_key(), task) == {"rejected": "invalid access token"}
    native.assert_unreported(task)


def test_missing_token(native, set_captcha_bad):
    # set_access_token("") makes JSON {"access_token": ""}.
    acct = native.account("bcsnpm")
    task = native.task(acct, "image")
    assert set_captcha_bad("", task) == {"rejected": "access_token is missing"}
    native.assert_unreported(task)
