"""The few exceptions of the domain core; each names what went wrong and the fix."""

from __future__ import annotations


class UrbanOrderError(ValueError):
    """Base class of every error the core raises on purpose."""


class GeographicCRSError(UrbanOrderError):
    """A measuring function was given data in degrees instead of metres."""


class CRSMismatchError(UrbanOrderError):
    """A file's declared CRS puts its features far from where the ward is."""


class InputError(UrbanOrderError):
    """An input file or argument has problems; the message lists every one of them."""


class TopologyError(UrbanOrderError):
    """Boundaries are too broken to use even after repair."""


class NetworkError(UrbanOrderError):
    """A street network could not be loaded or has no usable streets."""


class StoreError(UrbanOrderError):
    """The store is missing, of another schema version, or was asked something it cannot do."""


class MappingError(InputError):
    """The columns of an upload could not all be identified; choose them (``--map COL=FIELD``)."""

    def __init__(self, message: str, *, mapping: object, table: str) -> None:
        super().__init__(message)
        self.mapping = mapping
        self.table = table


class AccessDeniedError(UrbanOrderError):
    """The signed-in user's role or wards do not allow what was asked."""
