"""Probe gates: factor information beyond a permutation null, and cross-modal correlation."""


def test_mi_probe(gate, measured):
    if not measured.canary.factors:
        gate.not_applicable("the canary set declares no factor labels")
    probe = measured.mi_probe()
    gate.check("MI excess over the label-permutation null (mean over factors, weaker modality)",
               probe["excess"], gate.threshold(), evidence=probe)


def test_cca_probe(gate, measured):
    cca = measured.cca()
    gate.check("mean of the top canonical correlations", cca["cca"], gate.threshold(), ci=cca["cca_ci"],
               pairs=measured.pairs, evidence=cca)
