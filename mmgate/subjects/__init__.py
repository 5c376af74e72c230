"""What is gated: the ``DualEncoder`` protocol, ``PairedSet`` canaries (in memory, or read from a CSV
or JSONL manifest of image files decoded lazily, one batch at a time) and ``Subject``s, loading a
subject factory, and embedding a canary once per process (cached, checked batch by batch). It may
import ``mmgate.records`` and ``mmgate.errors``; the science packages and everything above build on it."""
