"""AppTests of the pages; :func:`signed_in` stands in for the sign-in page (tested itself in
``test_access_pages.py``), by setting the session's user on the server side."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from geo.auth import Principal, Role


def signed_in(
    at: AppTest, role: Role = "admin", wards: tuple[str, ...] | None = None, *, user: str = ""
) -> AppTest:
    """``at`` with a user of ``role`` over ``wards`` (``None``: every ward) signed in."""
    at.session_state["principal"] = Principal(user or f"test-{role}", role, wards)
    return at
