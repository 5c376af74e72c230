"""Acceptance gates: retrieval in both directions, the per-query pair AUC and the symmetry gap
(chapter-3 AcceptCfg)."""

from mmgate.audit.plots import render_snapshot_plots


def test_retrieval_top1(gate, measured, direction):
    value, ci = measured.recall(direction, 1)
    gate.check(f"{direction} recall@1", value, gate.threshold(), ci=ci,
               evidence=measured.retrieval_evidence(direction))


def test_retrieval_top5(gate, measured, direction):
    value, ci = measured.recall(direction, 5)
    gate.check(f"{direction} recall@5", value, gate.threshold(), ci=ci,
               evidence=measured.retrieval_evidence(direction))


def test_pair_auc(gate, measured, direction):
    value, ci, evidence = measured.pair_auc(direction)
    gate.check(f"{direction} per-query AUC of the true partner (chance 0.5)", value, gate.threshold(),
               ci=ci, evidence=evidence)


def test_symmetry_gap(gate, measured):
    value, ci = measured.symmetry_gap()
    snapshot = measured.snapshot()
    gate.attach_plots(render_snapshot_plots(snapshot, limits=gate.plot_limits()))
    gate.check("|image_to_text - text_to_image| recall@1", value, gate.threshold(), ci=ci,
               evidence={"snapshot": snapshot})
