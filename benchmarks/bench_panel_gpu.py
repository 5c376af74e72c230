"""Benchmark of the torch retrieval panel on a GPU (a script, not a test):
``python benchmarks/bench_panel_gpu.py [--n 1000000] [--device cuda]``.

In one run, each part skipped once ``--budget`` seconds have passed:
  * agreement with numpy at N=8192, d=512 (with and without groups): mismatching entries per field;
  * TF32 against full fp32 at the same size: how many ranks TF32 would change (why it is off);
  * per-block cost at N (default 1M), d=512: best / median / worst of 5 alternating rounds of the
    same ``--blocks`` score blocks: bare fp32 product, the panel's block step (product included),
    bare TF32 product, and (if torch.compile works) the counting step fused by Inductor;
  * one full pass of ``torch_sweep_ranks`` over all N queries against the bare fp32 products of
    the same blocks.
Lines starting ``BENCH`` hold the ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from mmgate.panel.rank_sweep import sweep_ranks  # noqa: E402
from mmgate.panel.torch_backend import (device_block_rows, finish_sweep, full_fp32_matmul, start_sweep,  # noqa: E402
                                        sweep_block, torch_sweep_ranks, unit_tensor_pair)
from mmgate.panel.validate import shared_unit_rows  # noqa: E402

FIELDS = ("i2t", "t2i", "i2t_top1", "t2i_top1", "i2t_ties", "t2i_ties")
T0 = time.perf_counter()


def elapsed() -> float:
    """Seconds since the script started."""
    return time.perf_counter() - T0


def synced(device: torch.device, fn: Callable[[], object]) -> float:
    """Wall-clock seconds of ``fn`` with the device drained before and after."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def pairs(n: int, d: int, noise: float, device: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 pairs on ``device``: text = image + noise x N(0, 1)."""
    gen = torch.Generator(device=device).manual_seed(seed)
    zi = torch.randn((n, d), generator=gen, device=device)
    return zi, zi + noise * torch.randn((n, d), generator=gen, device=device)


def agreement(device: str, n: int, d: int) -> None:
    """Mismatching entries of torch-on-device vs numpy ranks, row-paired and with groups of 5."""
    zi, zt = pairs(n, d, 5.0, device)
    hi, ht = shared_unit_rows(zi.cpu().numpy(), zt.cpu().numpy())
    ui, ut = unit_tensor_pair(zi, zt, None)
    block = device_block_rows(None, n, 4, d, ui.device.type)
    for name, groups in (("paired", None), ("groups5", np.arange(n, dtype=np.int64) // 5)):
        host = sweep_ranks(hi, ht, 512, groups)
        dev = torch_sweep_ranks(ui, ut, block, groups)
        bad = {f: int(np.count_nonzero(getattr(host, f) != getattr(dev, f))) for f in FIELDS}
        print(f"[agree {name} N={n} d={d}] mismatching entries torch-{device} vs numpy: {bad}; "
              f"ties total {int(host.i2t_ties.sum() + host.t2i_ties.sum())}")


def tf32_effect(device: str, n: int, d: int) -> None:
    """Ranks that TF32 products change against full fp32 (same data, same tolerance)."""
    zi, zt = pairs(n, d, 5.0, device)
    ui, ut = unit_tensor_pair(zi, zt, None)
    exact = torch_sweep_ranks(ui, ut, n)
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        state = start_sweep(ui, ut, n, None)
        sweep_block(ui, ut, 0, n, state)
        loose = finish_sweep(state)
    finally:
        torch.set_float32_matmul_precision(previous)
    diff = np.abs(loose.i2t - exact.i2t)
    print(f"[tf32 N={n} d={d}] i2t ranks changed by TF32: {int(np.count_nonzero(diff))} of {n} "
          f"(max change {int(diff.max())}); top-1 changed: {int(np.count_nonzero(loose.i2t_top1 != exact.i2t_top1))}")


def spread(name: str, times: list[float]) -> str:
    """'name best/median/worst' in milliseconds."""
    return f"{name} {min(times) * 1e3:.1f}/{statistics.median(times) * 1e3:.1f}/{max(times) * 1e3:.1f} ms"


def fused_counts() -> Callable[..., tuple[torch.Tensor, ...]]:
    """The block's masking and counts as one function for torch.compile (rows and columns)."""
    def counts(scores, start, low, high, col_low, col_high):
        rows = torch.arange(scores.shape[0], device=scores.device)[:, None] + start
        cols = torch.arange(scores.shape[1], device=scores.device)[None, :]
        s = torch.where(rows == cols, float("-inf"), scores)
        row_best = s.argmax(dim=1)
        col_best, col_row = s.max(dim=0)
        return ((s > high[:, None]).sum(1), (s >= low[:, None]).sum(1), row_best,
                (s > col_high).sum(0), (s >= col_low).sum(0), col_best, col_row)
    return torch.compile(counts, dynamic=False)


def block_costs(ui: torch.Tensor, ut: torch.Tensor, block: int, blocks: int, budget: float) -> dict[str, list[float]]:
    """Seconds per round of ``blocks`` blocks for each contender, 5 rounds alternating."""
    n = ui.shape[0]
    buf = torch.empty((block, n), device=ui.device)
    starts = [k * block for k in range(blocks)]
    state = start_sweep(ui, ut, block, None)

    def bare() -> None:
        for s in starts:
            torch.matmul(ui[s:s + block], ut.T, out=buf)

    def panel() -> None:
        for s in starts:
            sweep_block(ui, ut, s, s + block, state)

    def tf32() -> None:
        torch.set_float32_matmul_precision("high")
        try:
            bare()
        finally:
            torch.set_float32_matmul_precision("highest")

    contenders: dict[str, Callable[[], None]] = {"bare_fp32": bare, "panel": panel, "bare_tf32": tf32}
    if elapsed() < budget / 2:
        try:
            step = fused_counts()

            def fused() -> None:
                for s in starts:
                    torch.matmul(ui[s:s + block], ut.T, out=buf)
                    step(buf, torch.tensor(s, device=ui.device), state.i2t_low[s:s + block],
                         state.i2t_high[s:s + block], state.t2i_low, state.t2i_high)

            t = synced(ui.device, fused)
            print(f"[compile] fused counting step compiled and warmed in {t:.1f}s")
            contenders["fused_compiled"] = fused
        except Exception as exc:  # noqa: BLE001  (an optional experiment: report and go on)
            print(f"[compile] torch.compile unavailable: {type(exc).__name__}: {str(exc)[:200]}")
    times: dict[str, list[float]] = {name: [] for name in contenders}
    with full_fp32_matmul(torch), torch.no_grad():
        for fn in contenders.values():
            synced(ui.device, fn)
        for _ in range(5):
            for name, fn in contenders.items():
                times[name].append(synced(ui.device, fn))
    return times


def main() -> None:
    """Run the parts in order while the budget lasts; BENCH lines carry the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--check-n", type=int, default=8192)
    parser.add_argument("--blocks", type=int, default=32)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--budget", type=float, default=200.0, help="seconds after which parts are skipped")
    args = parser.parse_args()
    dev = torch.device(args.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"torch {torch.__version__} numpy {np.__version__} device {name}")
    agreement(args.device, args.check_n, args.d)
    tf32_effect(args.device, args.check_n, args.d)

    zi, zt = pairs(args.n, args.d, 5.0, args.device)
    ui, ut = unit_tensor_pair(zi, zt, None)
    del zi, zt
    block = device_block_rows(None, args.n, 4, args.d, dev.type)
    blocks = min(args.blocks, args.n // block)
    times = block_costs(ui, ut, block, blocks, args.budget)
    base = min(times["bare_fp32"])
    print(f"[blocks N={args.n} d={args.d} block={block} rows x {blocks}] best/median/worst: "
          + "; ".join(spread(k, v) for k, v in times.items()))
    ratios = " ".join(f"gpu_{k}_over_fp32={min(v) / base:.3f}" for k, v in times.items() if k != "bare_fp32")
    print(f"BENCH {ratios} gpu_panel_over_tf32={min(times['panel']) / min(times['bare_tf32']):.3f} "
          f"panel_block_ms={min(times['panel']) / blocks * 1e3:.2f} rows_per_block={block}")
    if elapsed() > args.budget:
        print(f"[full] skipped: {elapsed():.0f}s used of the {args.budget:.0f}s budget")
        return
    buf = torch.empty((block, args.n), device=dev)

    def bare_all() -> None:
        with full_fp32_matmul(torch):
            for s in range(0, args.n, block):
                torch.matmul(ui[s:s + block], ut.T, out=buf[:min(args.n, s + block) - s])

    result: dict[str, object] = {}
    t_panel = synced(dev, lambda: result.setdefault("r", torch_sweep_ranks(ui, ut, block)))
    t_bare = synced(dev, bare_all)
    r = result["r"]
    print(f"[full N={args.n} d={args.d}] torch_sweep_ranks {t_panel:.2f}s vs bare fp32 products {t_bare:.2f}s; "
          f"i2t recall@1 {np.mean(r.i2t < 1):.4f} recall@10 {np.mean(r.i2t < 10):.4f}")
    print(f"BENCH gpu_full_panel_over_fp32={t_panel / t_bare:.3f} gpu_full_panel_s={t_panel:.2f} "
          f"gpu_full_fp32_s={t_bare:.2f} n={args.n} d={args.d} elapsed_s={elapsed():.0f}")


if __name__ == "__main__":
    main()
