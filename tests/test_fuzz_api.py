"""The JSON API fuzzed from its own OpenAPI document (schemathesis): requests that fit the document and
requests that break it, with a staff token and a client token. Whatever arrives, the answer is no 5xx,
has a documented status and content type, and matches its documented schema."""

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from app.accounts.service import create_token
from app.calls.models import BlockedNumber, Call, OperatorPresence
from app.messages import forms, service
from app.presence.models import Notice
from app.tenants.models import Staff

from .test_api import law  # noqa: F401  (the firm with a consultation call type)

# Not positive_data_acceptance (a request can fit the document and still name no firm: 422), nor
# negative_data_rejection (unknown query parameters are ignored, as HTTP APIs commonly do).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Bounded: a fixed seed (the same cases in every CI run, so a failure reproduces) and a small budget.
EXAMPLES = 300


def _send(client, case, headers):
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    body = kwargs.pop("data", None)
    return client.request(kwargs["method"], kwargs["url"], params=kwargs.get("params"), json=kwargs.get("json"),
                          content=body if isinstance(body, (bytes, str)) else None,
                          data=body if isinstance(body, dict) else None,
                          headers={k: _header(v) for k, v in kwargs["headers"].items()})


def _header(value) -> str | bytes:
    """A header as generated: text beyond ASCII (an If-Match of "Æ3Å") goes on the wire as its
    latin-1 bytes, as a client could send it, instead of failing in the test's own HTTP client."""
    text = str(value)
    return text if text.isascii() else text.encode("latin-1", "replace")


@pytest.mark.parametrize("role", ["operator", "alice"])
def test_fuzzing_the_api_from_its_openapi_document_finds_no_server_error_and_no_undocumented_answer(
        client, law, operator, alice, role, request):  # noqa: F811
    user = request.getfixturevalue(role)
    headers = {"Authorization": f"Bearer {create_token(user.email)[1]}"}
    clean, _ = forms.check(law, forms.Entry(category="sales"))
    call, _ = Call.arrive("CA-fuzz", to="", caller="090-1111-2222", forwarded_from="03-1111-2222", region="JP")
    existing = service.record(law, clean, operator, call=call)
    waiting, _ = Call.arrive("CA-fuzz-waiting", to="", caller="", forwarded_from="03-1111-2222", region="JP")
    OperatorPresence.set(operator, True)
    blocked, _ = BlockedNumber.block(law, "090-1234-5678", "営業")
    Staff.create(tenant=law, key="yamada", name="山田 太郎")
    notice = Notice.create(tenant=law, text="本日休業")
    schema = schemathesis.openapi.from_dict(client.get("/api/v1/openapi.json").json())
    # Most cases name objects that exist (a message, calls, the firm, its staff member, a blocked number,
    # a notice), so reading, marking, taking, unblocking and withdrawing one is fuzzed too, not only 404s.
    real = {"id": existing.id, "sid": waiting.sid, "slug": law.slug, "number": blocked.number, "key": "yamada"}
    strategy = st.one_of(*(schema.as_strategy(mode, **extra) for mode in (GenerationMode.POSITIVE,
                                                                           GenerationMode.NEGATIVE)
                           for extra in ({}, {"path_parameters": real},
                                         {"path_parameters": {**real, "id": notice.id}})))
    failures = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def fuzz(case):
        response = _send(client, case, headers)
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:  # collected: one run reports every kind of failure
            failures.append(f"{case.method} {case.formatted_path} → {response.status_code}: {exc}"[:2000])

    fuzz()
    assert not failures, "\n\n".join(failures[:5])
