"""Schemathesis against the shared local graph: every operation of its OpenAPI schema, with generated valid
and invalid input, and not one server error. Cheap routes get many examples, the LLM's few (bounded time).

No API key is sent: the write routes (training jobs, promotions, batches) answer 401 instead of starting
real work, and their validation is fuzzed all the same.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

# Each call of these runs the LLM (seconds on this CPU): few examples.
LLM_PATHS = r"^/(v1/designs$|v1/generate$|generate$|v1/chat/completions$|v1/completions$|v1/product-descriptions$)"
CHEAP_EXAMPLES, LLM_EXAMPLES = 25, 4


@pytest.fixture(scope="module")
def api_schema(serve_app):
    return schemathesis.openapi.from_url(f"{serve_app}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.exclude(path_regex=LLM_PATHS).parametrize()
@settings(max_examples=CHEAP_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_cheap_routes_never_answer_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error], timeout=120)


@schema.include(path_regex=LLM_PATHS).parametrize()
@settings(max_examples=LLM_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_llm_routes_never_answer_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error], timeout=600)
