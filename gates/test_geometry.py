"""Geometry gates: collapse (mean cosine, variance floor, effective rank, RankMe, top-direction
energy), hubness, and the divergence of rank and norm between the two towers."""


def test_mean_cosine(gate, measured, modality):
    geometry = measured.geometry(modality)
    gate.check(f"{modality} mean off-diagonal cosine", geometry["mean_cosine"], gate.threshold(),
               ci=geometry["intervals"]["mean_cosine"], pairs=measured.pairs, evidence=geometry)


def test_variance_floor(gate, measured, modality):
    geometry = measured.geometry(modality)
    gate.check(f"{modality} minimum coordinate variance", geometry["variance"]["min"],
               gate.threshold(), ci=geometry["intervals"]["variance_min"], pairs=measured.pairs,
               evidence=geometry)


def test_effective_rank(gate, measured, modality):
    geometry = measured.geometry(modality)
    declared = gate.threshold()
    floor, basis = gate.contract.effective_rank_floor(geometry["n_items"], geometry["dimension"],
                                                      geometry["relevant_sets"])
    gate.check(f"{modality} effective rank", geometry["effective_rank"],
               gate.threshold(declared.op, floor), ci=geometry["intervals"]["effective_rank"],
               pairs=measured.pairs, evidence={**geometry, "floor": basis})


def test_direction_energy(gate, measured, modality):
    geometry = measured.geometry(modality)
    gate.check(f"{modality} share of the centred covariance energy in the top direction",
               geometry["direction_energy"], gate.threshold(), ci=geometry["intervals"]["direction_energy"],
               pairs=measured.pairs, evidence=geometry)


def test_rankme(gate, measured, modality):
    geometry = measured.geometry(modality)
    gate.check(f"{modality} RankMe as a share of the dimension {geometry['dimension']}",
               geometry["rankme_share"], gate.threshold(), ci=geometry["intervals"]["rankme_share"],
               pairs=measured.pairs, evidence=geometry)


def test_hubness(gate, measured, direction):
    hubness = measured.hubness(direction)
    gate.check(f"{direction} top-1 target concentration", hubness["concentration"],
               gate.threshold(), ci=hubness["concentration_ci"], pairs=measured.pairs, evidence=hubness)


def test_rank_divergence(gate, measured):
    divergence = measured.divergence()
    if divergence["rank_divergence"] is None:
        gate.not_applicable(divergence["not_comparable"])
    gate.check("effective-rank divergence between the towers", divergence["rank_divergence"],
               gate.threshold(), ci=divergence["rank_divergence_ci"], pairs=measured.pairs, evidence=divergence)


def test_norm_divergence(gate, measured):
    divergence = measured.divergence()
    gate.check("pre-normalisation norm divergence between the towers",
               divergence["norm_divergence"], gate.threshold(), ci=divergence["norm_divergence_ci"],
               pairs=measured.pairs, evidence=divergence)
