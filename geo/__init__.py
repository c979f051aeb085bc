"""Urban-order monitor: the pure domain core (no Streamlit, no folium)."""

from __future__ import annotations

__version__ = "0.1.0"
