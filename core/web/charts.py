"""Server-side charts: the shapes of a funnel and of a column chart, computed here and
drawn as inline SVG by ``dashboard/charts.html``, and the words for their figures
(amounts with their currency, short numbers, months).

Builders take plain numbers and return coordinates in a fixed ``viewBox``, so a chart
needs no JavaScript, scales with its container, takes its colours from the theme's CSS
variables (series are named, never coloured here) and comes with the same numbers as a
table for people who do not see it.
"""

import math
from calendar import month_abbr
from decimal import Decimal

WIDTH = 640
FUNNEL_ROW = 40
FUNNEL_LABEL = 150
FUNNEL_VALUES = 170
COLUMN_HEIGHT = 240
AXIS_LEFT = 64
AXIS_BOTTOM = 40
TOP_ROOM = 22
TICKS = 4


def money(amount, currency, cents=True):
    """``12,345.60 EUR``: an amount with its currency code, never a bare number."""
    amount = Decimal(amount or 0)
    text = f"{amount:,.2f}" if cents else f"{amount:,.0f}"
    return f"{text} {currency}" if currency else text


def noun(record_type, count):
    """A type's label for ``count`` records, in lower case: ``1 deal``, ``2 deals``."""
    return (record_type.label if count == 1 else record_type.plural_label).lower()


def compact(value):
    """A number short enough for a chart: ``950``, ``12.5k``, ``3.2M``."""
    value = Decimal(value or 0)
    for size, suffix in ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(1000), "k")):
        if abs(value) >= size:
            text = f"{value / size:.1f}".removesuffix(".0")
            return f"{text}{suffix}"
    return f"{value:.0f}" if value == value.to_integral_value() else f"{value:.2f}"


def month_label(month, separator=" "):
    """``2025-03`` → ``Mar 2025`` (with ``separator`` between month and year)."""
    year, number = month.split("-")
    return f"{month_abbr[int(number)]}{separator}{year}"


def funnel(rows):
    """A funnel of stages: one centred bar per row, as wide as its share of the largest.

    :param rows: ``[{"key", "label", "count", "text"}]`` in stage order; ``text`` is what
        is written beside the bar (the count and amount).
    """
    plot = WIDTH - FUNNEL_LABEL - FUNNEL_VALUES
    centre = FUNNEL_LABEL + plot / 2
    largest = max((row["count"] for row in rows), default=0) or 1
    bars = []
    for index, row in enumerate(rows):
        width = plot * row["count"] / largest if row["count"] else 0
        width = max(width, 4) if row["count"] else 0
        y = index * FUNNEL_ROW
        bars.append({
            **row, "x": round(centre - width / 2, 1), "y": y + 6, "width": round(width, 1),
            "height": FUNNEL_ROW - 12, "text_y": y + FUNNEL_ROW / 2,
        })
    return {"width": WIDTH, "height": max(len(rows), 1) * FUNNEL_ROW, "bars": bars,
            "label_x": FUNNEL_LABEL - 10, "value_x": WIDTH - FUNNEL_VALUES + 10}


def columns(categories, series, stacked=False, value_text=str, whole=False):
    """A column chart: one group per category, one bar per series (side by side, or
    stacked with the group's total on top).

    :param categories: ``[(key, label)]`` along the horizontal axis; a label may hold
        two lines (``"Mar\n2025"``).
    :param series: ``[{"key", "label", "values": [number per category]}]``.
    :param value_text: how a value or total is written on the chart and the axis.
    :param whole: values are counts, so the axis steps by whole numbers.
    """
    plot_width = WIDTH - AXIS_LEFT - 8
    plot_height = COLUMN_HEIGHT - AXIS_BOTTOM - TOP_ROOM
    baseline = TOP_ROOM + plot_height
    if stacked:
        peak = max((sum(s["values"][i] for s in series) for i in range(len(categories))), default=0)
    else:
        peak = max((v for s in series for v in s["values"]), default=0)
    step = max(nice_step(peak), 1) if whole else nice_step(peak)
    top = step * TICKS if peak else 1
    slot = plot_width / max(len(categories), 1)
    group = slot * 0.7
    bar = group if stacked else group / max(len(series), 1)
    bars, labels = [], []
    for index, (key, label) in enumerate(categories):
        left = AXIS_LEFT + index * slot + (slot - group) / 2
        stack = 0
        for position, s in enumerate(series):
            value = s["values"][index]
            height = plot_height * float(value) / float(top) if value else 0
            x = left if stacked else left + position * bar
            y = baseline - height - (plot_height * float(stack) / float(top) if stacked else 0)
            bars.append({"series": s["key"], "category": key, "value": value, "x": round(x, 1),
                         "y": round(y, 1), "width": round(bar - (0 if stacked else 2), 1),
                         "height": round(height, 1)})
            if stacked:
                stack += value
            elif value:
                labels.append({"x": round(x + bar / 2, 1), "y": round(y - 4, 1), "text": value_text(value)})
        if stacked and stack:
            labels.append({"x": round(left + group / 2, 1), "y": round(baseline - plot_height * float(stack) / float(top) - 4, 1),
                           "text": value_text(stack)})
    ticks = [{"y": round(baseline - plot_height * i / TICKS, 1), "text": value_text(step * i)}
             for i in range(TICKS + 1)] if peak else []
    axis = [{"x": round(AXIS_LEFT + i * slot + slot / 2, 1), "lines": label.split("\n")}
            for i, (_key, label) in enumerate(categories)]
    return {"width": WIDTH, "height": COLUMN_HEIGHT, "bars": bars, "labels": labels, "ticks": ticks,
            "axis": axis, "axis_y": baseline + 16, "baseline": baseline, "left": AXIS_LEFT,
            "right": WIDTH - 8, "series": [{"key": s["key"], "label": s["label"]} for s in series]}


def nice_step(peak):
    """A round step (1, 2, 2.5 or 5 times a power of ten) so that :data:`TICKS` steps cover ``peak``."""
    if not peak:
        return 1
    raw = float(peak) / TICKS
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            step = factor * power
            break
    if step >= 1 and step == int(step):
        return int(step)
    return Decimal(str(step))
