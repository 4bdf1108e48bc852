"""bestcaptchasolverapi3 0.2: `BestCaptchaSolverAPI(token).set_captcha_bad(captcha_id)`.

The client POSTs the form `access_token=…` to `{BASE_URL}/captcha/bad/{id}` with
`User-Agent: python3Client`, parses the body as JSON whatever the status, raises
`Exception(body["error"])` when `status` is `"error"` and otherwise returns `body["status"]`.

Aiming: the module global `BASE_URL` in `bestcaptchasolverapi3.bestcaptchasolverapi`, read at
call time, set to https://127.0.0.1:PORT/api; requests verifies TLS against REQUESTS_CA_BUNDLE
(the module's `SSL_VERIFY = True` lets requests take the bundle from the environment).

BestCaptchaSolver rules as verdict applies them: every type; no window is documented, so tokens
60 s and images 24 h; an identical retry succeeds again; success is `{"status":"updated"}`.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from bestcaptchasolverapi3 import bestcaptchasolverapi
from bestcaptchasolverapi3.bestcaptchasolverapi import BestCaptchaSolverAPI

from conftest import unknown_key

DIALECT = "bestcaptchasolver"


@pytest.fixture(autouse=True)
def aimed_at_verdict(server, monkeypatch):
    monkeypatch.setattr(bestcaptchasolverapi, "BASE_URL", f"{server.base_url}/api")


def client(token):
    return BestCaptchaSolverAPI(token, timeout=30)


def raises(message):
    return pytest.raises(Exception, match=f"^{message}$")


@pytest.mark.parametrize(
    "captcha_type", ["image", "audio", "recaptcha_v2", "recaptcha_v3", "hcaptcha", "turnstile", "funcaptcha", "geetest"]
)
def test_set_captcha_bad_is_recorded_and_refunded_once(native, captcha_type):
    acct = native.account("bcs")
    task = native.task(acct, captcha_type)
    assert client(acct.key).set_captcha_bad(int(task)) == "updated"
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_unknown_id(native):
    acct = native.account("bcs")
    with raises("captcha not found"):
        client(acct.key).set_captcha_bad(999000000004)


def test_another_accounts_captcha_is_unknown(native):
    me, other = native.account("bcs"), native.account("bcs")
    task = native.task(other, "image")
    with raises("captcha not found"):
        client(me.key).set_captcha_bad(int(task))
    native.assert_unreported(task)
    native.assert_balance(other, "0")


@pytest.mark.parametrize("bad_id", ["abc", "12.5", ""])
def test_an_id_that_is_not_an_integer(native, bad_id):
    acct = native.account("bcs")
    with raises("invalid captcha id: it must be the integer id the captcha was submitted with"):
        client(acct.key).set_captcha_bad(bad_id)


def test_identical_repeat_succeeds_and_refunds_once(native):
    acct = native.account("bcs")
    task = native.task(acct, "image")
    c = client(acct.key)
    assert c.set_captcha_bad(int(task)) == "updated"
    assert c.set_captcha_bad(int(task)) == "updated"
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_report_after_a_confirmation_is_refused(native, plain):
    acct = native.account("bcs")
    task = native.task(acct, "recaptcha_v2")
    r = plain("/reportCorrectRecaptcha", json={"clientKey": acct.key, "taskId": int(task)})
    assert r.json() == {"errorId": 0, "status": "success"}
    with raises("captcha already has a different report"):
        client(acct.key).set_captcha_bad(int(task))
    native.assert_acknowledged(acct, task, "anticaptcha")
    native.assert_balance(acct, "0")


@pytest.mark.parametrize(
    "captcha_type,age",
    [("image", timedelta(days=2)), ("recaptcha_v2", timedelta(days=2)), ("hcaptcha", timedelta(seconds=90))],
    ids=["image-2d", "recaptcha-2d", "hcaptcha-90s"],
)
def test_expired_captcha(native, captcha_type, age):
    acct = native.account("bcs")
    task = native.task(acct, captcha_type, age=age)
    with raises("captcha can no longer be reported: its report window has passed"):
        client(acct.key).set_captcha_bad(int(task))
    native.assert_unreported(task)
    native.assert_balance(acct, "0")


def test_wrong_token(native):
    acct = native.account("bcs")
    task = native.task(acct, "image")
    with raises("invalid access token"):
        client(unknown_key()).set_captcha_bad(int(task))
    native.assert_unreported(task)


def test_missing_token(native):
    acct = native.account("bcs")
    task = native.task(acct, "image")
    with raises("access_token is missing"):
        client("").set_captcha_bad(int(task))
    native.assert_unreported(task)
