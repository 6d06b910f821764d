"""Reading a finished (or crashed) report after the fact: load, filter, summarise, render.

The library is the product and ``batcher report`` a thin client of it (as in sqlite-utils):
``open_report`` streams lines, ``ReportFilter`` picks rows, ``SummaryBuilder`` counts them,
``render_html`` writes the one-file page for a compliance team.
"""

from __future__ import annotations

from batcher.errors import ReportUnreadable
from batcher.reporting.filters import ReportFilter
from batcher.reporting.html import HtmlRows, render_html
from batcher.reporting.load import LoadedLine, ReportReader, open_report
from batcher.reporting.summary import ReportSummary, SummaryBuilder

__all__ = [
    "HtmlRows",
    "LoadedLine",
    "ReportFilter",
    "ReportReader",
    "ReportSummary",
    "ReportUnreadable",
    "SummaryBuilder",
    "open_report",
    "render_html",
]
