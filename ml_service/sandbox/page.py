"""The platform stand-in's status page: services, queues and the latest results.

Self-contained HTML (inline CSS, no scripts, no external URL), rendered by Jinja with
autoescaping on, so every name a service or a result chose is shown as text. It reloads itself
every :data:`REFRESH_S` seconds (the app also sends an HTTP ``Refresh`` header; no script).
Each service shows its sessions done, throughput, mean analysis time and last error; each queue
its submissions waiting, pulled and answered (:mod:`ml_service.sandbox.counts`, read from the
store of the flavour the sandbox runs). Live
sessions (segments answered, alerts, the final result) and the latest ``violation_detected``
alerts come next (:mod:`ml_service.sandbox.live_view`). A result
that follows the result schema links to its report, ``/report/<n>`` (``n`` counts the stored
results from 1, oldest first; see :func:`stored_report`), and names the checks it found.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

from jinja2 import Environment

from ml_service.local.report import report_html
from ml_service.sandbox.counts import QueueCounts
from ml_service.sandbox.live_view import live_sessions
from ml_service.core.results import validate_result

__all__ = ["REFRESH_S", "render_status_page", "result_row", "stored_report"]

REFRESH_S = 5

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{{ refresh_s }}">
<title>ml-service sandbox</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin-bottom:2em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}
th{background:#f3f3f3}.alive{color:#070}.stale{color:#a60}.stopped{color:#888}
.failed{color:#b00}.num{text-align:right}.meta{color:#666}
</style></head><body>
<h1>ml-service sandbox</h1>
<p>XQueue: <code>{{ xqueue_url }}</code> &middot; platform: <code>{{ platform_url }}</code>
<span class="meta">&middot; times are UTC &middot; this page reloads every {{ refresh_s }} s</span></p>
<h2>Services ({{ services|length }})</h2>
<table><tr><th>name</th><th>queue</th><th>host</th><th>version</th><th>status</th><th>last event</th>
<th>last heartbeat</th><th>current session</th><th>done</th><th>failed</th>
<th>sessions / min</th><th>mean analysis</th><th>last error</th></tr>
{% for s in services %}<tr><td>{{ s.name }}</td><td>{{ s.queue }}</td><td>{{ s.host }}</td>
<td>{{ s.version }}</td><td class="{{ s.status }}">{{ s.status }}</td>
<td>{{ s.last_event }} <span title="{{ s.last_event_time }}">{{ s.last_event_time|clock }}</span></td>
<td title="{{ s.last_heartbeat or '' }}">{{ s.last_heartbeat|clock }}</td><td>{{ s.current_session or "-" }}</td>
<td class="num">{{ s.ok }}</td><td class="num {{ 'failed' if s.failed else '' }}">{{ s.failed }}</td>
<td class="num">{{ "%.1f"|format(s.per_minute) if s.per_minute is not none else "-" }}</td>
<td class="num">{{ "%.1f s"|format(s.mean_processing_s) if s.mean_processing_s is not none else "-" }}</td>
<td>{% if s.last_error %}<span class="failed">error {{ s.last_error.error_code }}</span>
at <span title="{{ s.last_error.received }}">{{ s.last_error.received|clock }}</span> (session {{ s.last_error.session_id or s.last_error.submission_id or "?" }}):
{{ s.last_error.reason }}{% else %}-{% endif %}</td></tr>
{% else %}<tr><td colspan="13">no service has sent an event yet</td></tr>{% endfor %}
</table>
<h2>Live sessions ({{ live|length }})</h2>
<table><tr><th>session</th><th>modality</th><th>segments answered</th><th>alerts</th><th>final result</th><th>latest</th></tr>
{% for l in live %}<tr><td>{{ l.session_id }}</td><td>{{ l.modality or "-" }}</td><td>{{ l.segments }}</td>
<td class="num {{ 'failed' if l.alerts else '' }}">{{ l.alerts }}</td>
<td>{% if l.final %}{{ l.final.violations }} violation(s), score {{ l.final.score|score }}{% if l.final.gaps %},
<span class="failed">{{ l.final.gaps }} gap(s)</span>{% endif %}{% else %}recording...{% endif %}</td>
<td title="{{ l.latest }}">{{ l.latest|clock }}</td></tr>
{% else %}<tr><td colspan="6">no live session yet</td></tr>{% endfor %}
</table>
<h2>Alerts ({{ alerts|length }} latest)</h2>
<table><tr><th>received</th><th>session</th><th>check</th><th>session time</th><th>confidence</th><th>segment</th></tr>
{% for a in alerts %}<tr><td title="{{ a.received }}">{{ a.received|clock }}</td><td>{{ a.session_id }}</td>
<td class="failed">{{ a.type }}</td><td>{{ a.start_s|mmss }}&ndash;{{ a.end_s|mmss }}{% if a.open %} (going on){% endif %}</td>
<td class="num">{{ a.confidence|score }}</td><td>{{ a.evidence.segment_index if a.evidence else "-" }}</td></tr>
{% else %}<tr><td colspan="6">no alert yet</td></tr>{% endfor %}
</table>
<h2>Queues</h2>
<table><tr><th>queue</th><th>waiting</th><th>pulled</th><th>answered</th></tr>
{% for name, c in queues.items() %}<tr><td>{{ name }}</td><td class="num">{{ c.waiting }}</td>
<td class="num">{{ c.pulled }}</td><td class="num">{{ c.answered }}</td></tr>
{% endfor %}</table>
<h2>Latest results ({{ results|length }})</h2>
<table><tr><th>received</th><th>session</th><th>modality / queue</th><th>submission</th>
<th>violations</th><th>checks found</th><th>score</th><th>error_code</th><th>report</th></tr>
{% for r in results %}<tr><td title="{{ r.received }}">{{ r.received|clock }}</td><td>{{ r.session_id or "-" }}</td>
<td>{{ r.modality }}</td><td>{{ r.submission_id }}</td><td class="num">{{ r.violations }}</td>
<td>{{ r.checks or "-" }}</td><td class="num">{{ r.score|score }}</td>
<td class="{{ 'failed' if r.error_code not in (0, '-') else '' }}">
{{ r.error_code }}</td><td>{% if r.report %}<a href="/report/{{ r.report }}">report</a>{% else %}-{% endif %}</td></tr>
{% else %}<tr><td colspan="9">no result yet</td></tr>{% endfor %}
</table></body></html>
"""

def _clock(stamp: Any) -> str:
    """``10:00:00`` from ``2026-11-23T10:00:00.123Z`` (the full time is in the cell's title)."""
    return stamp[11:19] if isinstance(stamp, str) and len(stamp) >= 19 else "-"


def _score(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _mmss(seconds: Any) -> str:
    """``12:05`` (minutes:seconds of the session) for a number of seconds."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return "-"
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


_ENV = Environment(autoescape=True)
_ENV.filters.update(clock=_clock, score=_score, mmss=_mmss)
_PAGE = _ENV.from_string(_TEMPLATE)


def _inner(result: Mapping[str, Any]) -> dict[str, Any]:
    """The full result inside a stored reply's body (empty when there is none)."""
    body = result.get("body")
    inner = body.get("result") if isinstance(body, dict) else None
    return inner if isinstance(inner, dict) else {}


def result_row(result: Mapping[str, Any], number: int | None = None) -> dict[str, Any]:
    """The page's view of stored result ``number``: counts and codes read from its body."""
    body = result.get("body")
    body = body if isinstance(body, dict) else {}
    inner = _inner(result)
    violations = inner.get("violations")
    score = body.get("score", inner.get("score", "-"))
    return {
        "received": result.get("received"),
        "session_id": result.get("session_id"),
        "modality": inner.get("modality") or result.get("queue"),
        "submission_id": result.get("submission_id"),
        "violations": len(violations) if isinstance(violations, list) else "-",
        "checks": _checks(violations),
        "score": score,
        "error_code": inner.get("error_code", "-"),
        "report": number if number is not None and inner and not validate_result(inner) else None,
    }


def _checks(violations: Any) -> str:
    """``face_absent ×2, multiple_faces`` for a result's violations (empty when none)."""
    if not isinstance(violations, list):
        return ""
    counts = Counter(v.get("type") for v in violations if isinstance(v, dict) and isinstance(v.get("type"), str))
    return ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in sorted(counts.items()))


def stored_report(result: Mapping[str, Any]) -> str | None:
    """The report page of one stored result (no thumbnails: the media are not kept), or
    None when its body holds no result that follows the schema."""
    inner = _inner(result)
    if not inner or validate_result(inner):
        return None
    return report_html({inner["modality"]: inner}, session_id=result.get("session_id") or inner.get("session_id"))


def render_status_page(
    services: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    queues: Mapping[str, QueueCounts],
    urls: tuple[str, str],
    limit: int = 50,
    alerts: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The whole page; ``results`` and ``alerts`` oldest first, shown newest first up to ``limit``."""
    numbered = list(enumerate(results, 1))[-limit:]
    latest = [result_row(r, n) for n, r in numbered][::-1]
    return _PAGE.render(
        services=services, results=latest, queues=queues, refresh_s=REFRESH_S,
        xqueue_url=urls[0], platform_url=urls[1], live=live_sessions(results, alerts),
        alerts=list(alerts)[-limit:][::-1],
    )
