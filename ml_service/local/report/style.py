"""The report's inline stylesheet (no web fonts, no external resource; prints cleanly)."""

from __future__ import annotations

__all__ = ["CSS"]

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;max-width:1200px;
padding:0 1em;color:#222;background:#fff}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.2em;margin:1.6em 0 .4em;border-bottom:1px solid #ddd}
code{font-size:.95em}.meta{color:#555;margin:.2em 0 .8em}
table{border-collapse:collapse;margin:.6em 0 1em}
th,td{border:1px solid #d6d6d6;padding:.3em .55em;text-align:left;vertical-align:top}
th{background:#f3f3f3;font-weight:600}td.num{text-align:right}
.failed{color:#b00020}.note{background:#fff6d6;border-left:4px solid #e0b000;padding:.4em .7em}
.error{background:#fde7ea;border-left:4px solid #b00020;padding:.4em .7em}
.clean{color:#2a7a2a}
.score{display:inline-block;padding:0 .45em;border-radius:.3em;color:#fff;font-weight:600}
.score.good{background:#2a7a2a}.score.fair{background:#b26a00}.score.bad{background:#b00020}
.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.35em;border-radius:2px;vertical-align:-1px}
.conf{display:inline-block;width:4em;height:.55em;background:#e6e6e6;vertical-align:middle}
.conf span{display:block;height:100%;background:#555}
.intervals td{font-size:.93em}.intervals tr:target{outline:2px solid #e15759}
.thumb{display:block;border:1px solid #ccc}
svg.timeline{max-width:100%;font-size:12px;margin:.3em 0}
svg.timeline text{fill:#333}svg.timeline .none{fill:#2a7a2a}
svg.timeline .lane{fill:#f4f4f4}svg.timeline .axis{stroke:#888}
svg.timeline .bar{stroke:#333;stroke-width:.5}
svg.wave{display:block;background:#fafafa;border:1px solid #ccc}
svg.wave path{stroke:#4e79a7;stroke-width:1}svg.wave .span{fill:#e15759;fill-opacity:.18}
svg.wave line{stroke:#e15759;stroke-width:1.5}
footer{color:#666;font-size:.9em;margin-top:2em;border-top:1px solid #ddd}
@media print{body{max-width:none}tr{page-break-inside:avoid}}
"""
