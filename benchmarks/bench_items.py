"""Benchmark of unique-item retrieval on a COCO-layout canary (a script, not a test):
``python benchmarks/bench_items.py``.

25,000 caption rows over 5,000 images (each image row repeated five times, groups = the image),
d = 512, float32, as ``Measurements`` ranks them: ``canary_items`` (identity from the repeated
image rows' bytes) and ``item_ranks`` (5,000 unique images against 25,000 unique texts, both
directions, blocked) against the bare float32 product of the unique items ``Zi @ Zt.T``
(5,000 x 25,000), best of 5, calls alternating. Also the row-counted panel of before (25,000 x
25,000 rows) for scale. ``--quick`` uses 1,000 images. Last line:
``BENCH items_over_gemm=<ratio> items_over_rows=<ratio> rows=<n> unique_images=<m>``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pairtiming import alternating_times  # noqa: E402  (benchmarks/ is the script's own directory)

from mmgate.panel import item_ranks, retrieval_ranks  # noqa: E402
from mmgate.subjects.items import canary_items  # noqa: E402
from mmgate.subjects.paired import PairedSet  # noqa: E402

D, CAPTIONS, REPEATS = 512, 5, 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 images instead of 5,000")
    images = 1000 if parser.parse_args().quick else 5000
    rng = np.random.default_rng(0)
    unique = rng.standard_normal((images, D), dtype=np.float32)
    groups = np.repeat(np.arange(images), CAPTIONS)
    z_img = unique[groups]
    z_txt = z_img + 1.5 * rng.standard_normal(z_img.shape, dtype=np.float32)
    canary = PairedSet(z_img, [f"caption {i}" for i in range(groups.size)], groups=groups)

    start = time.perf_counter()
    items = canary_items(canary)
    identity_s = time.perf_counter() - start
    unit_i = unique / np.linalg.norm(unique, axis=1, keepdims=True)
    unit_t = z_txt / np.linalg.norm(z_txt, axis=1, keepdims=True)
    ranked, bare, ranks, _ = alternating_times(lambda: item_ranks(z_img, z_txt, items),
                                               lambda: unit_i @ unit_t.T, REPEATS)
    rows, _, _, _ = alternating_times(lambda: retrieval_ranks(z_img, z_txt, groups=groups),
                                      lambda: None, 2)
    recall5 = float(np.mean(ranks.t2i + ranks.t2i_ties < 5))
    print(f"rows={groups.size} unique_images={items.images.count} unique_texts={items.texts.count} d={D}")
    print(f"canary_items {identity_s:.3f} s; item_ranks best {min(ranked):.3f} s; bare product "
          f"{min(bare):.3f} s; row-counted panel best of 2 {min(rows):.3f} s; text->image recall@5 {recall5:.3f}")
    print(f"BENCH items_over_gemm={min(ranked) / min(bare):.2f} items_over_rows={min(ranked) / min(rows):.2f} "
          f"rows={groups.size} unique_images={items.images.count}")


if __name__ == "__main__":
    main()
