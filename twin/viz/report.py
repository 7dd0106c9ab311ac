"""A self-contained HTML report of figures and tables, written atomically."""

from __future__ import annotations

import html
import os
from pathlib import Path

from ..io.store import atomic_path

__all__ = ["write_report"]


def write_report(path: str | os.PathLike, *, title: str, sections: list[tuple[str, object]]) -> Path:
    """Write an HTML page with, in order, text blocks (str, shown preformatted) and plotly figures.

    Parameters
    ----------
    path : str or path-like
        Destination ``.html``.
    title : str
        Page title.
    sections : list of (heading, content)
        ``content`` is a plotly Figure or a string (a table, a note).

    Returns
    -------
    Path
        The written file. plotly.js is embedded once, so the page works offline.
    """
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto} pre{background:#f6f6f6;padding:8px}</style>",
             f"</head><body><h1>{html.escape(title)}</h1>"]
    first_fig = True
    for heading, content in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if isinstance(content, str):
            parts.append(f"<pre>{html.escape(content)}</pre>")
        else:
            parts.append(content.to_html(full_html=False, include_plotlyjs=True if first_fig else False))
            first_fig = False
    parts.append("</body></html>")
    p = Path(path)
    with atomic_path(p) as tmp:
        Path(tmp).write_text("\n".join(parts), encoding="utf-8")
    return p
