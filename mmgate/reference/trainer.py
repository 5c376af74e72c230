"""Train the reference aligner on a world's (already paired) train split; keep the best model."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from mmgate.errors import ConfigError
from mmgate.records.canonical import canonical_json_line
from mmgate.reference.config import (
    DEFAULT_ALIGNER,
    DEFAULT_TRAINING,
    AlignerConfig,
    TrainConfig,
)
from mmgate.reference.evaluation import split_snapshot
from mmgate.reference.gradients import DECAYED_PARAMS, loss_and_gradients
from mmgate.reference.mlp import MLP, init_mlp, mlp_from_arrays
from mmgate.reference.model import MODEL_NAME, MODEL_VERSION, ReferenceAligner
from mmgate.reference.optim import (
    AdamState,
    adam_init,
    adamw_update,
    clip_by_norm,
    global_norm,
    sgd_update,
)
from mmgate.world import World, text_feature_dim, text_features

INIT_IMG_STREAM = 101
INIT_TXT_STREAM = 102
BATCH_STREAM = 103
NOISE_STREAM = 104


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Best-by-validation model, per-evaluation history, and the canonical config of the run."""

    model: ReferenceAligner
    history: tuple[dict, ...]
    best_step: int
    best_val_top1: float
    config_json: str
    config_sha256: str


def training_config_json(world: World, aligner: AlignerConfig, training: TrainConfig,
                         seed: int) -> str:
    """Canonical JSON of everything that determines a run: configs, seed, world identity."""
    doc = {"model": {"name": MODEL_NAME, "version": MODEL_VERSION}, "aligner": aligner.to_dict(),
           "training": training.to_dict(), "seed": seed,
           "world": {"config_sha256": world.config.sha256(), "seed": world.seed}}
    return canonical_json_line(doc)


@dataclass(frozen=True, eq=False)
class _Tower:
    """One tower's parameters and its Adam state (None under SGD)."""

    mlp: MLP
    adam: AdamState | None


def _new_tower(d_in: int, hidden: int, emb_dim: int, rng: np.random.Generator,
               optimizer: str) -> _Tower:
    """He-initialised tower with fresh optimiser state."""
    mlp = init_mlp(d_in, hidden, emb_dim, rng)
    return _Tower(mlp, adam_init(mlp.arrays()) if optimizer == "adamw" else None)


def _step_tower(tower: _Tower, grads: dict[str, np.ndarray], training: TrainConfig,
                scale: float) -> tuple[_Tower, float]:
    """Clip, then one optimiser step at lr * scale; returns (tower, gradient norm before clip)."""
    clipped, norm = clip_by_norm(grads, training.grad_clip)
    params = tower.mlp.arrays()
    lr = training.lr * scale
    if tower.adam is not None:
        new, state = adamw_update(params, clipped, tower.adam, lr, training.weight_decay,
                                  decay=DECAYED_PARAMS)
        return _Tower(mlp_from_arrays(new), state), norm
    return _Tower(mlp_from_arrays(sgd_update(params, clipped, lr)), None), norm


def _epoch_images(x_img: np.ndarray, max_noise: float, rng: np.random.Generator) -> np.ndarray:
    """This epoch's image inputs: fresh gaussian noise at a per-image level ~ U(0, max_noise)."""
    if max_noise == 0.0:
        return x_img
    levels = rng.uniform(0.0, max_noise, size=(x_img.shape[0], 1)).astype(np.float32)
    return x_img + levels * rng.standard_normal(x_img.shape, dtype=np.float32)


def _epoch_batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Row indices of one shuffled epoch in full batches (a short remainder is dropped)."""
    perm = rng.permutation(n)
    for start in range(0, n - batch_size + 1, batch_size):
        yield perm[start:start + batch_size]


def _distance(a: MLP, b: MLP) -> float:
    """Euclidean distance between two towers' parameters (0.0 exactly when unchanged)."""
    return global_norm({k: a.arrays()[k].astype(np.float64) - v for k, v in b.arrays().items()})


def train_reference(world: World, aligner: AlignerConfig = DEFAULT_ALIGNER,
                    training: TrainConfig = DEFAULT_TRAINING, seed: int = 0) -> TrainResult:
    """Train both towers with symmetric InfoNCE; evaluate on val every `eval_every` steps and last.

    The train split is used as the world pairs it (pairing corruption reaches training). History
    entries hold the val snapshot plus the mean train loss and per-tower gradient norms since the
    previous entry, and how far each tower's parameters moved (0.0 for a stopped tower).

    Runs on one BLAS thread: the batch-sized products are about 10x faster that way than on a
    thread pool (which xdist workers would also oversubscribe), and results are bit-identical.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(world, aligner, training, seed)


def _train(world: World, aligner: AlignerConfig, training: TrainConfig, seed: int) -> TrainResult:
    """The training loop of :func:`train_reference`."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed: expected a non-negative integer, got {seed!r}")
    seed = int(seed)
    n = world.train.images.shape[0]
    if training.batch_size > n:
        raise ConfigError(f"TrainConfig.batch_size: expected <= {n} (train split size), "
                          f"got {training.batch_size}")
    wc = world.config
    x_img = world.train.images.reshape(n, -1).astype(np.float32)
    x_txt = np.asarray(text_features(world.train.tokens, wc.vocab_size, wc.text_scale,
                                     wc.text_shift), dtype=np.float32)

    def rng(stream: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([seed, stream]))

    img = _new_tower(x_img.shape[1], aligner.hidden_img, aligner.emb_dim, rng(INIT_IMG_STREAM),
                     training.optimizer)
    txt = _new_tower(text_feature_dim(wc.vocab_size), aligner.hidden_txt, aligner.emb_dim,
                     rng(INIT_TXT_STREAM), training.optimizer)
    batch_rng, noise_rng = rng(BATCH_STREAM), rng(NOISE_STREAM)
    l2 = training.weight_decay if training.optimizer == "sgd" else 0.0
    history: list[dict] = []
    best_model: ReferenceAligner | None = None
    window: list[tuple[float, float, float]] = []
    last_img, last_txt = img.mlp, txt.mlp
    step = 0
    while step < training.steps:
        x_epoch = _epoch_images(x_img, training.augment_image_noise, noise_rng)
        for idx in _epoch_batches(n, training.batch_size, batch_rng):
            g = loss_and_gradients(img.mlp, txt.mlp, x_epoch[idx], x_txt[idx], aligner.temperature,
                                   weight_i2t=training.loss_weight_i2t,
                                   weight_t2i=training.loss_weight_t2i, l2=l2,
                                   grad_img=not training.stop_grad_img,
                                   grad_txt=not training.stop_grad_txt)
            norm_img = norm_txt = 0.0
            if g.img is not None:
                img, norm_img = _step_tower(img, g.img, training, training.grad_scale_img)
            if g.txt is not None:
                txt, norm_txt = _step_tower(txt, g.txt, training, training.grad_scale_txt)
            window.append((g.loss, norm_img, norm_txt))
            step += 1
            if step % training.eval_every == 0 or step == training.steps:
                model = ReferenceAligner(img.mlp, txt.mlp, wc.vocab_size, aligner.temperature,
                                         wc.text_scale, wc.text_shift)
                mean_loss, mean_img, mean_txt = np.mean(np.asarray(window), axis=0)
                entry = {"step": step, "train_loss": float(mean_loss),
                         **split_snapshot(model, world.val, "val"),
                         "grad_norm_img": float(mean_img), "grad_norm_txt": float(mean_txt),
                         "update_norm_img": _distance(img.mlp, last_img),
                         "update_norm_txt": _distance(txt.mlp, last_txt)}
                if not history or entry["val_top1"] > max(h["val_top1"] for h in history):
                    best_model = model
                history.append(entry)
                window, last_img, last_txt = [], img.mlp, txt.mlp
            if step == training.steps:
                break
    best = max(history, key=lambda h: h["val_top1"])
    config_json = training_config_json(world, aligner, training, seed)
    return TrainResult(model=best_model, history=tuple(history),  # type: ignore[arg-type]
                       best_step=int(best["step"]), best_val_top1=float(best["val_top1"]),
                       config_json=config_json,
                       config_sha256=hashlib.sha256(config_json.encode("utf-8")).hexdigest())
