"""The reference aligner behind the training hook (``mmgate.subjects.trainable.TrainableEncoder``):
its first implementation, an adapter over the limited fine-tune of ``finetune``."""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from mmgate.lab.interventions.config import DEFAULT_INTERVENTION, InterventionConfig
from mmgate.lab.interventions.finetune import (
    checkpoint_bytes,
    limited_fine_tune,
    load_checkpoint_bytes,
)
from mmgate.reference import ReferenceAligner
from mmgate.subjects.paired import PairedSet


@dataclass(frozen=True, eq=False)
class ReferenceTrainable:
    """A ``ReferenceAligner`` as a ``TrainableEncoder``: ``fine_tune`` runs ``limited_fine_tune`` (AdamW
    from fresh moments at the config's temperature and batch size; its own stop rules stay on as a
    safety net, monitored on the first ``monitor_items`` pairs), ``state_dict`` is the deterministic
    .npz checkpoint and ``load`` reads one back (weights sha256 verified)."""

    model: ReferenceAligner
    config: InterventionConfig = DEFAULT_INTERVENTION

    @property
    def temperature(self) -> float:
        """The scoring temperature."""
        return self.model.temperature

    def embed_images(self, batch: Any) -> np.ndarray:
        return self.model.embed_images(batch)

    def embed_texts(self, batch: Any) -> np.ndarray:
        return self.model.embed_texts(batch)

    def identity(self) -> dict[str, str]:
        return self.model.identity()

    def fine_tune(self, pairs: PairedSet, steps: int, lr: float, seed: int) -> ReferenceTrainable:
        """A new encoder after at most ``steps`` (<= K) steps on ``pairs``; ``self`` is unchanged."""
        images, tokens = np.asarray(pairs.images), np.asarray(pairs.texts)
        m = self.config.monitor_items
        with tempfile.TemporaryDirectory() as workdir:
            result = limited_fine_tune(self.model, images, tokens, (images[:m], tokens[:m]), self.config, workdir,
                                       steps=steps, lr=lr, seed=seed)
        # the fine-tune trains at the config's temperature; the scoring temperature stays the encoder's
        return ReferenceTrainable(dataclasses.replace(result.model, temperature=self.model.temperature), self.config)

    def state_dict(self) -> bytes:
        return checkpoint_bytes(self.model)

    def load(self, state: bytes) -> ReferenceTrainable:
        return ReferenceTrainable(load_checkpoint_bytes(state), self.config)


__all__ = ["ReferenceTrainable"]
