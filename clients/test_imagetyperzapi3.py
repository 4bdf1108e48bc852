"""imagetyperzapi3 0.5: `ImageTyperzAPI(token).set_captcha_bad(captcha_id)`, with an access token
and, after `set_user_password(username, password)`, with a username and password.

The client POSTs the form `action=SETBADIMAGE&imageid=ID&submit=Submissssst` plus `token=…` to
`BAD_IMAGE_ENDPOINT_TOKEN` (or `username=…&password=…` to `BAD_IMAGE_ENDPOINT`), with
`User-Agent: pythonAPI1.0`. It never looks at the status: a body containing `ERROR:` raises
`Exception(<the text after it>)`, anything else is returned as it is.

Aiming: the module constants `BAD_IMAGE_ENDPOINT_TOKEN` and `BAD_IMAGE_ENDPOINT` in
`imagetyperzapi3.imagetyperzapi`, read at call time, set to verdict's
https://127.0.0.1:PORT/Forms/SetBadImageToken.ashx and …/SetBadImage.ashx (the library has no
host setting; its URLs are these constants). requests verifies TLS against REQUESTS_CA_BUNDLE.
With a username and password, the username is the account's name and the password its key.

ImageTyperz rules as verdict applies them: every type on the one endpoint; no window is
documented, so tokens 60 s and images 24 h; an identical retry answers SUCCESS again.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from imagetyperzapi3 import imagetyperzapi
from imagetyperzapi3.imagetyperzapi import ImageTyperzAPI

from conftest import unknown_key

DIALECT = "imagetyperz"


@pytest.fixture(autouse=True)
def aimed_at_verdict(server, monkeypatch):
    base = f"{server.base_url}/Forms"
    monkeypatch.setattr(imagetyperzapi, "BAD_IMAGE_ENDPOINT_TOKEN", f"{base}/SetBadImageToken.ashx")
    monkeypatch.setattr(imagetyperzapi, "BAD_IMAGE_ENDPOINT", f"{base}/SetBadImage.ashx")


def client(acct=None, *, login="token", token=None, username=None, password=None):
    c = ImageTyperzAPI(token if token is not None else acct.key, timeout=30)
    if login == "username_password":
        c.set_user_password(
            username if username is not None else acct.name,
            password if password is not None else acct.key,
        )
    return c


LOGINS = ["token", "username_password"]


def raises(message):
    """The library raises a bare Exception whose text is the token after `ERROR:`."""
    return pytest.raises(Exception, match=f"^{message}$")


@pytest.mark.parametrize("login", LOGINS)
@pytest.mark.parametrize(
    "captcha_type", ["image", "audio", "recaptcha_v2", "recaptcha_v3", "hcaptcha", "turnstile", "funcaptcha", "geetest"]
)
def test_set_captcha_bad_is_recorded_and_refunded_once(native, login, captcha_type):
    acct = native.account("itz")
    task = native.task(acct, captcha_type)
    assert client(acct, login=login).set_captcha_bad(task) == "SUCCESS"
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_an_integer_id_works_as_a_string_does(native):
    acct = native.account("itz")
    task = native.task(acct, "image")
    assert client(acct).set_captcha_bad(int(task)) == "SUCCESS"
    native.assert_accepted(acct, task, DIALECT)


@pytest.mark.parametrize("login", LOGINS)
def test_unknown_id(native, login):
    acct = native.account("itz")
    with raises("INVALID_IMAGE_ID"):
        client(acct, login=login).set_captcha_bad("999000000004")


@pytest.mark.parametrize("login", LOGINS)
def test_another_accounts_captcha_is_unknown(native, login):
    me, other = native.account("itz"), native.account("itz")
    task = native.task(other, "image")
    with raises("INVALID_IMAGE_ID"):
        client(me, login=login).set_captcha_bad(task)
    native.assert_unreported(task)
    native.assert_balance(other, "0")


@pytest.mark.parametrize("bad_id", ["abc", "12.5", "-3"])
def test_an_id_that_is_not_an_integer(native, bad_id):
    acct = native.account("itz")
    with raises("INVALID_IMAGE_ID"):
        client(acct).set_captcha_bad(bad_id)


@pytest.mark.parametrize("login", LOGINS)
def test_identical_repeat_succeeds_and_refunds_once(native, login):
    acct = native.account("itz")
    task = native.task(acct, "image")
    c = client(acct, login=login)
    assert c.set_captcha_bad(task) == "SUCCESS"
    assert c.set_captcha_bad(task) == "SUCCESS"
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_report_after_a_confirmation_is_refused(native, plain):
    # ImageTyperz has no "correct" report; the confirmation comes in through 2captcha's.
    acct = native.account("itz")
    task = native.task(acct, "recaptcha_v2")
    r = plain("/res.php", data={"key": acct.key, "action": "reportgood", "id": task})
    assert r.text == "OK_REPORT_RECORDED"
    with raises("ALREADY_REPORTED"):
        client(acct).set_captcha_bad(task)
    native.assert_acknowledged(acct, task, "twocaptcha")
    native.assert_balance(acct, "0")


@pytest.mark.parametrize(
    "captcha_type,age",
    [("image", timedelta(days=2)), ("recaptcha_v2", timedelta(days=2)), ("hcaptcha", timedelta(seconds=90))],
    ids=["image-2d", "recaptcha-2d", "hcaptcha-90s"],
)
def test_expired_captcha(native, captcha_type, age):
    acct = native.account("itz")
    task = native.task(acct, captcha_type, age=age)
    with raises("REPORT_WINDOW_EXPIRED"):
        client(acct).set_captcha_bad(task)
    native.assert_unreported(task)
    native.assert_balance(acct, "0")


def test_wrong_token(native):
    acct = native.account("itz")
    task = native.task(acct, "image")
    with raises("AUTHENTICATION_FAILED"):
        client(token=unknown_key()).set_captcha_bad(task)
    native.assert_unreported(task)


def test_wrong_password(native):
    acct = native.account("itz")
    task = native.task(acct, "image")
    with raises("AUTHENTICATION_FAILED"):
        client(acct, login="username_password", password=unknown_key()).set_captcha_bad(task)
    native.assert_unreported(task)


def test_unknown_username(native):
    acct = native.account("itz")
    task = native.task(acct, "image")
    with raises("AUTHENTICATION_FAILED"):
        client(acct, login="username_password", username="nobody-" + unknown_key()).set_captcha_bad(task)
    native.assert_unreported(task)


def test_another_accounts_name_with_my_key(native):
    me, other = native.account("itz"), native.account("itz")
    task = native.task(me, "image")
    with raises("AUTHENTICATION_FAILED"):
        client(me, login="username_password", username=other.name).set_captcha_bad(task)
    native.assert_unreported(task)


def test_an_empty_password_is_invalid(native):
    # set_user_password with an empty password still selects the username endpoint.
    acct = native.account("itz")
    task = native.task(acct, "image")
    with raises("INVALID_PASSWORD"):
        client(acct, login="username_password", password="").set_captcha_bad(task)
    native.assert_unreported(task)
