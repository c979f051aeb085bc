"""The app's server: Streamlit, with the first visit's modules imported before it listens.

``urban-order app`` runs ``python -m views.serve run app.py …``, which is ``streamlit run``
once pandas, GeoPandas, folium and the sign-in and map pages are imported (~2 s): the server
then starts that much later, and its first visitor waits that much less. The other pages are
imported by the app's warm-up thread once the server is idle (see ``app.py``).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    """Import the first visit's modules, then run Streamlit's command line with ``argv``."""
    from streamlit.web import cli

    import views.common
    import views.map_page
    import views.signin_page  # noqa: F401 - imported for their side effect: loaded modules

    sys.argv = ["streamlit", *argv]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main(sys.argv[1:])
