"""xdist scheduling by seed: every gate of one seed goes to the same worker, so each worker builds
(for the built-in subject: trains) only the subjects of the seeds it gates."""

from __future__ import annotations

import re

from xdist.scheduler import LoadScopeScheduling

_SEED = re.compile(r"\[seed(\d+)[-\]]")


class SeedScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with the gate's seed as its scope (other tests: one scope each)."""

    def _split_scope(self, nodeid: str) -> str:
        found = _SEED.search(nodeid)
        return f"seed{found.group(1)}" if found else nodeid
