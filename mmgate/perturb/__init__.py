"""Perturbation operators: composable, seeded, typed changes of a PairedSet's images, texts,
pairing or preprocessing (and of the scoring rule), each with an intensity and a ``to_json``."""

from mmgate.perturb.base import Operator
from mmgate.perturb.chain import Chain
from mmgate.perturb.images import (
                                   Blur,
                                   Brightness,
                                   ChannelShift,
                                   Contrast,
                                   Crop,
                                   GaussianNoise,
                                   StrokeWeight,
                                   Translate,
                                   Watermark,
)
from mmgate.perturb.pairing import BlockShuffle, OffsetPairs, SwapPairs
from mmgate.perturb.preprocess import PreprocessScale, PreprocessShift
from mmgate.perturb.registry import (
                                   BUILTIN_OPERATORS,
                                   OperatorRegistry,
                                   make_operator,
                                   registry_for,
)
from mmgate.perturb.scoring import ScoringPerturbation, TemperatureScale
from mmgate.perturb.texts import (
                                   MarkerToken,
                                   TemplatePrefix,
                                   TokenDropout,
                                   TokenShuffle,
                                   TokenSubstitution,
)

__all__ = [
    "BUILTIN_OPERATORS", "BlockShuffle", "Blur", "Brightness", "Chain", "ChannelShift", "Contrast",
    "Crop", "GaussianNoise", "MarkerToken", "OffsetPairs", "Operator", "OperatorRegistry",
    "PreprocessScale", "PreprocessShift", "ScoringPerturbation", "SwapPairs", "TemperatureScale",
    "StrokeWeight", "TemplatePrefix", "TokenDropout", "TokenShuffle", "TokenSubstitution", "Translate", "Watermark",
    "make_operator", "registry_for",
]
