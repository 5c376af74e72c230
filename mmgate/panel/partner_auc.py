"""Partner AUC: how often a query's own partner outscores an irrelevant candidate, per direction.

For query i, the irrelevant candidates are those outside i's group (every other row when there are
no groups); AUC_i = 1 - (irrelevant candidates scoring at or above the partner) / (irrelevant
candidates), so an exact tie counts against the partner, as in the retrieval gates. Its mean is
0.5 for unrelated towers at any N and any group size (unlike recall@K, whose chance level grows
with the group size), close to 1 for a trained model, and invariant to any rotation of the space.
One blocked pass: memory O(block x N)."""

from __future__ import annotations

import numpy as np

from mmgate.errors import InputError
from mmgate.panel.blocks import capped_rows
from mmgate.panel.groups import group_labels
from mmgate.panel.validate import unit_pair

DEFAULT_BLOCK = 1024


def _irrelevant_above(queries: np.ndarray, candidates: np.ndarray, labels: np.ndarray,
                      block: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query row: irrelevant candidates scoring >= its partner, and the irrelevant count."""
    n = queries.shape[0]
    above = np.empty(n, dtype=np.int64)
    irrelevant = np.empty(n, dtype=np.int64)
    for start in range(0, n, block):
        stop = min(n, start + block)
        scores = queries[start:stop] @ candidates.T
        partner = scores[np.arange(stop - start), np.arange(start, stop)]
        relevant = labels[start:stop, None] == labels[None, :]
        above[start:stop] = np.count_nonzero((scores >= partner[:, None]) & ~relevant, axis=1)
        irrelevant[start:stop] = n - np.count_nonzero(relevant, axis=1)
    return above, irrelevant


def partner_auc_per_query(z_img: object, z_txt: object, groups: object = None,
                          block_size: int | None = None) -> dict[str, np.ndarray]:
    """Per-query partner AUC in each direction (``i2t``, ``t2i``); InputError when some query has no
    irrelevant candidate (one group holds every row)."""
    ui, ut = unit_pair(z_img, z_txt)
    n = ui.shape[0]
    labels = np.arange(n) if groups is None else group_labels(groups, n)
    block = capped_rows(block_size or DEFAULT_BLOCK, n, ui.itemsize + 2)
    out: dict[str, np.ndarray] = {}
    for direction, (queries, candidates) in (("i2t", (ui, ut)), ("t2i", (ut, ui))):
        above, irrelevant = _irrelevant_above(queries, candidates, labels, block)
        if irrelevant.min() < 1:
            raise InputError("partner_auc: a query has no irrelevant candidate (one group holds every "
                             "row); the AUC needs rows outside the query's group")
        out[direction] = 1.0 - above / irrelevant
    return out


def partner_auc(z_img: object, z_txt: object, groups: object = None,
                block_size: int | None = None) -> dict[str, float]:
    """Mean partner AUC per direction (``i2t``, ``t2i``)."""
    per_query = partner_auc_per_query(z_img, z_txt, groups, block_size)
    return {direction: float(values.mean()) for direction, values in per_query.items()}
