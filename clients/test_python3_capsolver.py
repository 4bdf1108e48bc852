"""python3-capsolver 1.2.2: `Control(api_key).feedback_task(task_id, result)` and `aio_feedback_task`.

The library POSTs the feedback to `/getToken` (not capsolver's documented `/feedbackTask`), with
its own extra keys: `{"clientKey", "task": {}, "callbackUrl": null, "appId": <its app id>,
"result": {"type": "Control", "invalid", "code", "message"}, "taskId"}`. It returns the parsed
JSON of an HTTP 200 answer and raises `ValueError(<status>)` for any other status (sync:
`resp.status_code`, async: `resp.status`), so capsolver's errors (HTTP 400 errorId 1 for a bad
task or body, HTTP 401 for a bad key) reach the caller only as their status code.

Aiming: `send_post_request` joins the module global `REQUEST_URL` (read at call time) of
`python3_capsolver.core.sio_captcha_instrument` (sync) and `...aio_captcha_instrument` (async)
with the endpoint; the suite sets both to https://127.0.0.1:PORT. TLS is verified against
REQUESTS_CA_BUNDLE (requests; it overrides the library's `session.verify = False`) and
SSL_CERT_FILE (aiohttp's default context).

capsolver rules as verdict applies them: every type may be reported; token tasks within 60 s,
image/audio within 24 h; an identical retry succeeds again; contrary feedback is refused.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from python3_capsolver.control import Control
from python3_capsolver.core import aio_captcha_instrument, sio_captcha_instrument

from conftest import run, unknown_key

DIALECT = "capsolver"
OK = {"errorId": 0, "errorCode": "", "errorDescription": "", "message": "ok"}
BAD = {"invalid": True, "code": 1001, "message": "invalid token"}
GOOD = {"invalid": False, "code": 0, "message": "token accepted"}


@pytest.fixture(autouse=True)
def aimed_at_verdict(server, monkeypatch):
    monkeypatch.setattr(sio_captcha_instrument, "REQUEST_URL", server.base_url)
    monkeypatch.setattr(aio_captcha_instrument, "REQUEST_URL", server.base_url)


@pytest.fixture(params=["sync", "async"])
def feedback(request):
    """`feedback(key, task_id, result)` through `feedback_task` or `aio_feedback_task`."""
    if request.param == "sync":
        return lambda key, task_id, result: Control(api_key=key).feedback_task(task_id, dict(result))
    return lambda key, task_id, result: run(Control(api_key=key).aio_feedback_task(task_id, dict(result)))


def expect_status(feedback, key, task_id, result, status):
    with pytest.raises(ValueError) as e:
        feedback(key, task_id, result)
    assert e.value.args == (status,)


# --- positive reports ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "captcha_type",
    ["image", "audio", "recaptcha_v2", "recaptcha_v3", "recaptcha_enterprise", "hcaptcha", "turnstile", "funcaptcha", "geetest", "other"],
)
def test_invalid_feedback_is_recorded_and_refunded_once(feedback, native, captcha_type):
    acct = native.account("cs")
    task = native.task(acct, captcha_type, uuid_id=True)
    assert feedback(acct.key, task, BAD) == OK
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_invalid_feedback_on_an_integer_id(feedback, native):
    acct = native.account("cs")
    task = native.task(acct, "recaptcha_v2")
    assert feedback(acct.key, task, BAD) == OK
    native.assert_accepted(acct, task, DIALECT)


def test_valid_feedback_is_acknowledged_without_refund(feedback, native):
    acct = native.account("cs")
    task = native.task(acct, "recaptcha_v2", uuid_id=True)
    assert feedback(acct.key, task, GOOD) == OK
    native.assert_acknowledged(acct, task, DIALECT)
    native.assert_balance(acct, "0")


def test_feedback_with_only_invalid(feedback, native):
    acct = native.account("cs")
    task = native.task(acct, "hcaptcha", uuid_id=True)
    assert feedback(acct.key, task, {"invalid": True}) == OK
    native.assert_accepted(acct, task, DIALECT)


# --- refusals --------------------------------------------------------------------------------


def test_unknown_id(feedback, native):
    acct = native.account("cs")
    expect_status(feedback, acct.key, "61138bb6-19fb-11ec-a9c8-0242ac110006", BAD, 400)


def test_another_accounts_task_is_unknown(feedback, native):
    me, other = native.account("cs"), native.account("cs")
    task = native.task(other, "recaptcha_v2", uuid_id=True)
    expect_status(feedback, me.key, task, BAD, 400)
    native.assert_unreported(task)
    native.assert_balance(other, "0")


def test_identical_repeat_succeeds_and_refunds_once(feedback, native):
    acct = native.account("cs")
    task = native.task(acct, "turnstile", uuid_id=True)
    assert feedback(acct.key, task, BAD) == OK
    assert feedback(acct.key, task, BAD) == OK
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_valid_after_invalid_is_refused_and_the_first_stands(feedback, native):
    acct = native.account("cs")
    task = native.task(acct, "recaptcha_v3", uuid_id=True)
    assert feedback(acct.key, task, BAD) == OK
    expect_status(feedback, acct.key, task, GOOD, 400)
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_invalid_after_valid_is_refused_and_nothing_is_refunded(feedback, native):
    acct = native.account("cs")
    task = native.task(acct, "recaptcha_v3", uuid_id=True)
    assert feedback(acct.key, task, GOOD) == OK
    expect_status(feedback, acct.key, task, BAD, 400)
    native.assert_acknowledged(acct, task, DIALECT)
    native.assert_balance(acct, "0")


@pytest.mark.parametrize(
    "captcha_type,age",
    [("image", timedelta(days=2)), ("recaptcha_v2", timedelta(days=2)), ("recaptcha_v2", timedelta(seconds=90))],
    ids=["image-2d", "recaptcha-2d", "recaptcha-90s"],
)
def test_expired_task(feedback, native, captcha_type, age):
    acct = native.account("cs")
    task = native.task(acct, captcha_type, age=age, uuid_id=True)
    expect_status(feedback, acct.key, task, BAD, 400)
    native.assert_unreported(task)
    native.assert_balance(acct, "0")


def test_wrong_key(feedback, native):
    acct = native.account("cs")
    task = native.task(acct, "recaptcha_v2", uuid_id=True)
    expect_status(feedback, "CAP-" + unknown_key(), task, BAD, 401)
    native.assert_unreported(task)
