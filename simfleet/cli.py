"""`simfleet`: the command line of the simulator (the emulator process and its helpers)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from simfleet import __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="simfleet", description="Load-testing fleet simulator for AWS IoT Jobs."
    )
    parser.add_argument("--version", action="version", version=f"simfleet {__version__}")
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
