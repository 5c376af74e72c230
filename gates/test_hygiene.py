"""Hygiene gates: disjoint splits and no index-like cue in the synthetic world's inputs, and an audit
of the training pairs a subject declares."""

BUILTIN_ONLY = ("needs the synthetic world's splits and raw inputs; a user canary has no training "
                "split to compare against")


def test_split_hygiene(gate, mmgate_context, seed):
    if not mmgate_context.builtin:
        gate.not_applicable(BUILTIN_ONLY)
    report = mmgate_context.split_hygiene(seed)
    gate.check("items shared between train, validation and test", report["overlapping_items"],
               gate.threshold("==", 0), evidence=report)


def test_leakage_alarm(gate, mmgate_context, seed):
    if not mmgate_context.builtin:
        gate.not_applicable(BUILTIN_ONLY)
    alarm = mmgate_context.leakage_alarm(seed)
    gate.check("max |correlation| of an input feature with item-index parity", alarm["max_abs_corr"],
               gate.threshold(), evidence=alarm)


def test_pair_audit(gate, mmgate_context, subject, seed):
    if subject.training is None:
        gate.not_applicable("the subject declares no training pairs to audit")
    audit = mmgate_context.pair_audit(subject, seed)
    gate.check("share of training pairs scored no better than unrelated pairs", audit["suspect_fraction"],
               gate.threshold(), evidence=audit)
