"""Memory cap of the blocked passes over (rows, N) score blocks: whatever block size a caller asks
for, one block's working arrays stay within ``BLOCK_BYTES`` or ``MIN_PRODUCT_ROWS`` rows, whichever
is larger, and the floor itself never past ``FLOOR_BYTES``; so no N x N array is ever built above
``MIN_PRODUCT_ROWS`` pairs.

The row floor keeps the products efficient on large canaries: a product of m query rows against
all N candidates re-reads (and the BLAS repacks) the whole N x d candidate matrix for every block,
so with a fixed byte budget the rows per block fall as 1/N and that traffic grows as N^3. Measured
2026-11-30 at N = 100,000, d = 256, float64, on two loaded cores: 5.9 ms per query row at 20 rows a
block (the 32 MiB budget of the hubness pass), 4.0 at 40, 2.5 at 160. At the floor a block holds
128 x N scores (100 MB at N = 100,000 in float64; the hubness pass selects its top-k a few rows at a
time, so its partition indices add about 8 MB): memory stays O(block x N)."""

from __future__ import annotations

BLOCK_BYTES = 32 << 20
MIN_PRODUCT_ROWS = 128
FLOOR_BYTES = 256 << 20


def floor_rows(n: int, bytes_per_cell: int) -> int:
    """The rows a block may keep whatever ``BLOCK_BYTES`` says: ``MIN_PRODUCT_ROWS``, fewer when that
    many would pass ``FLOOR_BYTES`` (a canary of millions of pairs), at least one."""
    return max(1, min(MIN_PRODUCT_ROWS, FLOOR_BYTES // (n * bytes_per_cell)))


def capped_rows(rows: int, n: int, bytes_per_cell: int) -> int:
    """``rows`` limited so a (rows, n) block costing ``bytes_per_cell`` bytes a cell fits ``BLOCK_BYTES``,
    but never below ``floor_rows`` (nor below one): a caller's block = N cannot turn into an N x N
    allocation once N exceeds the floor."""
    return max(1, min(rows, max(BLOCK_BYTES // (n * bytes_per_cell), floor_rows(n, bytes_per_cell))))
