"""The multimodal risk taxonomy (book chapter 3) mapped to controls and the gates implementing them."""

from __future__ import annotations

RISKS: tuple[dict, ...] = (
    {
        "risk": "confounding_shortcut",
        "description": "The model aligns on shared artifacts (watermarks, metadata, ID tokens) "
                       "rather than the intended factors.",
        "controls": [
            {"control": "counterfactual removal of the shared cue", "gates": ["counterfactual_drop"]},
            {"control": "index-cue leakage alarm on the inputs", "gates": ["leakage_alarm"]},
            {"control": "factor probes beyond a permutation null", "gates": ["mi_probe"]},
        ],
    },
    {
        "risk": "modality_dominance",
        "description": "One modality anchors the shared space, causing asymmetric and brittle retrieval.",
        "controls": [
            {"control": "directional retrieval and symmetry gap",
             "gates": ["retrieval_top1", "retrieval_top5", "symmetry_gap"]},
            {"control": "rank and norm divergence between the towers",
             "gates": ["rank_divergence", "norm_divergence"]},
            {"control": "one-sided noise robustness slope", "gates": ["noise_slope"]},
            {"control": "more image noise never helps retrieval", "gates": ["noise_direction"]},
        ],
    },
    {
        "risk": "representation_collapse",
        "description": "Embeddings lose diversity (low rank, high cosine) while the loss still falls.",
        "controls": [
            {"control": "collapse geometry and covariance spectra",
             "gates": ["mean_cosine", "variance_floor", "effective_rank", "rankme", "direction_energy"]},
            {"control": "hubness of the retrieval graph", "gates": ["hubness"]},
            {"control": "cross-modal canonical correlation", "gates": ["cca_probe"]},
        ],
    },
    {
        "risk": "pairing_corruption",
        "description": "A join bug silently mispairs images and texts in the training data.",
        "controls": [
            {"control": "retrieval cost of training on mispaired data", "gates": ["corruption_slope"]},
            {"control": "audit of the training pairs by the model's own scores", "gates": ["pair_audit"]},
            {"control": "per-query AUC of the canary's true partners against chance", "gates": ["pair_auc"]},
        ],
    },
    {
        "risk": "deployment_drift",
        "description": "What the model meets in deployment (inputs, preprocessing, scoring) is no "
                       "longer what it was trained and calibrated for.",
        "controls": [
            {"control": "canary inputs against the training inputs' profile", "gates": ["input_drift"]},
            {"control": "declared scoring temperature against the one the canary supports",
             "gates": ["temperature_calibration"]},
            {"control": "drift budgets against the approved release's baseline", "gates": ["drift_budget"]},
            {"control": "drift classified by minimum-evidence rules; unattributed drift escalates",
             "gates": ["drift_diagnosis"]},
        ],
    },
    {
        "risk": "train_test_leakage",
        "description": "Splits share items or shortcut features, inflating validation metrics.",
        "controls": [
            {"control": "split hygiene (no overlapping items)", "gates": ["split_hygiene"]},
            {"control": "index-cue leakage alarm", "gates": ["leakage_alarm"]},
        ],
    },
    {
        "risk": "metric_gaming",
        "description": "A headline metric is met on a snapshot while the model fails structurally.",
        "controls": [
            {"control": "gates over several seeds with bootstrap bounds",
             "gates": ["retrieval_top1", "retrieval_top5"]},
            {"control": "structural gates beside the headline metric",
             "gates": ["effective_rank", "hubness", "mi_probe", "cca_probe"]},
            {"control": "zero-shot classification by the subject's own class prompts, beyond the "
                        "canary's captions", "gates": ["zero_shot"]},
            {"control": "retrieval under benign input changes and budgeted perturbation chains",
             "gates": ["benign_perturbation", "stress_retrieval"]},
            {"control": "acceptance margins over declared knob ranges (noise, pairing, scoring, "
                        "confounder, preprocessing)", "gates": ["robustness_margin"]},
        ],
    },
    {
        "risk": "irreproducibility",
        "description": "Embeddings or decisions change between identical runs or carry invalid numbers.",
        "controls": [
            {"control": "determinism of the embedding pass", "gates": ["determinism"]},
            {"control": "numerical health of every embedding", "gates": ["numerical_health"]},
            {"control": "retrieval is per item and symmetric in the modality roles",
             "gates": ["permutation_invariance", "role_swap"]},
        ],
    },
)
