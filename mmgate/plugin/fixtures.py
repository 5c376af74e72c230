"""Fixtures and parametrization of the gate tests (loaded by ``--mmgate`` in every process)."""

from __future__ import annotations

import pytest

from mmgate.gating.catalogue import GATE_BY_TEST, cases
from mmgate.gating.measurements import Measurements
from mmgate.plugin.context import RunContext
from mmgate.plugin.recorder import GateRecorder
from mmgate.plugin.stash import CONTEXT_KEY
from mmgate.subjects.subject import Subject


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    spec = GATE_BY_TEST.get(metafunc.function.__name__)
    if spec is None or CONTEXT_KEY not in metafunc.config.stash:
        return
    context = metafunc.config.stash[CONTEXT_KEY]
    grid = cases(spec, context.spec.seeds, context.confounders())
    metafunc.parametrize(list(spec.axes), [tuple(params.values()) for params, _ in grid],
                         ids=[case_id for _, case_id in grid])


@pytest.fixture(scope="session")
def mmgate_context(pytestconfig: pytest.Config) -> RunContext:
    """This process's run context: subject, embeddings and measurements, each built once."""
    return pytestconfig.stash[CONTEXT_KEY]


@pytest.fixture
def gate(request: pytest.FixtureRequest, mmgate_context: RunContext) -> GateRecorder:
    """The recorder of the running gate; errors out when the run could not be set up."""
    node = request.node
    spec = GATE_BY_TEST[node.originalname]
    mmgate_context.check_setup()
    return GateRecorder(node, spec, node.callspec.params, node.callspec.id, mmgate_context.spec.contract)


@pytest.fixture
def subject(mmgate_context: RunContext, gate: GateRecorder, seed: int) -> Subject:
    """The subject gated at this seed (built once per process)."""
    built = mmgate_context.subject(seed)
    gate.note_subject(seed, built)
    return built


@pytest.fixture
def measured(mmgate_context: RunContext, subject: Subject, seed: int) -> Measurements:
    """Panel measurements of the subject's canary embeddings at this seed."""
    return mmgate_context.measurements(seed)
