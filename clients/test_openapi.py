"""`/openapi.json` against the running server: the document validates as OpenAPI 3.1, and
schemathesis, generating requests from it for every operation, finds no server error, no
answer outside the documented statuses and no body outside the documented schema.

It runs against a `verdict serve` of its own: the generated requests change accounts, keys and
standing at random, which must not touch the accounts the other tests use.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from openapi_spec_validator import validate

from conftest import start_server, stop_server


@pytest.fixture(scope="module")
def fresh(tls):
    srv = start_server(tls)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def document(fresh, tls) -> dict:
    resp = requests.get(f"{fresh.base_url}/openapi.json", verify=tls.cert, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.fixture(scope="module")
def client_key(fresh, tls) -> str:
    """A client account's key, for the operations only a client may call."""
    resp = requests.post(
        f"{fresh.base_url}/v1/accounts",
        json={"name": "schemathesis-client"},
        headers={"Authorization": f"Bearer {fresh.admin_token}"},
        verify=tls.cert,
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["api_key"]


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1"), document["openapi"]
    validate(document)
    # Every native route is there with the credentials it takes.
    paths = document["paths"]
    for path in ("/v1/accounts", "/v1/reports", "/v1/tasks", "/v1/providers", "/v1/route"):
        assert path in paths, sorted(paths)
    schemes = document["components"]["securitySchemes"]
    assert set(schemes) == {"admin_token", "api_key"}, schemes


# Whether answers are what the document says: no 5xx, documented statuses, bodies, content
# types and headers. (Not the checks that expect a 4xx for any value outside a schema: verdict
# reads fields leniently on purpose, `"trusted": "true"` included, as the dialects do.)
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_schema_conformance,response_headers_conformance"
)


def schemathesis_run(fresh, tls, token: str, *extra: str) -> str:
    """Runs schemathesis's CLI against the server with `token`; returns its output."""
    binary = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [
            str(binary), "run", f"{fresh.base_url}/openapi.json",
            "--checks", CHECKS,
            "--max-examples", "40",
            "--seed", "1",
            "--workers", "1",
            "--tls-verify", tls.cert,
            "-H", f"Authorization: Bearer {token}",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    return output


def cases(output: str) -> tuple[int, int, int]:
    """Operations tested, and cases generated and passed, from schemathesis's summary."""
    tested = re.search(r"Tested: (\d+)", output)
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    assert tested and counts, output[-3000:]
    return int(tested.group(1)), int(counts.group(1)), int(counts.group(2))


def test_every_operation_answers_as_its_document_says_for_the_operator(fresh, tls, document):
    tested, generated, passed = cases(schemathesis_run(fresh, tls, fresh.admin_token))
    operations = sum(
        1 for item in document["paths"].values() for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )
    assert tested == operations, (tested, operations)
    assert generated >= 20 * operations and passed == generated, (generated, passed)


def test_the_client_operations_answer_as_documented_for_a_client(fresh, tls, client_key):
    tested, generated, passed = cases(schemathesis_run(
        fresh, tls, client_key,
        "--include-path-regex", "^/v1/(reports|accounts/\\{id\\}.*|tasks/\\{id\\})$",
    ))
    assert tested >= 8 and generated >= 100 and passed == generated, (tested, generated, passed)
