"""A LiT-style dual encoder gated end to end: the pretrained all-MiniLM-L6-v2 text tower frozen, a
small torch image tower trained to meet it on scikit-learn's bundled handwritten digits (1,797 real
8 x 8 scans), gated on a manifest of PNG files through ``mmgate.adapters.TorchEncoder``. Run from
the project root (the first run writes the PNGs and trains the tower, about a minute on two cores):

    pytest --mmgate --mmgate-subject examples.lit_digits:make_subject

``make_untrained_subject`` (the image tower at its random initialisation) and
``make_shuffled_subject`` (the canary's captions shuffled across classes) are the broken variants
a release gate must reject. Needs ``pip install 'mmgate[real-models,images]'``.
"""

from examples.lit_digits.subject import make_shuffled_subject, make_subject, make_untrained_subject

__all__ = ["make_shuffled_subject", "make_subject", "make_untrained_subject"]
