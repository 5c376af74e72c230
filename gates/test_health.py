"""Health gates: every embedding finite and non-zero; embedding the canary twice is identical."""

from mmgate.subjects.embedding import EncoderOutputError


def test_numerical_health(gate, mmgate_context, subject, seed, modality):
    try:
        measured = mmgate_context.measurements(seed)
    except EncoderOutputError as exc:
        gate.fail(f"embeddings unusable: {exc}", evidence={"error": str(exc)})
    health = measured.health(modality)
    gate.check(f"{modality} rows that are NaN, Inf or zero", health["bad_rows"],
               gate.threshold("==", 0), evidence=health)


def test_determinism(gate, mmgate_context, subject, measured, modality):
    again = mmgate_context.embed_again(subject)
    comparison = measured.compare(again, modality)
    gate.check(f"{modality} entries differing between two embedding passes",
               comparison["differing_entries"], gate.threshold("==", 0), evidence=comparison)
