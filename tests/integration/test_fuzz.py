"""Schemathesis against the shared local graph: every operation of its OpenAPI schema, with generated valid
and invalid input; not one server error but a documented 503 (a full queue, a lost replica, a service not
configured), and not one status the operation does not declare (`status_code_conformance`: a client generated
from the schema handles every answer). Cheap routes get many examples, the LLM's few (bounded time).

No API key is sent: the write routes (training jobs, promotions, batches) answer 401 instead of starting
real work, and their validation is fuzzed all the same. (Driven through `operation.as_strategy()` rather
than schemathesis' pytest plugin, whose lazy fixture loader does not run under this pytest.)
"""

from __future__ import annotations

import re

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import status_code_conformance

# Each call of these runs the LLM (seconds on this CPU): few examples.
LLM_PATHS = re.compile(r"^/(v1/designs|v1/generate|generate|v1/chat/completions|v1/completions|v1/product-descriptions)$")
CHEAP_EXAMPLES, LLM_EXAMPLES = 15, 2


def fuzz(operation, examples: int, statuses: list[int]) -> str | None:
    """The first failure of `examples` generated cases against one operation, or None."""
    @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)))
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None,
              derandomize=True)
    def run(case):
        response = case.call(timeout=600)
        statuses.append(response.status_code)
        case.validate_response(response, checks=[status_code_conformance])
        documented_503 = response.status_code == 503 and "503" in operation.responses.status_codes
        assert response.status_code < 500 or documented_503, f"{response.status_code}: {response.text[:500]}"

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - schemathesis' FailureGroup; collect them all
        return f"{operation.method.upper()} {operation.path}: {str(exc)[:1500]}"
    return None


def test_no_operation_answers_a_server_error_or_a_status_it_does_not_declare(serve_app):
    schema = schemathesis.openapi.from_url(f"{serve_app}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    statuses: list[int] = []
    failures = [f for op in operations
                if (f := fuzz(op, LLM_EXAMPLES if LLM_PATHS.match(op.path) else CHEAP_EXAMPLES, statuses))]
    assert not failures, "\n\n".join(failures)
    print(f"{len(statuses)} calls over {len(operations)} operations: " +
          ", ".join(f"{code}: {statuses.count(code)}" for code in sorted(set(statuses))))
    assert len(statuses) >= 5 * len(operations) and statuses.count(200) >= 10
