"""2captcha-python 2.1.2: `TwoCaptcha.report(id_, correct)` and `AsyncTwoCaptcha.report`.

Aimed at verdict with the library's own `server=` argument ("127.0.0.1:PORT"). The library
always builds `https://{server}/res.php`, so verdict serves TLS and the suite points
REQUESTS_CA_BUNDLE (requests, sync client) and SSL_CERT_FILE (httpx, async client) at the test
certificate. It sends `GET /res.php?key=K&action=reportbad|reportgood&id=ID`, returns the body
as text on success and raises `ApiException(body)` whenever the body contains "ERROR"
(`NetworkException` for any non-200 status). Note: the exception `report()` raises is
`twocaptcha.exceptions.api.ApiException`, not the `twocaptcha.ApiException` the package exports
(that one is `twocaptcha.exceptions.solver.ApiException`, an unrelated class), so the suite
catches the class the library really raises.

2captcha legacy rules: every captcha type may be reported; 15 minutes from completion; one
report per captcha (a second one, identical or not, gets ERROR_DUPLICATE_REPORT).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from twocaptcha import AsyncTwoCaptcha, TwoCaptcha
from twocaptcha.exceptions.api import ApiException

from conftest import run, unknown_key

DIALECT = "twocaptcha"


@pytest.fixture(params=["sync", "async"])
def report(request, server):
    """`report(key, id, correct)` through TwoCaptcha or AsyncTwoCaptcha."""
    if request.param == "sync":

        def call(key, task_id, correct):
            return TwoCaptcha(key, server=server.hostport).report(task_id, correct)

    else:

        def call(key, task_id, correct):
            return run(AsyncTwoCaptcha(key, server=server.hostport).report(task_id, correct))

    return call


@pytest.mark.parametrize(
    "captcha_type",
    ["image", "audio", "recaptcha_v2", "recaptcha_v3", "hcaptcha", "turnstile", "funcaptcha", "geetest"],
)
def test_reportbad_is_recorded_and_refunded_once(report, native, captcha_type):
    acct = native.account("tc")
    task = native.task(acct, captcha_type)
    assert report(acct.key, int(task), False) == "OK_REPORT_RECORDED"
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_reportgood_is_acknowledged_without_refund(report, native):
    acct = native.account("tc")
    task = native.task(acct, "recaptcha_v2")
    assert report(acct.key, int(task), True) == "OK_REPORT_RECORDED"
    native.assert_acknowledged(acct, task, DIALECT)
    native.assert_balance(acct, "0")


def test_token_within_15_minutes_is_still_reportable(report, native):
    # 2captcha's window is 15 minutes for every type, beyond the 60 s other services give tokens.
    acct = native.account("tc")
    task = native.task(acct, "recaptcha_v2", age=timedelta(minutes=5))
    assert report(acct.key, int(task), False) == "OK_REPORT_RECORDED"
    native.assert_accepted(acct, task, DIALECT)


def test_unknown_id(report, native):
    acct = native.account("tc")
    with pytest.raises(ApiException) as e:
        report(acct.key, 999_000_000_001, False)
    assert e.value.args == ("ERROR_WRONG_CAPTCHA_ID",)


def test_another_accounts_task_is_unknown(report, native):
    me, other = native.account("tc"), native.account("tc")
    task = native.task(other, "image")
    with pytest.raises(ApiException) as e:
        report(me.key, int(task), False)
    assert e.value.args == ("ERROR_WRONG_CAPTCHA_ID",)
    native.assert_unreported(task)
    native.assert_balance(me, "0")
    native.assert_balance(other, "0")


def test_identical_repeat_is_a_duplicate_and_refunds_once(report, native):
    acct = native.account("tc")
    task = native.task(acct, "image")
    assert report(acct.key, int(task), False) == "OK_REPORT_RECORDED"
    with pytest.raises(ApiException) as e:
        report(acct.key, int(task), False)
    assert e.value.args == ("ERROR_DUPLICATE_REPORT",)
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_good_after_bad_is_a_duplicate_and_the_first_stands(report, native):
    acct = native.account("tc")
    task = native.task(acct, "image")
    assert report(acct.key, int(task), False) == "OK_REPORT_RECORDED"
    with pytest.raises(ApiException) as e:
        report(acct.key, int(task), True)
    assert e.value.args == ("ERROR_DUPLICATE_REPORT",)
    native.assert_accepted(acct, task, DIALECT)


def test_bad_after_good_is_a_duplicate_and_nothing_is_refunded(report, native):
    acct = native.account("tc")
    task = native.task(acct, "recaptcha_v2")
    assert report(acct.key, int(task), True) == "OK_REPORT_RECORDED"
    with pytest.raises(ApiException) as e:
        report(acct.key, int(task), False)
    assert e.value.args == ("ERROR_DUPLICATE_REPORT",)
    native.assert_acknowledged(acct, task, DIALECT)
    native.assert_balance(acct, "0")


@pytest.mark.parametrize(
    "captcha_type,age",
    [("image", timedelta(days=2)), ("recaptcha_v2", timedelta(days=2)), ("image", timedelta(minutes=16))],
    ids=["image-2d", "recaptcha-2d", "image-16min"],
)
def test_past_15_minutes_is_not_recorded(report, native, captcha_type, age):
    acct = native.account("tc")
    task = native.task(acct, captcha_type, age=age)
    with pytest.raises(ApiException) as e:
        report(acct.key, int(task), False)
    assert e.value.args == ("ERROR_REPORT_NOT_RECORDED",)
    native.assert_unreported(task)
    native.assert_balance(acct, "0")


def test_wrong_key(report, native):
    acct = native.account("tc")
    task = native.task(acct, "image")
    with pytest.raises(ApiException) as e:
        report(unknown_key(), int(task), False)
    assert e.value.args == ("ERROR_KEY_DOES_NOT_EXIST",)
    native.assert_unreported(task)


def test_a_client_that_sends_host_2captcha_com_is_answered(native, server, tls):
    # CaptchaSharp's custom 2captcha services and the hosts-file "gates" keep the original Host
    # header while connecting to another server; verdict answers whatever the Host says.
    import requests

    acct = native.account("tc")
    task = native.task(acct, "image")
    r = requests.get(
        f"{server.base_url}/res.php",
        params={"key": acct.key, "action": "reportbad", "id": task, "json": 1},
        headers={"Host": "2captcha.com"},
        verify=tls.cert,
    )
    assert (r.status_code, r.json()) == (200, {"status": 1, "request": "OK_REPORT_RECORDED"})
    native.assert_accepted(acct, task, DIALECT)
