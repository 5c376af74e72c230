"""Drift gates against the baseline of an approved release (``--mmgate-baseline``): each monitored
metric's change within its budget, and, for the built-in subject, the drift classifier's label.
Recording a baseline (``--mmgate-record-baseline``) ships each seed's monitoring profile from here
to the controller."""

from mmgate.drift.budgets import METRICS
from mmgate.drift.classifier import BENIGN
from mmgate.errors import InputError


def test_drift_budget(gate, mmgate_context, subject, seed, metric):
    # No embedding is needed to know that no baseline was asked for: that comes first, so a subject
    # whose embeddings are unusable does not also error every budget of a comparison nobody asked for.
    if mmgate_context.recording and metric == METRICS[0]:
        gate.attach_profile(mmgate_context.monitoring_profile(seed))
    if not mmgate_context.comparing:
        gate.not_applicable("no baseline to compare against (--mmgate-baseline PATH)")
    try:
        check, details = mmgate_context.drift_check(seed, metric)
    except InputError as exc:
        gate.not_applicable(f"{metric} cannot be compared: {exc}")
    gate.check(f"{metric}: {check.budget.kind} {check.budget.direction} against the baseline",
               check.statistic, gate.threshold("<=", check.budget.limit),
               evidence={**check.to_dict(), **details})


def test_drift_diagnosis(gate, mmgate_context, subject, seed):
    if not mmgate_context.comparing:
        gate.not_applicable("no baseline to compare against (--mmgate-baseline PATH)")
    if not mmgate_context.builtin:
        gate.not_applicable("the classifier's evidence needs the synthetic world (factors, confounder markers, "
                            "a regenerable current set); a user subject's drift is judged by its budgets")
    mismatch = mmgate_context.diagnosis_mismatch(seed)
    if mismatch is not None:
        gate.not_applicable(mismatch)
    diagnosis = mmgate_context.diagnosis(seed)
    label = diagnosis["classification"]["label"]
    if label != BENIGN:
        gate.fail(f"drift diagnosed as {label}: {diagnosis['decision']['reason']}", evidence=diagnosis)
    failing = [name for name in diagnosis["classification"]["met"] if name != BENIGN]
    gate.check("failure classes meeting their minimum evidence", len(failing), gate.threshold("==", 0),
               evidence=diagnosis)
