"""Detection power on real subjects: graded failures injected into a real encoder, judged by the
release's own gates (``python -m mmgate power``)."""
