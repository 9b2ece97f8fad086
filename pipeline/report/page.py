"""render(data) -> the report's HTML: one page, inline CSS and SVG, no script, nothing fetched.

Every figure a test or a person may want to read back carries a data- attribute with its raw
value: <td data-funnel="delivered">1,204</td>, <td data-answer="429">3</td>.

    >>> from pipeline.report.data import report_data
    >>> page = render(report_data({"read": 2, "delivered": 2, "balanced": True,
    ...                            "answers": {"2xx": 2}}, {"destination": "gainsight"}, None, []))
    >>> '<td class="n" data-funnel="delivered" data-value="2">2</td>' in page, "<script" in page
    (True, False)
"""
import html
import shlex
import time

from pipeline.report import charts

LABELS = {
    "read": "Read", "invalid": "Invalid (could not be parsed or checked)",
    "duplicates": "Duplicates (same messageId)",
    "skipped_by_integrations": "Consent (integrations switched the destination off)",
    "unsupported": "Unsupported call type", "filtered": "Not on the track whitelist",
    "already_settled": "Already settled by an earlier run (--checkpoint)",
    "delivered": "Delivered", "dead_lettered": "Dead-lettered", "previewed": "Previewed (not sent)",
    "unsent": "Unsent (a resume sends them)",
    "out_of_window": "Outside --from / --to", "dropped_by_filter": "Dropped by a destination filter",
    "dropped_by_transform": "Dropped by --transform",
}
ANSWER_LABELS = {"2xx": "2xx accepted", "429": "429 too many requests", "5xx": "5xx server error",
                 "timeout": "timeout", "connection_error": "connection error"}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:20px}
header p{margin:0;color:#c5cad6}
main{padding:18px 28px;display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:18px}
section{background:#fff;border-radius:8px;padding:14px 18px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
section.wide{grid-column:1/-1}
h2{font-size:15px;margin:0 0 10px}
table{border-collapse:collapse;width:100%}
th{white-space:nowrap}
td,th{padding:3px 6px;text-align:left;vertical-align:top;border-bottom:1px solid #eceef2}
th{font-weight:600;color:#5a6275}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.bar{width:38%}
.bar div{height:12px;border-radius:2px;background:#3d7be0}
tr.left .bar div{background:#9aa3b5} tr.end-dead_lettered .bar div{background:#d9534f}
tr.end-unsent .bar div{background:#e8a33d} tr.end-delivered .bar div{background:#2e9d5b}
.tiles{display:flex;gap:12px;margin-bottom:10px;flex-wrap:wrap}
.tile{background:#f4f5f7;border-radius:6px;padding:6px 12px;min-width:80px}
.tile b{display:block;font-size:18px}
.muted{color:#6b7385} .bad{color:#c0392b;font-weight:600} .ok{color:#2e9d5b;font-weight:600}
pre{white-space:pre-wrap;word-break:break-all;background:#f4f5f7;padding:4px 6px;margin:2px 0;font-size:12px}
code{font-size:12px}
svg text{font:11px system-ui,sans-serif;fill:#5a6275}
.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
"""


def render(data: dict) -> str:
    """The whole page for report_data()'s dict."""
    run = data.get("run", {})
    sections = [_funnel(data), _answers(data), _latency(data), _timeline(data),
                _dead_letters(data), _sent(data), _run(run)]
    title = f"Delivery report: {run.get('destination', '')}"
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{_e(title)}</h1><p>{_e(_headline(data))}</p></header>"
            f"<main>{''.join(sections)}</main></body></html>\n")


def _headline(data: dict) -> str:
    run = data.get("run", {})
    parts = [run.get("endpoint", "")]
    if run.get("started") is not None:
        parts.append(f"{_when(run['started'])} to {_when(run.get('ended'))}")
        parts.append(_duration(run.get("ended", run["started"]) - run["started"]))
    return "  ·  ".join(part for part in parts if part)


def _funnel(data: dict) -> str:
    rows = []
    for row in data["funnel"]:
        kind = row["kind"] if row["kind"] != "end" else f"end end-{row['name']}"
        width = f"{row['share'] * 100:.2f}"
        rows.append(
            f'<tr class="{_e(kind)}"><td>{_e(LABELS.get(row["name"], row["name"]))}</td>'
            f'<td class="n" data-funnel="{_e(row["name"])}" data-value="{row["count"]}">'
            f'{row["count"]:,}</td><td class="n">{row["share"]:.1%}</td>'
            f'<td class="bar"><div style="width:{width}%"></div></td></tr>')
    balance = ('<span class="ok">the counts add up: every event read is in exactly one row '
               'below read</span>' if data.get("balanced") else
               '<span class="bad">the counts do not add up</span>')
    return (f'<section class="wide" id="funnel"><h2>Funnel: where every event read went</h2>'
            f'<p>{balance}</p><table><tr><th>outcome</th><th class="n">events</th>'
            f'<th class="n">share of read</th><th></th></tr>{"".join(rows)}</table></section>')


def _answers(data: dict) -> str:
    answers = data.get("answers", {})
    total = sum(answers.values())
    rows = []
    for kind, count in sorted(answers.items(), key=lambda item: (-item[1], item[0])):
        width = f"{count / total * 100:.2f}" if total else "0"
        rows.append(f'<tr><td>{_e(ANSWER_LABELS.get(kind, "HTTP " + kind))}</td>'
                    f'<td class="n" data-answer="{_e(kind)}" data-value="{count}">{count:,}</td>'
                    f'<td class="n">{count / total:.1%}</td>'
                    f'<td class="bar"><div style="width:{width}%"></div></td></tr>')
    body = ("<table><tr><th>answer</th><th class=\"n\">requests</th><th class=\"n\">share</th>"
            f"<th></th></tr>{''.join(rows)}</table>" if rows else
            '<p class="muted">no request was sent</p>')
    return (f'<section id="answers"><h2>Answers by kind</h2>'
            f'{_tiles([("requests (attempts)", data.get("requests", 0)), ("retries", data.get("retries", 0)), ("outages", data.get("outages", 0)), ("outage seconds", data.get("outage_seconds", 0))])}'
            f'{body}</section>')


def _timeline(data: dict) -> str:
    timeline = data.get("timeline")
    cap = data.get("run", {}).get("rate_cap")
    if not timeline:
        note = ("no request was sent" if not data.get("requests") else
                "the timeline is recorded on a local run only")
        return (f'<section class="wide" id="timeline"><h2>Requests over time</h2>'
                f'<p class="muted">{note}</p></section>')
    step = timeline["bucket_seconds"]
    legend = ('<p class="legend"><span><i style="background:#2e9d5b"></i>accepted</span>'
              '<span><i style="background:#e8a33d"></i>retried</span>'
              '<span><i style="background:#d9534f"></i>failed</span>'
              + ('<span><i style="background:#1d2330;height:2px"></i>rate cap</span>' if cap else "")
              + '<span><i style="background:#f2c6c4"></i>destination unreachable</span></p>')
    return (f'<section class="wide" id="timeline"><h2>Requests per second '
            f'({"each bar " + str(step) + " s, averaged" if step > 1 else "each bar one second"})'
            f'</h2>{legend}{charts.timeline_svg(timeline, cap)}</section>')


def _latency(data: dict) -> str:
    latency = data.get("latency", {})
    if not latency.get("requests"):
        return '<section id="latency"><h2>Request latency</h2><p class="muted">no request was sent</p></section>'
    tiles = [("median", _ms(latency.get("p50"))), ("p95", _ms(latency.get("p95"))),
             ("p99", _ms(latency.get("p99")))]
    if "mean" in latency:
        tiles += [("mean", _ms(latency["mean"])), ("max", _ms(latency["max"]))]
    return (f'<section id="latency"><h2>Request latency (time on the wire, every attempt)</h2>'
            f'{_tiles(tiles)}{charts.histogram_svg(latency["histogram"])}'
            f'<p class="muted">requests by latency bucket (ms); percentiles are estimated '
            f'within the buckets</p></section>')


def _dead_letters(data: dict) -> str:
    groups = data.get("dead_letters") or []
    if not groups:
        return ('<section class="wide" id="dead-letters"><h2>Dead letters</h2>'
                '<p class="muted">none</p></section>')
    rows = []
    for group in groups:
        samples = "".join(f"<pre>{_e(sample)}</pre>" for sample in group["samples"])
        rows.append(f'<tr><td><code>{_e(group["stage"])}</code></td><td>{_e(group["reason"])}'
                    f'<details><summary class="muted">samples</summary>{samples}</details></td>'
                    f'<td class="n" data-dead-letter-count="{group["count"]}">{group["count"]:,}</td></tr>')
    return (f'<section class="wide" id="dead-letters"><h2>Dead letters by reason</h2>'
            f'<table><tr><th>stage</th><th>reason</th><th class="n">events</th></tr>'
            f'{"".join(rows)}</table></section>')


def _sent(data: dict) -> str:
    by_type = "".join(f'<tr><td>{_e(kind)}</td><td class="n" data-by-type="{_e(kind)}">{n:,}</td></tr>'
                      for kind, n in data.get("by_type", {}).items())
    names = data.get("event_names")
    top = ("".join(f'<tr><td>{_e(name)}</td><td class="n">{n:,}</td></tr>' for name, n in names)
           if names else "")
    top_table = (f"<h2>Top track event names</h2><table>{top}</table>" if top else
                 '<p class="muted">track event names are recorded on a local run only</p>'
                 if names is None else "")
    attribution = data.get("attribution", {})
    return (f'<section id="sent"><h2>Events handed to the sink by call type</h2>'
            f'<table>{by_type}</table>{top_table}<h2>Attribution</h2><table>'
            f'<tr><td>with an account</td><td class="n" data-attribution="with_account">{attribution.get("with_account", 0):,}</td></tr>'
            f'<tr><td>of which through an anonymousId link (stitched)</td><td class="n" data-attribution="stitched">{attribution.get("stitched", 0):,}</td></tr>'
            f'<tr><td>without an account (unmapped)</td><td class="n" data-attribution="unmapped">{attribution.get("unmapped", 0):,}</td></tr>'
            f'</table></section>')


def _run(run: dict) -> str:
    rows = [("destination", run.get("destination")), ("endpoint", run.get("endpoint")),
            ("runner", run.get("runner")),
            ("started", _when(run.get("started"))), ("ended", _when(run.get("ended"))),
            ("duration", _duration(run["ended"] - run["started"])
             if run.get("started") is not None and run.get("ended") is not None else None),
            ("exit code", run.get("exit_code"))]
    rows += [(f"{name} version", value) for name, value in run.get("versions", {}).items()]
    cells = "".join(f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>" for name, value in rows
                    if value is not None)
    flags = _e(shlex.join(run.get("flags", [])))
    return (f'<section id="run"><h2>The run</h2><table>{cells}'
            f'<tr><th>flags</th><td><code>{flags}</code></td></tr></table></section>')


def _tiles(tiles) -> str:
    return '<div class="tiles">' + "".join(
        f'<div class="tile"><b>{_e(value if isinstance(value, str) else f"{value:,}")}</b>'
        f'<span class="muted">{_e(name)}</span></div>' for name, value in tiles) + "</div>"


def _ms(value) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def _when(seconds) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _duration(seconds: float) -> str:
    minutes, second = divmod(int(round(seconds)), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}"


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)
