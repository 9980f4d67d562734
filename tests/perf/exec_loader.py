"""The exec-based loader peers use, measured as a BASELINE only; the server never does this.

Peer voice servers load a character file by importing it: ``spec_from_file_location`` with
a session-prefixed module name, ``module_from_spec``, ``exec_module``, then reading the
module's upper-case attributes. That runs whatever the file contains, which is why this
project parses files as data instead. The benchmark measures it only to compare, and only
on the synthetic files the benchmark itself generated in its own temporary folder; every
module it creates is removed from ``sys.modules`` again. Nothing outside ``tests/perf``
imports this module.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

FIELDS = ("CHARACTER_NAME", "GOOD", "COMMENT", "VOICE_SOURCE", "INSTRUCTIONS")


def exec_load_file(path: Path, session: str) -> dict[str, Any]:
    """Import one generated ``.py`` file the peer way and read its fields."""
    module_name = f"bench_session_{session}.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot build an import spec for {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
        return {name: getattr(module, name, None) for name in FIELDS}
    finally:
        del sys.modules[module_name]


def exec_load_pack(folder: Path, session: str) -> dict[str, dict[str, Any]]:
    """Import every ``.py`` file of a generated pack folder, in name order, by name."""
    loaded: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.py")):
        fields = exec_load_file(path, session)
        loaded[str(fields["CHARACTER_NAME"])] = fields
    return loaded
