"""``unmute-server lint``: scaffolding until the module is written (its owner replaces this file)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("lint", help="(not built yet)")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    print("unmute-server lint: not built yet", file=sys.stderr)
    return 2
