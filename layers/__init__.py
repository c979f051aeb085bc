"""folium layers: each public function returns one FeatureGroup (or the whole Map).

This room never imports streamlit. Every layer is served offline: see :mod:`layers.assets`.
"""
