"""python-anticaptcha 2.0.0: `AnticaptchaClient` (requests) and `AsyncAnticaptchaClient` (httpx).

Report functions: `reportIncorrectImage(task_id)` / `report_incorrect_image`,
`reportIncorrectRecaptcha(task_id)` / `report_incorrect_recaptcha`, and the same through a
`Job` / `AsyncJob` (`report_incorrect_image()`, `report_incorrect_recaptcha()`, and the
deprecated `Job.report_incorrect()`). The library has no correct-report or hCaptcha method.
It POSTs `{"clientKey", "taskId"}` to `/reportIncorrectImageCaptcha` or
`/reportIncorrectRecaptcha`; on success the image call returns `bool(status)`, the reCAPTCHA
call `status == "success"`; a non-zero errorId raises
`AnticaptchaException(errorId, errorCode, errorDescription)` (errorId 11 would first look up the
caller's IP at api.myip.com; verdict never sends 11, and the tests check no lookup happened).

Aiming: the constructor's own `host="127.0.0.1:PORT"` with `use_ssl=True`; TLS is verified
against REQUESTS_CA_BUNDLE (sync) and SSL_CERT_FILE (async).
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest
from python_anticaptcha import AnticaptchaClient, AnticaptchaException, Job
from python_anticaptcha.async_client import AsyncAnticaptchaClient, AsyncJob

from conftest import run, unknown_key

DIALECT = "anticaptcha"
NOT_FOUND_TEXT = "Task you are requesting does not exist in your current task list or has been expired."

# Every way the library offers to send each report: a client method, or "job." + a Job method.
# Only the sync Job keeps the deprecated `report_incorrect` (an image report).
IMAGE_WAYS = ["reportIncorrectImage", "report_incorrect_image", "job.report_incorrect_image"]
RECAPTCHA_WAYS = ["reportIncorrectRecaptcha", "report_incorrect_recaptcha", "job.report_incorrect_recaptcha"]


def _sync(server, key, way, task_id):
    with AnticaptchaClient(key, host=server.hostport, use_ssl=True) as client:
        try:
            if way.startswith("job."):
                job = Job(client, task_id)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # Job.report_incorrect
                    return getattr(job, way[4:])()
            return getattr(client, way)(task_id)
        finally:
            assert not hasattr(client, "_client_ip"), "the errorId 11 path made an outbound call"


async def _async(server, key, way, task_id):
    async with AsyncAnticaptchaClient(key, host=server.hostport, use_ssl=True) as client:
        try:
            if way.startswith("job."):
                return await getattr(AsyncJob(client, task_id), way[4:])()
            return await getattr(client, way)(task_id)
        finally:
            assert not hasattr(client, "_client_ip"), "the errorId 11 path made an outbound call"


def _call(server, mode, key, way, task_id):
    if mode == "sync":
        return _sync(server, key, way, task_id)
    return run(_async(server, key, way, task_id))


@pytest.fixture(params=["sync", "async"])
def report(request, server):
    """`report(key, way, task_id)` through the sync or the async client."""
    return lambda key, way, task_id: _call(server, request.param, key, way, task_id)


def expect_error(report, key, way, task_id, error_id, error_code, description=None):
    with pytest.raises(AnticaptchaException) as e:
        report(key, way, task_id)
    assert (e.value.error_id, e.value.error_code) == (error_id, error_code)
    assert isinstance(e.value.error_description, str) and e.value.error_description
    if description is not None:
        assert e.value.error_description == description
    return e.value


# --- positive reports ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode,way",
    [(mode, way) for mode in ("sync", "async") for way in IMAGE_WAYS] + [("sync", "job.report_incorrect")],
)
def test_incorrect_image_is_recorded_and_refunded_once(server, native, mode, way):
    acct = native.account("pac")
    task = native.task(acct, "image")
    assert _call(server, mode, acct.key, way, int(task)) is True
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


@pytest.mark.parametrize("captcha_type", ["recaptcha_v2", "recaptcha_v3", "recaptcha_enterprise"])
@pytest.mark.parametrize("way", RECAPTCHA_WAYS)
def test_incorrect_recaptcha_is_recorded_and_refunded_once(report, native, way, captcha_type):
    acct = native.account("pac")
    task = native.task(acct, captcha_type)
    assert report(acct.key, way, int(task)) is True
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("way", ["reportIncorrectImage", "reportIncorrectRecaptcha"])
def test_unknown_id(report, native, way):
    acct = native.account("pac")
    expect_error(report, acct.key, way, 999000000003, 16, "ERROR_NO_SUCH_CAPCHA_ID", NOT_FOUND_TEXT)


@pytest.mark.parametrize("way,captcha_type", [("reportIncorrectImage", "image"), ("reportIncorrectRecaptcha", "recaptcha_v2")])
def test_another_accounts_task_is_unknown(report, native, way, captcha_type):
    me, other = native.account("pac"), native.account("pac")
    task = native.task(other, captcha_type)
    expect_error(report, me.key, way, int(task), 16, "ERROR_NO_SUCH_CAPCHA_ID", NOT_FOUND_TEXT)
    native.assert_unreported(task)
    native.assert_balance(other, "0")


@pytest.mark.parametrize("way,captcha_type", [("reportIncorrectImage", "image"), ("reportIncorrectRecaptcha", "recaptcha_v2")])
def test_identical_repeat_succeeds_and_refunds_once(report, native, way, captcha_type):
    acct = native.account("pac")
    task = native.task(acct, captcha_type)
    assert report(acct.key, way, int(task)) is True
    assert report(acct.key, way, int(task)) is True
    native.assert_accepted(acct, task, DIALECT)
    native.assert_balance(acct, "0.002")


def test_incorrect_after_a_correct_report_is_refused(report, native, plain):
    # The library cannot confirm a solution; the first (correct) report goes in through the
    # same dialect with plain requests, as anti-captcha's other clients would send it.
    acct = native.account("pac")
    task = native.task(acct, "recaptcha_v3")
    first = plain("/reportCorrectRecaptcha", json={"clientKey": acct.key, "taskId": int(task)})
    assert (first.status_code, first.json()) == (200, {"errorId": 0, "status": "success"})
    expect_error(report, acct.key, "reportIncorrectRecaptcha", int(task), 16, "ERROR_NO_SUCH_CAPCHA_ID")
    native.assert_acknowledged(acct, task, DIALECT)
    native.assert_balance(acct, "0")


@pytest.mark.parametrize(
    "way,captcha_type,age",
    [
        ("reportIncorrectImage", "image", timedelta(days=2)),
        ("reportIncorrectRecaptcha", "recaptcha_v2", timedelta(days=2)),
        ("reportIncorrectRecaptcha", "recaptcha_v3", timedelta(seconds=90)),  # the documented 60 s
    ],
    ids=["image-2d", "recaptcha-2d", "recaptcha-90s"],
)
def test_expired_task(report, native, way, captcha_type, age):
    acct = native.account("pac")
    task = native.task(acct, captcha_type, age=age)
    expect_error(report, acct.key, way, int(task), 16, "ERROR_NO_SUCH_CAPCHA_ID", NOT_FOUND_TEXT)
    native.assert_unreported(task)
    native.assert_balance(acct, "0")


def test_image_report_after_the_documented_60_seconds_is_refused(report, native):
    # anti-captcha documents 60 s for reportIncorrectImageCaptcha too (peer-apis.md §4.1, §4.5);
    # verdict's default image window is 24 h: a known discrepancy (see test_anticaptchaofficial).
    acct = native.account("pac")
    task = native.task(acct, "image", age=timedelta(minutes=5))
    expect_error(report, acct.key, "reportIncorrectImage", int(task), 16, "ERROR_NO_SUCH_CAPCHA_ID", NOT_FOUND_TEXT)
    native.assert_unreported(task)
    native.assert_balance(acct, "0")


@pytest.mark.parametrize("way,captcha_type", [("reportIncorrectImage", "image"), ("reportIncorrectRecaptcha", "recaptcha_v2")])
def test_wrong_key(report, native, way, captcha_type):
    acct = native.account("pac")
    task = native.task(acct, captcha_type)
    expect_error(report, unknown_key(), way, int(task), 1, "ERROR_KEY_DOES_NOT_EXIST")
    native.assert_unreported(task)


@pytest.mark.parametrize(
    "way,captcha_type",
    [
        ("reportIncorrectImage", "recaptcha_v2"),
        ("reportIncorrectImage", "hcaptcha"),
        ("reportIncorrectImage", "audio"),
        ("reportIncorrectRecaptcha", "image"),
        ("reportIncorrectRecaptcha", "hcaptcha"),
        ("reportIncorrectRecaptcha", "funcaptcha"),
    ],
)
def test_ineligible_type(report, native, way, captcha_type):
    acct = native.account("pac")
    task = native.task(acct, captcha_type)
    expect_error(report, acct.key, way, int(task), 16, "ERROR_NO_SUCH_CAPCHA_ID")
    native.assert_unreported(task)
    native.assert_balance(acct, "0")
