"""The report's two charts as inline SVG text (no script, no library): requests over time and the
latency histogram.

    >>> svg = timeline_svg({"bucket_seconds": 1, "rows": [[0, 40, 2, 0], [1, 45, 0, 1]],
    ...                     "outages": [[0.5, 1.0]]}, cap=50)
    >>> svg.startswith("<svg") and svg.count('class="accepted"'), 'class="cap"' in svg, 'class="outage"' in svg
    (2, True, True)
"""
import html
import math

WIDTH, HEIGHT = 1000, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 10, 10, 26
COLORS = {"accepted": "#2e9d5b", "retried": "#e8a33d", "failed": "#d9534f"}


def nice_ceiling(value: float) -> float:
    """The axis top: 1, 2 or 5 times a power of ten, at least `value`.

    >>> nice_ceiling(0), nice_ceiling(47), nice_ceiling(450), nice_ceiling(51)
    (1, 50, 500, 100)
    """
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def timeline_svg(timeline: dict, cap: float | None) -> str:
    """Stacked bars (accepted, retried, failed) per bucket in requests/s, the rate cap as a line,
    outages as shaded spans; x in seconds since the start."""
    step = timeline["bucket_seconds"]
    rows = timeline["rows"]
    span = (rows[-1][0] + step) if rows else step
    peak = max([sum(row[1:]) / step for row in rows] + [cap or 0])
    top = nice_ceiling(peak * 1.05)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(seconds):
        return LEFT + plot_w * seconds / span

    def y(rate):
        return TOP + plot_h * (1 - rate / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="100%" role="img" aria-label="requests per second over time">']
    for start, end in timeline.get("outages", []):
        parts.append(f'<rect class="outage" x="{x(start):.1f}" y="{TOP}" '
                     f'width="{max(x(end) - x(start), 1.5):.1f}" height="{plot_h}" fill="#f2c6c4">'
                     f'<title>destination unreachable {start:.0f}–{end:.0f} s</title></rect>')
    parts += _y_axis(top, y, plot_w)
    bar_w = max(plot_w * step / span - (1 if plot_w * step / span > 3 else 0), 0.5)
    for offset, *counts in rows:
        base = 0.0
        for name, count in zip(COLORS, counts):
            if not count:
                continue
            rate = count / step
            parts.append(f'<rect class="{name}" x="{x(offset):.1f}" y="{y(base + rate):.1f}" '
                         f'width="{bar_w:.1f}" height="{y(base) - y(base + rate):.1f}" '
                         f'fill="{COLORS[name]}"><title>{offset} s: {count} {name}</title></rect>')
            base += rate
    if cap:
        parts.append(f'<line class="cap" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(cap):.1f}" '
                     f'y2="{y(cap):.1f}" stroke="#1d2330" stroke-dasharray="6 4"/>'
                     f'<text x="{LEFT + plot_w - 4}" y="{y(cap) - 4:.1f}" text-anchor="end">'
                     f'cap {cap:g}/s</text>')
    for tick in _ticks(span):
        parts.append(f'<text x="{x(tick):.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                     f'{_clock(tick)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def histogram_svg(histogram: dict) -> str:
    """Bars of requests per latency bucket (the buckets from the first to the last non-empty),
    labelled with their upper bound in ms."""
    labels = list(histogram)
    used = [index for index, label in enumerate(labels) if histogram[label]]
    if not used:
        return ""
    labels = labels[used[0]:used[-1] + 1]
    peak = max(histogram[label] for label in labels)
    top = nice_ceiling(peak)
    width, height = 520, 180
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM
    slot = plot_w / len(labels)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-label="latency histogram">']
    parts += _y_axis(top, lambda v: TOP + plot_h * (1 - v / top), plot_w)
    for index, label in enumerate(labels):
        count = histogram[label]
        bar_h = plot_h * count / top
        left = LEFT + index * slot
        parts.append(f'<rect x="{left + 1:.1f}" y="{TOP + plot_h - bar_h:.1f}" '
                     f'width="{max(slot - 2, 1):.1f}" height="{bar_h:.1f}" fill="#3d7be0">'
                     f'<title>≤ {html.escape(label)} ms: {count}</title></rect>')
        parts.append(f'<text x="{left + slot / 2:.1f}" y="{height - 8}" text-anchor="middle">'
                     f'{"≤" + label if label != "inf" else "more"}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _y_axis(top, y, plot_w) -> list:
    parts = []
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        value = top * fraction
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" stroke="#eceef2"/>'
                     f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:g}</text>')
    return parts


def _ticks(span: float) -> list:
    step = nice_ceiling(span / 8)
    return [tick * step for tick in range(int(span // step) + 1) if tick * step < span * 0.97]


def _clock(seconds: float) -> str:
    minutes, second = divmod(int(seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}" if hours else f"{minute}:{second:02d}"
