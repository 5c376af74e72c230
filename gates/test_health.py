"""Health gates: every embedding finite and non-zero; embedding the canary twice is identical."""


def test_numerical_health(gate, subject, measured, modality):
    # Embeddings the encoder could not deliver usable (NaN, Inf, zero rows, wrong shape: rejected
    # as they are embedded) make this gate error, like every other gate that cannot run.
    health = measured.health(modality)
    gate.check(f"{modality} rows that are NaN, Inf or zero", health["bad_rows"],
               gate.threshold("==", 0), evidence=health)


def test_determinism(gate, mmgate_context, subject, measured, modality):
    comparison = mmgate_context.second_pass(subject, measured.seed, modality)
    gate.check(f"{modality} entries differing between two embedding passes",
               comparison["differing_entries"], gate.threshold("==", 0), evidence=comparison)
