"""Streaming XML (KML, GPX) without the XML features that let a file attack its reader.

Document type declarations are refused outright: KML and GPX never need one, and they carry
every entity trick (billion laughs, external entities that read local files or the network).
Elements are streamed, so a reader can drop what it has read and keep memory flat.
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


def local_name(tag: str) -> str:
    """The tag without its namespace.

    Examples
    --------
    >>> local_name("{http://www.opengis.net/kml/2.2}Placemark")
    'Placemark'
    """
    return tag.rpartition("}")[2]


def walk(data: bytes, reading: Reading, *, kind: str, fix: str) -> Iterator[Event]:
    """Stream the elements of an XML document, checking the reading's time budget.

    On ``end`` the element is complete; the caller may clear it (or its parent's children) to
    free memory. ``kind`` and ``fix`` word the error when the XML is refused or broken.
    """
    tags: list[str] = []
    elements: list[Element] = []
    events = iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True)
    try:
        for count, (event, element) in enumerate(events):
            if count % _CHECK_EVERY == 0:
                reading.check_time()
            if event == "start":
                parent = elements[-1] if elements else None
                tags.append(local_name(element.tag))
                elements.append(element)
                yield "start", tags[-1], element, tags[:-1], parent
            else:
                tag = tags.pop()
                elements.pop()
                yield "end", tag, element, tags, elements[-1] if elements else None
    except DefusedXmlException as exc:
        raise reading.error(
            f"the {kind} declares a DTD or entities ({type(exc).__name__}), which {kind} files "
            "never need and which can attack the reader; it was refused",
            fix,
        ) from exc
    except ParseError as exc:
        raise reading.error(f"it is not well-formed XML ({exc}); it may be truncated", fix) from exc
