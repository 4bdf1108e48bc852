"""deathbycaptcha-official 4.7.1: `HttpClient.report(cid)`.

The client POSTs the form `username=..&password=..` (or `authtoken=..`) to
`{HTTP_BASE_URL}/captcha/{cid}/report` and returns `not response["is_correct"]`, i.e. True when
the report went in. Errors surface only by status: 403 raises `AccessDeniedException`, 400/413
raise `ValueError`, 503 raises `OverflowError`, anything else non-2xx `RuntimeError`; the body of
an error never reaches the caller.

Aiming: the module global `deathbycaptcha.HTTP_BASE_URL`, read at call time, set to
https://127.0.0.1:PORT/api; requests verifies TLS against REQUESTS_CA_BUNDLE. With
username+password, the username is the account's name and the password its API key.

DeathByCaptcha rules as verdict applies them: every type may be reported; token tasks within
60 s, image/audio within 24 h; an identical retry succeeds again; a task that already has a
different report (e.g. confirmed through another dialect) is refused.
"""

from __future__ import annotations

from datetime import timedelta

import deathbycaptcha
import pytest
from deathbycaptcha import AccessDeniedException, HttpClient

from conftest import unknown_key

DIALECT = "deathbycaptcha"
REJECTED = "CAPTCHA was rejected by the service, check if it's a valid image"


@pytest.fixture(autouse=True)
def aimed_at_verdict(server, monkeypatch):
    monkeypatch.setattr(deathbycaptcha, "HTTP_BASE_URL", f"{server.base_url}/api")


def client(acct=None, *, login="authtoken", username=None, password=None):
    if login == "authtoken":
        c = HttpClient(None, None, password if password is not None else acct.key)
    else:
        c = HttpClient(username if username is not None else acct.name, password if password is not None else acct.key)
    c.is_verbose = False
    return c


LOGINS = ["authtoken", "username_password"]


@pytest.mark.parametrize("login", LOGINS)
@pytest.mark.parametrize("captcha_type", ["image", "audio", "recaptcha_v2", "hcaptcha", "funcaptcha", "turnstile"])
def test_report_is_recorded_and_refunded_once(native, login, captcha_type):
    acct = native.account("dbc")
    task = native.task(acct, captcha_type)
    assert client(acct, login=login).report(int(task)) is True
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


@pytest.mark.parametrize("login", LOGINS)
def test_unknown_id(native, login):
    acct = native.account("dbc")
    with pytest.raises(ValueError, match=REJECTED):
        client(acct, login=login).report(999000000004)


@pytest.mark.parametrize("login", LOGINS)
def test_another_accounts_task_is_unknown(native, login):
    me, other = native.account("dbc"), native.account("dbc")
    task = native.task(other, "image")
    with pytest.raises(ValueError, match=REJECTED):
        client(me, login=login).report(int(task))
    native.assert_unreported(task)
    native.assert_balance(other, "0")


@pytest.mark.parametrize("login", LOGINS)
def test_identical_repeat_succeeds_and_refunds_once(native, login):
    acct = native.account("dbc")
    task = native.task(acct, "image")
    c = client(acct, login=login)
    assert c.report(int(task)) is True
    assert c.report(int(task)) is True
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_repeat_with_the_other_login_is_identical(native):
    acct = native.account("dbc")
    task = native.task(acct, "image")
    assert client(acct, login="authtoken").report(int(task)) is True
    assert client(acct, login="username_password").report(int(task)) is True
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


@pytest.mark.parametrize("first", ["/reportCorrectRecaptcha", "/res.php?action=reportgood"])
def test_report_after_a_confirmation_is_refused(native, plain, first):
    # DBC has no "correct" report; the confirmation comes in through another dialect.
    acct = native.account("dbc")
    task = native.task(acct, "recaptcha_v2")
    if first == "/reportCorrectRecaptcha":
        r = plain(first, json={"clientKey": acct.key, "taskId": int(task)})
        assert r.json() == {"errorId": 0, "status": "success"}
        dialect = "anticaptcha"
    else:
        r = plain("/res.php", data={"key": acct.key, "action": "reportgood", "id": task})
        assert r.text == "OK_REPORT_RECORDED"
        dialect = "twocaptcha"
    with pytest.raises(ValueError, match=REJECTED):
        client(acct).report(int(task))
    native.assert_acknowledged(acct, task, dialect)
    native.assert_balance(acct, "0")


@pytest.mark.parametrize(
    "captcha_type,age",
    [("image", timedelta(days=2)), ("recaptcha_v2", timedelta(days=2)), ("hcaptcha", timedelta(seconds=90))],
    ids=["image-2d", "recaptcha-2d", "hcaptcha-90s"],
)
def test_expired_task(native, captcha_type, age):
    acct = native.account("dbc")
    task = native.task(acct, captcha_type, age=age)
    with pytest.raises(ValueError, match=REJECTED):
        client(acct).report(int(task))
    native.assert_unreported(task)
    native.assert_balance(acct, "0")


def test_wrong_authtoken(native):
    acct = native.account("dbc")
    task = native.task(acct, "image")
    with pytest.raises(AccessDeniedException):
        client(login="authtoken", password=unknown_key()).report(int(task))
    native.assert_unreported(task)


def test_wrong_password(native):
    acct = native.account("dbc")
    task = native.task(acct, "image")
    with pytest.raises(AccessDeniedException):
        client(acct, login="username_password", password=unknown_key()).report(int(task))
    native.assert_unreported(task)


def test_unknown_username(native):
    acct = native.account("dbc")
    task = native.task(acct, "image")
    with pytest.raises(AccessDeniedException):
        client(acct, login="username_password", username="nobody-" + unknown_key()).report(int(task))
    native.assert_unreported(task)


def test_another_accounts_name_with_my_key(native):
    me, other = native.account("dbc"), native.account("dbc")
    task = native.task(me, "image")
    with pytest.raises(AccessDeniedException):
        client(me, login="username_password", username=other.name).report(int(task))
    native.assert_unreported(task)
