"""The gate catalogue is the single list of gate cases: ids are readable and stable."""

from mmgate.audit.risks import RISKS
from mmgate.gating.catalogue import GATE_BY_NAME, GATES, cases, expected_gates, gate_key


def test_case_ids_read_like_the_issue_example():
    ids = [case_id for _, case_id in cases(GATE_BY_NAME["retrieval_top1"], seeds=2)]
    assert ids == ["seed0-image_to_text", "seed0-text_to_image", "seed1-image_to_text", "seed1-text_to_image"]


def test_gate_id_is_install_independent():
    spec = GATE_BY_NAME["retrieval_top1"]
    assert spec.gate_id("seed0-image_to_text") == "gates/test_acceptance.py::test_retrieval_top1[seed0-image_to_text]"


def test_expected_gates_grow_with_seeds():
    one, three = expected_gates(1), expected_gates(3)
    assert len(three) == 3 * len(one)
    assert all(key.startswith("test_") for key in three)


def test_gate_key_strips_the_xdist_group_suffix():
    assert gate_key("gates/test_health.py::test_determinism[seed0-image]@seed0") == \
        "test_determinism[seed0-image]"


def test_gate_key_strips_any_path_prefix():
    assert (
        gate_key("../venv/site-packages/mmgate/gates/test_health.py::test_determinism[seed0-image]")
        == "test_determinism[seed0-image]"
    )


def test_every_gate_controls_a_risk_and_every_risk_names_real_gates():
    named = {gate for risk in RISKS for control in risk["controls"] for gate in control["gates"]}
    assert named == {spec.name for spec in GATES}
