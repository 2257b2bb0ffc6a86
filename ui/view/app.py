"""Streamlit entry of the command view: ``streamlit run ui/view/app.py`` (or ``hospital-twin view``).

Reads from the API when ``HOSPITAL_TWIN_API_URL`` is set (token from ``HOSPITAL_TWIN_API_TOKEN``), else from
the store directly (``DATABASE_URL`` or the embedded SQLite file).
"""

from __future__ import annotations

import streamlit as st

from ui.view.pages import PAGES, render, shared_source


def main() -> None:
    """Lay out the menu and render the chosen page."""
    st.set_page_config(page_title="Hospital twin", layout="wide")
    titles = list(PAGES)
    wanted = st.query_params.get("page", "Now")
    title = st.sidebar.radio("Page", titles, index=titles.index(wanted) if wanted in titles else 0)
    source = shared_source()
    st.sidebar.caption(f"Data: {source.label}")
    render(source, title)


main()
