"""Streaming XML (KML, GPX) without the XML features that let a file attack its reader.

Document type declarations are refused outright: KML and GPX never need one, and they carry
every entity trick (billion laughs, external entities that read local files or the network).
Elements are streamed and freed once read, so memory stays flat however many elements a file
has; elements nested deeper than any KML or GPX nests them, or a single record of more
elements than any placemark has, are refused (they cost time and memory, not data).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from geo._read_base import Reading

__all__ = ["Event", "local_name", "walk"]

#: (event, local tag name, element, tags of its ancestors, parent element or None)
Event = tuple[Literal["start", "end"], str, Element, list[str], Element | None]

_CHECK_EVERY = 16_384
#: KML folders nest a few levels, GPX points three: deeper is a hostile file, and the depth
#: bounds the cost of each element (its ancestors are handed to the reader).
_MAX_DEPTH = 64
#: A placemark or point has a few dozen elements; a record kept whole beyond this is hostile.
_MAX_RECORD_ELEMENTS = 100_000


def local_name(tag: str) -> str:
    """The tag without its namespace.

    Examples
    --------
    >>> local_name("{http://www.opengis.net/kml/2.2}Placemark")
    'Placemark'
    """
    return tag.rpartition("}")[2]


def walk(
    data: bytes, reading: Reading, *, kind: str, fix: str, records: frozenset[str] = frozenset()
) -> Iterator[Event]:
    """Stream the elements of an XML document, checking the reading's time budget.

    On ``end`` the element is complete. An element with a tag in ``records`` (a placemark, a
    waypoint) keeps its whole subtree until its own ``end``, where the caller reads it; every
    other finished element, and each record once read, is then dropped from its parent.
    ``kind`` and ``fix`` word the error when the XML is refused or broken.
    """
    tags: list[str] = []
    elements: list[Element] = []
    record_depth = 0  # depth of the open record element, 0 outside records
    record_elements = 0
    events = iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True)
    try:
        for count, (event, element) in enumerate(events):
            if count % _CHECK_EVERY == 0:
                reading.check_time()
            if event == "start":
                if len(tags) >= _MAX_DEPTH:
                    raise reading.error(
                        f"its elements nest more than {_MAX_DEPTH} deep, which no {kind} file "
                        "does (a hostile file?)",
                        fix,
                    )
                parent = elements[-1] if elements else None
                tags.append(local_name(element.tag))
                elements.append(element)
                if record_depth:
                    record_elements += 1
                    if record_elements > _MAX_RECORD_ELEMENTS:
                        raise reading.error(
                            f"one <{tags[record_depth - 1]}> holds more than "
                            f"{_MAX_RECORD_ELEMENTS:,} elements (a hostile file?)",
                            fix,
                        )
                elif tags[-1] in records:
                    record_depth, record_elements = len(tags), 0
                yield "start", tags[-1], element, tags[:-1], parent
            else:
                tag = tags.pop()
                elements.pop()
                parent = elements[-1] if elements else None
                yield "end", tag, element, tags, parent
                if record_depth and len(tags) >= record_depth:
                    continue  # inside a record: its reader reads it whole at its end
                record_depth = 0
                if parent is not None:
                    del parent[:]  # keep memory flat: this element and its siblings are read
    except DefusedXmlException as exc:
        raise reading.error(
            f"the {kind} declares a DTD or entities ({type(exc).__name__}), which {kind} files "
            "never need and which can attack the reader; it was refused",
            fix,
        ) from exc
    except ParseError as exc:
        raise reading.error(f"it is not well-formed XML ({exc}); it may be truncated", fix) from exc
