"""The core a gate needs, above the science packages: the gate catalogue (every gate, its axes and
test id), the contract (default thresholds, their validation and hash), gate results and thresholds,
the per-seed measurements a gate reads, the plot snapshot, and the decision rule. It may import
``world``, ``reference``, ``panel``, ``perturb``, ``drift``, ``subjects`` and ``records``; never the
audit trail, the lab or the pytest integration."""
