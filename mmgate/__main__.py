"""``python -m mmgate``: command-line entry point."""

from __future__ import annotations

import sys

from mmgate.cli import main

if __name__ == "__main__":
    sys.exit(main())
