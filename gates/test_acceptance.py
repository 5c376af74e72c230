"""Acceptance gates: retrieval in both directions, the per-query pair AUC and the symmetry gap
(chapter-3 AcceptCfg), and zero-shot classification over the subject's class prompts."""

from mmgate.audit.plots import render_snapshot_plots


def test_retrieval_top1(gate, measured, direction):
    value, ci = measured.recall(direction, 1)
    gate.check(f"{direction} recall@1", value, gate.threshold(), ci=ci, pairs=measured.pairs,
               evidence=measured.retrieval_evidence(direction))


def test_retrieval_top5(gate, measured, direction):
    value, ci = measured.recall(direction, 5)
    gate.check(f"{direction} recall@5", value, gate.threshold(), ci=ci, pairs=measured.pairs,
               evidence=measured.retrieval_evidence(direction))


def test_pair_auc(gate, measured, direction):
    value, ci, evidence = measured.pair_auc(direction)
    gate.check(f"{direction} per-query AUC of the true partner (chance 0.5)", value, gate.threshold(),
               ci=ci, pairs=measured.pairs, evidence=evidence)


def test_symmetry_gap(gate, measured):
    value, ci = measured.symmetry_gap()
    snapshot = measured.snapshot()
    gate.attach_plots(render_snapshot_plots(snapshot, limits=gate.plot_limits()))
    gate.check("|image_to_text - text_to_image| recall@1", value, gate.threshold(), ci=ci,
               pairs=measured.pairs, evidence={"snapshot": snapshot})


def test_zero_shot(gate, mmgate_context, subject, seed):
    if subject.class_prompts is None:
        gate.not_applicable("the subject declares no class prompts (Subject(class_prompts={label: "
                            "[prompt, ...]}) over a canary whose groups are class labels)")
    declared = gate.threshold()
    value, ci, evidence = mmgate_context.zero_shot(subject, seed)
    floor, basis = gate.contract.zero_shot_floor(evidence["n_classes"])
    gate.check(f"zero-shot top-1 over {evidence['n_classes']} classes (chance {evidence['chance']:.3g})",
               value, gate.threshold(declared.op, floor), ci=ci, pairs=len(subject.canary),
               evidence={**evidence, "floor": basis})
