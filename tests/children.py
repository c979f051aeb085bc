"""Child processes for tests: started from multiprocessing's fork server, without ``__main__``.

A process started by the fork server (or spawned) first re-runs the parent's ``__main__``
script, to find functions defined there. In a pytest-xdist worker that ran an AppTest, that
script is ``app.py``: each child would run the app against the demo store and die. Tests'
children run functions of importable modules, so they need no ``__main__`` at all.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_main_script() -> Iterator[None]:
    """Start processes inside this block: they do not re-run the parent's ``__main__``."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main
