"""The public surface: every name in ``__all__`` exists, is sorted and is unique."""

from __future__ import annotations

import simperium_orm as so


def test_all_is_sorted_unique_and_importable() -> None:
    assert so.__all__ == sorted(set(so.__all__))
    for name in so.__all__:
        assert hasattr(so, name), name


def test_all_lists_every_public_import() -> None:
    public = {
        name
        for name, value in vars(so).items()
        if not name.startswith("_") and not isinstance(value, type(so))
    }
    assert public == set(so.__all__) - {"signals"}
    assert so.signals.__name__ == "simperium_orm.signals"


def test_import_does_not_pull_in_the_server() -> None:
    import subprocess
    import sys

    code = (
        "import sys, simperium_orm; "
        "bad = [m for m in sys.modules if m == 'simperium_orm.cli' or m.startswith(("
        "'starlette', 'uvicorn', 'simperium_orm.server'))]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
