"""The proctor's report: one self-contained HTML page for one session's results.

    page.py      the page: summary, per-modality sections, intervals table; :func:`render_report`
    timeline.py  the inline SVG timelines
    evidence.py  thumbnails at each violation's start (a video frame, an audio waveform)
    style.py     the inline stylesheet

Use::

    render_report({"webcam": result}, {"webcam": Path("webcam.mp4")}, Path("out/report.html"))
    report_html({"webcam": result})   # the page as text, no thumbnails (the sandbox uses this)
"""

from __future__ import annotations

from ml_service.local.report.page import render_report, report_html

__all__ = ["render_report", "report_html"]
