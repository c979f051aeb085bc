"""Streamlit pages: thin modules that read widgets, call geo, and draw layers."""
