"""Detection power on real subjects: graded failures injected into a real encoder, judged by the
release's own gates (``python -m mmgate power``)."""

DEFAULT_SUBJECTS = ("examples.minilm_paraphrase.subject:make_subject", "examples.lit_digits.subject:make_subject")
HEALTHY_DRAWS = 20
