"""The permitted actions on the built-in lab (book §3.7.2-3.7.5), each auditable and reversible: it
returns a new deployment and a JSON record of its parameters, never touching the deployed one.

- temperature recalibration: the scoring temperature that makes the canary logits' standard
  deviation match the healthy baseline's (embeddings unchanged, checked by sha256);
- input renormalisation: image inputs mapped x -> (x - mean_now) * std_base / std_now + mean_base
  with the baseline profile's constants (per channel; the lab's images have one), or the text
  pipeline's scale and shift restored; refused when standardising both sets leaves their pixel
  distributions apart (the drift is not a change of preprocessing constants: sensor noise is not);
- gradient rebalancing: per-modality gradient norms on a validation batch, the dominant tower's
  update scaled by weak/strong (bounded), then a limited fine-tune;
- pairing sanitation: mutual-nearest-neighbour and similarity-consistency filters on the training
  pairs (precision and recall against the world's known corruption), then a limited fine-tune on
  the kept pairs; refused when too few pairs survive (a systematic join bug is an escalation);
- confounder ablation: the known marker channel removed from the deployed inputs (counterfactual
  top-1 drop recorded), then a limited fine-tune on confounder-free data;
- limited fine-tuning: K steps at the healthy regime under the stop rules.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmgate.lab.interventions.config import InterventionConfig
from mmgate.lab.interventions.finetune import FineTuneResult, limited_fine_tune
from mmgate.reference import ReferenceAligner, global_norm, loss_and_gradients
from mmgate.reference.objective import l2_normalize


@dataclass(frozen=True, eq=False)
class Deployment:
    """A deployed model with an optional image-input renormalisation (x * image_gain + image_offset)."""

    model: ReferenceAligner
    image_gain: float = 1.0
    image_offset: float = 0.0

    @property
    def temperature(self) -> float:
        """The scoring temperature."""
        return self.model.temperature

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        """Raw image embeddings after the input renormalisation."""
        x = np.asarray(images, dtype=np.float32)
        if self.image_gain != 1.0 or self.image_offset != 0.0:
            x = (x * np.float32(self.image_gain) + np.float32(self.image_offset)).astype(np.float32)
        return self.model.embed_images(x)

    def embed_texts(self, tokens: np.ndarray) -> np.ndarray:
        """Raw text embeddings."""
        return self.model.embed_texts(tokens)

    def renormalised(self, images: np.ndarray) -> np.ndarray:
        """The image inputs the model sees."""
        return (np.asarray(images, dtype=np.float32) * np.float32(self.image_gain)
                + np.float32(self.image_offset)).astype(np.float32)

    def identity(self) -> dict[str, Any]:
        """Weights sha256 and the deployment's scoring and input constants."""
        return {"weights_sha256": self.model.weights_sha256(), "temperature": self.model.temperature,
                "text_scale": self.model.text_scale, "text_shift": self.model.text_shift,
                "image_gain": self.image_gain, "image_offset": self.image_offset}


def _logit_std(model: Deployment, images: np.ndarray, tokens: np.ndarray) -> float:
    zi, _ = l2_normalize(model.embed_images(images).astype(np.float64))
    zt, _ = l2_normalize(model.embed_texts(tokens).astype(np.float64))
    return float(np.std(zi @ zt.T / model.temperature))


def temperature_recalibration(deployed: Deployment, baseline: Deployment, canary_images: np.ndarray,
                              canary_tokens: np.ndarray) -> tuple[Deployment, dict[str, Any]]:
    """Match the baseline's canary logit standard deviation: tau' = tau x std_now / std_base."""
    std_now = _logit_std(deployed, canary_images, canary_tokens)
    std_base = _logit_std(baseline, canary_images, canary_tokens)
    tau = deployed.temperature * std_now / std_base
    new = dataclasses.replace(deployed, model=dataclasses.replace(deployed.model, temperature=tau))
    same = (np.array_equal(deployed.embed_images(canary_images), new.embed_images(canary_images))
            and np.array_equal(deployed.embed_texts(canary_tokens), new.embed_texts(canary_tokens)))
    return new, {"statistic": "standard deviation of canary logits", "baseline_value": std_base,
                 "deployed_value": std_now, "temperature_before": deployed.temperature, "temperature_after": tau,
                 "factor": tau / deployed.temperature, "embeddings_unchanged": bool(same)}


def _standardised_hist(x: np.ndarray, bins: int) -> np.ndarray:
    v = np.asarray(x, dtype=np.float64).ravel()
    v = (v - v.mean()) / max(v.std(), 1e-12)
    h, _ = np.histogram(np.clip(v, -4.0, 4.0), bins=bins, range=(-4.0, 4.0))
    return h / h.sum()


def _jsd_bits(p: np.ndarray, q: np.ndarray) -> float:
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / m[mask])))
    return 0.5 * kl(p) + 0.5 * kl(q)


def input_renormalisation(deployed: Deployment, modality: str, baseline_images: np.ndarray,
                          current_images: np.ndarray, baseline_text: tuple[float, float],
                          config: InterventionConfig) -> tuple[Deployment | None, dict[str, Any]]:
    """Restore the modality's preprocessing constants from the baseline profile; ``None`` (refused) when
    the evidence that the drift is a change of constants is missing."""
    if modality == "text":
        now = (deployed.model.text_scale, deployed.model.text_shift)
        details = {"modality": "text", "text_scale_shift_before": list(now), "baseline": list(baseline_text)}
        if now == tuple(baseline_text):
            details["refusal"] = ("the text pipeline's scale and shift already equal the baseline's: the caption "
                                  "drift is in the tokens (corruption), not a preprocessing constant")
            return None, details
        model = dataclasses.replace(deployed.model, text_scale=baseline_text[0], text_shift=baseline_text[1])
        return dataclasses.replace(deployed, model=model), details
    base = np.asarray(baseline_images, dtype=np.float64)
    cur = np.asarray(current_images, dtype=np.float64)
    mean_b, std_b, mean_c, std_c = float(base.mean()), float(base.std()), float(cur.mean()), float(cur.std())
    shape_jsd = _jsd_bits(_standardised_hist(base, config.renorm_bins), _standardised_hist(cur, config.renorm_bins))
    gain = std_b / std_c
    offset = mean_b - mean_c * gain
    details = {"modality": "image", "baseline_profile": {"mean": mean_b, "std": std_b},
               "current_profile": {"mean": mean_c, "std": std_c}, "gain": gain, "offset": offset,
               "standardised_shape_jsd_bits": shape_jsd, "max_shape_jsd_bits": config.max_renorm_shape_jsd}
    if shape_jsd > config.max_renorm_shape_jsd:
        details["refusal"] = (f"after standardising both sets their pixel distributions still differ (JSD "
                              f"{shape_jsd:.3f} > {config.max_renorm_shape_jsd} bits): the drift is not an affine "
                              "change of preprocessing constants (e.g. sensor noise), so renormalisation cannot "
                              "restore it")
        return None, details
    return Deployment(deployed.model, deployed.image_gain * gain, deployed.image_offset * gain + offset), details


def gradient_balance(model: ReferenceAligner, images: np.ndarray, tokens: np.ndarray, temperature: float,
                     config: InterventionConfig) -> dict[str, Any]:
    """Per-modality gradient norms on a validation batch and the bounded balancing factor: the dominant
    tower's update is scaled by weak / strong (at most ``max_balance_factor`` down)."""
    g = loss_and_gradients(model.image_tower, model.text_tower, model.image_inputs(images),
                           model.text_inputs(tokens), temperature)
    n_img, n_txt = global_norm(g.img), global_norm(g.txt)  # type: ignore[arg-type]
    imbalance = max(n_img, n_txt) / max(min(n_img, n_txt), 1e-12)
    factor = min(imbalance, config.max_balance_factor)
    dominant = "image" if n_img >= n_txt else "text"
    return {"grad_norm_image": n_img, "grad_norm_text": n_txt, "imbalance": imbalance, "dominant": dominant,
            "factor": factor, "grad_scale_img": 1.0 / factor if dominant == "image" else 1.0,
            "grad_scale_txt": 1.0 / factor if dominant == "text" else 1.0,
            "sufficient": imbalance >= config.min_grad_imbalance}


def sanitation_filter(model: ReferenceAligner, images: np.ndarray, tokens: np.ndarray, percentile: float,
                      corrupt: np.ndarray | None = None) -> dict[str, Any]:
    """Mutual-nearest-neighbour and similarity-consistency filters on training pairs: a pair is kept
    when image and caption are mutual nearest neighbours, or when the pair's similarity is at or above
    ``percentile`` of both its image's row and its caption's column. With ``corrupt`` (the known
    mispaired rows), precision and recall of the dropped set."""
    out = sanitation_masks(model.embed_images(images), model.embed_texts(tokens), percentile)
    keep = out["keep"]
    if corrupt is not None:
        corrupt = np.asarray(corrupt, dtype=bool)
        dropped = ~keep
        hit = int((dropped & corrupt).sum())
        out.update(known_corrupt=int(corrupt.sum()),
                   precision=float(hit / dropped.sum()) if dropped.any() else 1.0,
                   recall=float(hit / corrupt.sum()) if corrupt.any() else 1.0,
                   kept_corrupt_fraction=float((keep & corrupt).sum() / max(keep.sum(), 1)))
    return out


def sanitation_masks(z_img: np.ndarray, z_txt: np.ndarray, percentile: float) -> dict[str, Any]:
    """The two filters on raw pair embeddings (row i of each is pair i): ``keep`` (bool per pair) is
    mutual nearest neighbour or similarity-consistent at ``percentile``, with the counts."""
    zi, _ = l2_normalize(np.asarray(z_img).astype(np.float32))
    zt, _ = l2_normalize(np.asarray(z_txt).astype(np.float32))
    sim = zi @ zt.T
    diag = np.diagonal(sim)
    n = sim.shape[0]
    row_pct = (sim < diag[:, None]).sum(axis=1) / (n - 1)
    col_pct = (sim < diag[None, :]).sum(axis=0) / (n - 1)
    mnn = (sim.argmax(axis=1) == np.arange(n)) & (sim.argmax(axis=0) == np.arange(n))
    consistent = (row_pct >= percentile) & (col_pct >= percentile)
    keep = mnn | consistent
    return {"n": int(n), "kept": int(keep.sum()), "dropped": int((~keep).sum()),
            "kept_fraction": float(keep.mean()), "mutual_nn": int(mnn.sum()),
            "consistent": int(consistent.sum()), "percentile": percentile, "keep": keep}


def fine_tune(deployed: Deployment, images: np.ndarray, tokens: np.ndarray, monitor: tuple[np.ndarray, np.ndarray],
              config: InterventionConfig, workdir: str, *, lr: float | None = None, seed: int = 0,
              grad_scale_img: float = 1.0, grad_scale_txt: float = 1.0) -> tuple[Deployment, FineTuneResult]:
    """A limited fine-tune of the deployed model (see ``finetune.limited_fine_tune``)."""
    result = limited_fine_tune(deployed.model, images, tokens, monitor, config, workdir, lr=lr, seed=seed,
                               grad_scale_img=grad_scale_img, grad_scale_txt=grad_scale_txt)
    return dataclasses.replace(deployed, model=result.model), result
