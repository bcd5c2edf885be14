"""The view-history chart of an article: its counter readings laid out as inline SVG coordinates (no script)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: Drawing area of the chart in SVG user units; the CSS scales it to the page width.
WIDTH = 640
HEIGHT = 180
#: Room left for the axis labels.
PAD_LEFT = 64
PAD_RIGHT = 12
PAD_TOP = 12
PAD_BOTTOM = 28
#: More points than this are thinned out evenly (first and latest kept); a line of 400 points is already smooth.
MAX_POINTS = 400
#: Up to this many readings each get a dot with a hover title; beyond, the dots would only blur the line.
MAX_DOTS = 60


@dataclass(frozen=True)
class Point:
    """One reading, placed on the chart."""

    x: float
    y: float
    observed_at: str
    views: int


@dataclass(frozen=True)
class Chart:
    """Everything the template needs to draw the chart."""

    width: int
    height: int
    points: tuple[Point, ...]
    #: "x,y x,y …" for the <polyline>.
    polyline: str
    dots: tuple[Point, ...]
    min_views: int
    max_views: int
    first_at: str
    last_at: str
    readings: int
    #: The y of the plot's bottom and top edges, for the axis lines and labels.
    bottom: float
    top: float
    left: float
    right: float


def view_chart(readings: list[tuple[str, int]]) -> Chart | None:
    """Lay out (observed_at ISO time, views) readings in time order; None when there is nothing to draw."""
    parsed = []
    for observed_at, views in readings:
        try:
            moment = datetime.fromisoformat(observed_at)
        except (TypeError, ValueError):
            continue
        if isinstance(views, int):
            parsed.append((moment, observed_at, views))
    if not parsed:
        return None
    parsed.sort(key=lambda item: item[0])
    total = len(parsed)
    if total > MAX_POINTS:
        step = (total - 1) / (MAX_POINTS - 1)
        parsed = [parsed[round(i * step)] for i in range(MAX_POINTS)]
    start, end = parsed[0][0], parsed[-1][0]
    span = (end - start).total_seconds()
    low = min(views for _, _, views in parsed)
    high = max(views for _, _, views in parsed)
    left, right = float(PAD_LEFT), float(WIDTH - PAD_RIGHT)
    top, bottom = float(PAD_TOP), float(HEIGHT - PAD_BOTTOM)
    points = []
    for moment, observed_at, views in parsed:
        # One reading, or readings all at one instant, sit in the middle rather than on an edge.
        x = left + (right - left) * ((moment - start).total_seconds() / span if span > 0 else 0.5)
        y = bottom - (bottom - top) * ((views - low) / (high - low) if high > low else 0.5)
        points.append(Point(round(x, 1), round(y, 1), observed_at, views))
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        points=tuple(points),
        polyline=" ".join(f"{p.x:g},{p.y:g}" for p in points),
        dots=tuple(points) if len(points) <= MAX_DOTS else (),
        min_views=low,
        max_views=high,
        first_at=parsed[0][1],
        last_at=parsed[-1][1],
        readings=total,
        bottom=bottom,
        top=top,
        left=left,
        right=right,
    )
