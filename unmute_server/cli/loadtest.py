"""``unmute-server loadtest``: scaffolding until the module is written (its owner replaces this file)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser("loadtest", help="(not built yet)")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    print("unmute-server loadtest: not built yet", file=sys.stderr)
    return 2
