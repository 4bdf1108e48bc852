"""python-rucaptcha 6.8.2: `Control(rucaptcha_key=K).reportIncorrect(id)` / `reportCorrect(id)`
and their `aio_` twins (2captcha API v2).

The library POSTs `{"clientKey": K, "taskId": ID}` to `https://api.2captcha.com/reportIncorrect`
(or `/reportCorrect`; `api.rucaptcha.com` with `service_type="rucaptcha"`) from its polling
loop `get_sync_result` / `get_async_result` (python_rucaptcha.core.result_handler). That loop
was written for getTaskResult: it stops only on status "ready" (also the default when an answer
has no status, i.e. any error) or on a non-zero errorId, and sleeps `sleep_time` only after
status "processing". 2captcha's success answer `{"errorId":0,"status":"success"}` is neither, so
one call sends the same report 19 times back to back (`attempts_generator(20)` ->
`range(1, 20)`), with no sleep in between (verdict never answers "processing"), and returns the
last answer as a dict. Errors come back as that dict too (errorId, errorCode, errorDescription,
with the default status "ready"); exceptions are swallowed into errorId 12.

Aiming: the URL is an f-string with no host setting. The smallest redirect is to wrap the two
module functions as `python_rucaptcha.control` imported them, rewriting only `url_response`'s
scheme+host to verdict's; every request is still built and sent by the library. TLS is verified
against REQUESTS_CA_BUNDLE (requests, sync) and SSL_CERT_FILE (aiohttp, async).

2captcha v2 rules as verdict applies them: every type; 15 minutes; identical repeats succeed
(one refund); a conflicting second report gets errorId 16 ERROR_DUPLICATE_REPORT.
"""

from __future__ import annotations

import re
from datetime import timedelta

import aiohttp
import pytest
import requests
from python_rucaptcha import control as rucaptcha_control
from python_rucaptcha.control import Control

from conftest import run, unknown_key

DIALECT = "twocaptcha_v2"
ORIGIN = re.compile(r"^https://api\.(2captcha|rucaptcha)\.com/")
SENDS_PER_SUCCESS = 19
NO_SUCH_ID_TEXT = "You've provided incorrect captcha ID in the request"


@pytest.fixture(autouse=True)
def aimed_at_verdict(server, monkeypatch):
    def retarget(url: str) -> str:
        assert ORIGIN.match(url), url
        return ORIGIN.sub(server.base_url + "/", url)

    sync_original = rucaptcha_control.get_sync_result
    async_original = rucaptcha_control.get_async_result

    def get_sync_result(get_payload, sleep_time, url_response):
        return sync_original(get_payload=get_payload, sleep_time=sleep_time, url_response=retarget(url_response))

    async def get_async_result(get_payload, sleep_time, url_response):
        return await async_original(get_payload=get_payload, sleep_time=sleep_time, url_response=retarget(url_response))

    monkeypatch.setattr(rucaptcha_control, "get_sync_result", get_sync_result)
    monkeypatch.setattr(rucaptcha_control, "get_async_result", get_async_result)


@pytest.fixture
def sends(monkeypatch):
    """Counts the report POSTs the library makes (a pass-through spy on both HTTP stacks)."""
    seen: list[str] = []
    sync_post = requests.post
    async_post = aiohttp.ClientSession.post

    def counting_post(url, *args, **kwargs):
        seen.append(str(url))
        return sync_post(url, *args, **kwargs)

    def counting_async_post(self, url, *args, **kwargs):
        seen.append(str(url))
        return async_post(self, url, *args, **kwargs)

    monkeypatch.setattr(requests, "post", counting_post)
    monkeypatch.setattr(aiohttp.ClientSession, "post", counting_async_post)
    return seen


@pytest.fixture(params=["sync", "async"])
def report(request):
    """`report(key, id, correct, **control_kwargs)` through the sync or the aio_ methods."""

    def call(key, task_id, correct, **kwargs):
        c = Control(rucaptcha_key=key, **kwargs)
        if request.param == "sync":
            return c.reportCorrect(task_id) if correct else c.reportIncorrect(task_id)
        return run(c.aio_reportCorrect(task_id) if correct else c.aio_reportIncorrect(task_id))

    return call


def assert_success(got: dict, task_id: int):
    assert (got["errorId"], got["status"], got["errorCode"], got["errorDescription"]) == (0, "success", None, None), got
    assert got["taskId"] == task_id


def assert_error(got: dict, error_id: int, error_code: str, description: str | None = None):
    assert (got["errorId"], got["errorCode"]) == (error_id, error_code), got
    assert isinstance(got["errorDescription"], str) and got["errorDescription"], got
    if description is not None:
        assert got["errorDescription"] == description, got


# --- positive reports ------------------------------------------------------------------------


@pytest.mark.parametrize("captcha_type", ["image", "audio", "recaptcha_v2", "recaptcha_v3", "hcaptcha", "turnstile", "funcaptcha", "geetest"])
def test_report_incorrect_19_sends_one_report_one_refund(report, native, sends, captcha_type):
    acct = native.account("ru")
    task = native.task(acct, captcha_type)
    assert_success(report(acct.key, int(task), False), int(task))
    assert len(sends) == SENDS_PER_SUCCESS
    assert all(u.endswith("/reportIncorrect") for u in sends), sends
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_report_correct_19_sends_one_acknowledgement(report, native, sends):
    acct = native.account("ru")
    task = native.task(acct, "recaptcha_v2")
    assert_success(report(acct.key, int(task), True), int(task))
    assert len(sends) == SENDS_PER_SUCCESS
    assert all(u.endswith("/reportCorrect") for u in sends), sends
    native.assert_acknowledged(acct, task, DIALECT)
    native.assert_balance(acct, "0")


def test_rucaptcha_service_type(report, native, sends):
    acct = native.account("ru")
    task = native.task(acct, "image")
    assert_success(report(acct.key, int(task), False, service_type="rucaptcha"), int(task))
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_token_within_15_minutes_is_still_reportable(report, native):
    acct = native.account("ru")
    task = native.task(acct, "recaptcha_v2", age=timedelta(minutes=5))
    assert_success(report(acct.key, int(task), False), int(task))
    native.assert_accepted(acct, task, DIALECT)


# --- refusals --------------------------------------------------------------------------------


def test_unknown_id(report, native, sends):
    acct = native.account("ru")
    got = report(acct.key, 999000000005, False)
    assert_error(got, 16, "ERROR_NO_SUCH_CAPCHA_ID", NO_SUCH_ID_TEXT)
    assert len(sends) == 1  # an answer without status reads as "ready": the loop stops


def test_another_accounts_task_is_unknown(report, native):
    me, other = native.account("ru"), native.account("ru")
    task = native.task(other, "recaptcha_v2")
    assert_error(report(me.key, int(task), False), 16, "ERROR_NO_SUCH_CAPCHA_ID", NO_SUCH_ID_TEXT)
    native.assert_unreported(task)
    native.assert_balance(other, "0")


def test_identical_repeat_call_succeeds_and_refunds_once(report, native, sends):
    acct = native.account("ru")
    task = native.task(acct, "image")
    assert_success(report(acct.key, int(task), False), int(task))
    assert_success(report(acct.key, int(task), False), int(task))
    assert len(sends) == 2 * SENDS_PER_SUCCESS
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_correct_after_incorrect_is_a_duplicate_and_the_first_stands(report, native):
    acct = native.account("ru")
    task = native.task(acct, "recaptcha_v2")
    assert_success(report(acct.key, int(task), False), int(task))
    assert_error(report(acct.key, int(task), True), 16, "ERROR_DUPLICATE_REPORT")
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_incorrect_after_correct_is_a_duplicate_and_nothing_is_refunded(report, native):
    acct = native.account("ru")
    task = native.task(acct, "image")
    assert_success(report(acct.key, int(task), True), int(task))
    assert_error(report(acct.key, int(task), False), 16, "ERROR_DUPLICATE_REPORT")
    native.assert_acknowledged(acct, task, DIALECT)
    native.assert_balance(acct, "0")


@pytest.mark.parametrize(
    "captcha_type,age",
    [("image", timedelta(days=2)), ("recaptcha_v2", timedelta(days=2)), ("recaptcha_v2", timedelta(minutes=16))],
    ids=["image-2d", "recaptcha-2d", "recaptcha-16min"],
)
def test_too_old_is_not_recorded(report, native, captcha_type, age):
    acct = native.account("ru")
    task = native.task(acct, captcha_type, age=age)
    assert_error(report(acct.key, int(task), False), 16, "ERROR_REPORT_NOT_RECORDED")
    native.assert_unreported(task)
    native.assert_balance(acct, "0")


def test_wrong_key(report, native):
    acct = native.account("ru")
    task = native.task(acct, "image")
    assert_error(report(unknown_key(), int(task), False), 1, "ERROR_KEY_DOES_NOT_EXIST")
    native.assert_unreported(task)
