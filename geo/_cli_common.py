"""Small pieces the command-line modules share."""

from __future__ import annotations

from geo.errors import InputError
from geo.store import Store

__all__ = ["ward_of"]


def ward_of(store: Store, ward_id: str | None) -> str:
    """The ward a command works on: ``ward_id`` when given (checked), else the store's only one."""
    wards = store.ward_ids()
    if ward_id is not None:
        if ward_id not in wards:
            raise InputError(f"No ward {ward_id!r} in the store; it has {', '.join(wards)}.")
        return ward_id
    if len(wards) != 1:
        raise InputError(f"The store has {len(wards)} wards; choose one with --ward-id.")
    return str(wards[0])
