"""Memory cap of the blocked passes over (rows, N) score blocks: whatever block size a caller asks
for, one block's working arrays stay within ``BLOCK_BYTES``, so no N x N array is ever built."""

from __future__ import annotations

BLOCK_BYTES = 32 << 20


def capped_rows(rows: int, n: int, bytes_per_cell: int) -> int:
    """``rows`` limited so a (rows, n) block costing ``bytes_per_cell`` bytes a cell fits ``BLOCK_BYTES``
    (at least one row): a caller's block = N cannot turn into an N x N allocation."""
    return max(1, min(rows, BLOCK_BYTES // (n * bytes_per_cell)))
