"""The decision fails closed: APPROVE only on complete, passing evidence for required gates."""

import pytest

from mmgate.gating.catalogue import expected_gates
from mmgate.gating.decision import EXIT_CODES, decide
from mmgate.gating.results import GateResult

EXPECTED = expected_gates(1)


def result(key, status, required=True):
    spec, params, gate_id = EXPECTED[key]
    return GateResult(
        gate_id=gate_id,
        gate=spec.name,
        family=spec.family,
        params=params,
        status=status,
        required=required,
        message=status,
    )


def all_with(status="passed", required=lambda name: True):
    return {key: result(key, status, required(spec.name)) for key, (spec, _, _) in EXPECTED.items()}


def test_all_passed_is_approve_with_exit_zero():
    decision = decide(all_with(), EXPECTED, lambda name: True, "not run")
    assert decision.decision == "APPROVE" and decision.exit_code == 0
    assert len(decision.passed) == len(EXPECTED)


@pytest.mark.parametrize("status", ["failed", "error"])
def test_one_failure_or_error_rejects(status):
    observed = all_with()
    key = next(iter(observed))
    observed[key] = result(key, status)
    decision = decide(observed, EXPECTED, lambda name: True, "not run")
    assert decision.decision == "REJECT" and decision.exit_code == EXIT_CODES["REJECT"] != 0


def test_failure_of_an_optional_gate_still_rejects():
    observed = all_with()
    key = next(iter(observed))
    observed[key] = result(key, "failed", required=False)
    assert decide(observed, EXPECTED, lambda name: True, "x").decision == "REJECT"


@pytest.mark.parametrize("status", ["skipped", "not_applicable"])
def test_required_gate_without_evidence_is_incomplete(status):
    observed = all_with()
    key = next(iter(observed))
    observed[key] = result(key, status)
    decision = decide(observed, EXPECTED, lambda name: True, "not run")
    assert decision.decision == "INCOMPLETE" and decision.exit_code == EXIT_CODES["INCOMPLETE"]
    assert decision.missing_required == (observed[key].gate_id,)


def test_gates_never_reported_are_missing_and_block_approval():
    observed = all_with()
    dropped = next(iter(observed))
    del observed[dropped]
    decision = decide(observed, EXPECTED, lambda name: True, "deselected")
    assert decision.decision == "INCOMPLETE"
    missing = [r for r in decision.results if r.status == "missing"]
    assert [r.gate_id for r in missing] == [EXPECTED[dropped][2]]
    assert missing[0].reason == "deselected"


def test_a_deselected_gate_blocks_even_when_not_required():
    observed = all_with()
    dropped = next(iter(observed))
    del observed[dropped]
    optional = EXPECTED[dropped][0].name
    decision = decide(observed, EXPECTED, lambda name: name != optional, "deselected")
    assert decision.decision == "INCOMPLETE"


def test_an_optional_gate_that_cannot_apply_does_not_block():
    observed = all_with()
    key = next(iter(observed))
    observed[key] = result(key, "not_applicable", required=False)
    decision = decide(observed, EXPECTED, lambda name: True, "x")
    assert decision.decision == "APPROVE" and decision.not_applicable == (observed[key].gate_id,)


def test_no_evidence_at_all_is_never_approve():
    assert decide({}, EXPECTED, lambda name: True, "interrupted").decision == "INCOMPLETE"


def test_failure_wins_over_missing_evidence():
    observed = all_with()
    keys = list(observed)
    observed[keys[0]] = result(keys[0], "failed")
    del observed[keys[1]]
    assert decide(observed, EXPECTED, lambda name: True, "x").decision == "REJECT"


@pytest.mark.parametrize("required", [True, False])
def test_an_inconclusive_case_makes_the_release_incomplete_never_a_reject(required):
    observed = all_with()
    key = next(iter(observed))
    observed[key] = result(key, "inconclusive", required=required)
    decision = decide(observed, EXPECTED, lambda name: True, "not run")
    assert decision.decision == "INCOMPLETE" and decision.inconclusive == (observed[key].gate_id,)
    assert decision.counts()["inconclusive"] == 1


def test_a_failure_beside_an_inconclusive_case_still_rejects():
    observed = all_with()
    first, second = list(observed)[:2]
    observed[first] = result(first, "inconclusive")
    observed[second] = result(second, "failed")
    assert decide(observed, EXPECTED, lambda name: True, "x").decision == "REJECT"
