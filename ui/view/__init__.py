"""The Streamlit command view: pages that render what the store (or the API) already holds.

``ui/view/app.py`` is the Streamlit entry; :mod:`ui.view.sources` reads data either straight from the store
(embedded) or over the API; :mod:`ui.view.charts` builds the charts; :mod:`ui.view.pages` lays them out.
"""
