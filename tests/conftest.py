"""Shared by every test directory: helper modules in ``tests/`` import by name.

``server_process`` (the server as a killable subprocess) is used by the integration and the
reliability tests, which live in directories of their own.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
