"""Reference aligner: two 2-layer MLP towers trained with symmetric InfoNCE (analytic gradients),
with dominance/collapse controls that act, a best-by-validation trainer, and audit checks."""

from mmgate.reference.checkpoint import (
    CHECKPOINT_FORMAT,
    load_checkpoint,
    save_checkpoint,
)
from mmgate.reference.config import (
    DEFAULT_ALIGNER,
    DEFAULT_TRAINING,
    OPTIMIZERS,
    AlignerConfig,
    TrainConfig,
)
from mmgate.reference.determinism import (
    TINY_TRAINING,
    DeterminismError,
    determinism_self_check,
)
from mmgate.reference.evaluation import embed_split, split_snapshot
from mmgate.reference.gradcheck import (
    GradCheckReport,
    ParamCheck,
    check_aligner_gradients,
    finite_difference_check,
)
from mmgate.reference.gradients import BatchGradients, loss_and_gradients
from mmgate.reference.mlp import (
    MLP,
    init_mlp,
    mlp_backward,
    mlp_forward,
    mlp_from_arrays,
)
from mmgate.reference.model import (
    MODEL_NAME,
    MODEL_VERSION,
    ReferenceAligner,
    aligner_from_arrays,
)
from mmgate.reference.objective import (
    InfoNCEResult,
    l2_normalize,
    l2_normalize_backward,
    logsumexp,
    symmetric_infonce,
)
from mmgate.reference.optim import (
    AdamState,
    adam_init,
    adamw_update,
    clip_by_norm,
    global_norm,
    sgd_update,
)
from mmgate.reference.sensitivity import (
    OneStepTrainable,
    SensitivityProbe,
    sensitivity_proxy_one_step,
)
from mmgate.reference.trainer import TrainResult, train_reference, training_config_json

__all__ = [
    "CHECKPOINT_FORMAT",
    "DEFAULT_ALIGNER",
    "DEFAULT_TRAINING",
    "MLP",
    "MODEL_NAME",
    "MODEL_VERSION",
    "OPTIMIZERS",
    "TINY_TRAINING",
    "AdamState",
    "AlignerConfig",
    "BatchGradients",
    "DeterminismError",
    "GradCheckReport",
    "InfoNCEResult",
    "OneStepTrainable",
    "ParamCheck",
    "ReferenceAligner",
    "SensitivityProbe",
    "TrainConfig",
    "TrainResult",
    "adam_init",
    "adamw_update",
    "aligner_from_arrays",
    "check_aligner_gradients",
    "clip_by_norm",
    "determinism_self_check",
    "embed_split",
    "finite_difference_check",
    "global_norm",
    "init_mlp",
    "l2_normalize",
    "l2_normalize_backward",
    "load_checkpoint",
    "logsumexp",
    "loss_and_gradients",
    "mlp_backward",
    "mlp_forward",
    "mlp_from_arrays",
    "save_checkpoint",
    "sensitivity_proxy_one_step",
    "sgd_update",
    "split_snapshot",
    "symmetric_infonce",
    "train_reference",
    "training_config_json",
]
