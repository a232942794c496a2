"""Static charts for reports and headless output (matplotlib, Agg: no screen, no Qt).

Each function takes plain numbers and returns a matplotlib Figure; :func:`to_svg` and :func:`to_png`
turn it into text or bytes. matplotlib is imported on first use only: the CLI's other commands and
the window never pay for it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from hwprof.core.text import printable

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "font.size": 9,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.fonttype": "none",
            # labels come from snapshots: a "$" in a hostname or tag is text, not mathtext (whose
            # parser raises on what it cannot read)
            "text.parse_math": False,
            "svg.hashsalt": "hwprof",
        }
    )
    return plt


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Drawing what a file holds: overflow warnings, missing glyphs and odd positions stay quiet.

    A name in a script no installed font has is drawn as boxes; that is no reason to print a
    warning (which would also echo the name's raw characters to the terminal).
    """
    log = logging.getLogger("matplotlib")  # "posx and posy should be finite values"
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.filterwarnings("ignore", message="Glyph .* missing from",
                                    category=UserWarning)
            yield
    finally:
        log.setLevel(level)


def _text(value: object) -> str:
    """A label from a snapshot as matplotlib should draw it: control characters escaped."""
    return printable(value)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    lows: Sequence[float | None] | None = None,
    highs: Sequence[float | None] | None = None,
    title: str,
    ylabel: str,
) -> Any:
    """Horizontal bars, with error bars from ``lows`` to ``highs`` (e.g. the IQR or a CI)."""
    plt = _plt()
    n = max(len(labels), 1)
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * n + 1.2))
    y = list(range(len(labels)))
    vals = [v if v is not None else math.nan for v in values]
    ax.barh(y, vals, color=[PALETTE[i % len(PALETTE)] for i in y], alpha=0.85)
    if lows is not None and highs is not None:
        err_lo = [
            v - lo if v is not None and lo is not None else 0
            for v, lo in zip(values, lows, strict=True)
        ]
        err_hi = [
            hi - v if v is not None and hi is not None else 0
            for v, hi in zip(values, highs, strict=True)
        ]
        ax.errorbar(vals, y, xerr=[err_lo, err_hi], fmt="none", ecolor="black", capsize=3, lw=1)
    ax.set_yticks(y, [_text(label) for label in labels])
    ax.invert_yaxis()
    ax.set_xlabel(_text(ylabel))
    ax.set_title(_text(title), loc="left")
    tops = highs if highs is not None else values
    for yi, v, top in zip(y, values, tops, strict=True):
        if v is not None:
            ax.annotate(
                f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}",
                (max(v, top if top is not None else v), yi),  # right of the error bar
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
    fig.tight_layout()
    return fig


def line_chart(
    series: Mapping[str, tuple[Sequence[float], Sequence[float | None]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    log_x: bool = False,
    log_y: bool = False,
    markers: bool = False,
    vlines: Sequence[tuple[float, str]] = (),
    annotations: Sequence[tuple[float, float, str]] = (),
) -> Any:
    """One line per named series of (x, y); None in y is a gap; text at (x, y) annotations."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    for i, (name, (xs, ys)) in enumerate(series.items()):
        yv = [y if y is not None else math.nan for y in ys]
        ax.plot(
            list(xs),
            yv,
            label=_text(name),
            color=PALETTE[i % len(PALETTE)],
            lw=1.2,
            marker="o" if markers else None,
            ms=3,
        )
    for x, label in vlines:
        ax.axvline(x, color="grey", ls="--", lw=0.8)
        ax.annotate(
            _text(label),
            (x, 1),
            xycoords=("data", "axes fraction"),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
            color="grey",
        )
    for x, y, text in annotations:
        ax.annotate(_text(text), (x, y), xytext=(0, 6), textcoords="offset points",
                    ha="center", fontsize=7)
    if log_x:
        from matplotlib.ticker import FuncFormatter

        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))  # 64, not 2^6
    ax.set_xlabel(_text(xlabel))
    return _finish(fig, ax, title=title, ylabel=ylabel, log_y=log_y, legend=len(series) > 1)


def _finish(fig: Any, ax: Any, *, title: str, ylabel: str, log_y: bool, legend: bool) -> Any:
    """The parts every line chart shares: y scale and label, title, legend, layout."""
    if log_y:
        ax.set_yscale("log")
    ax.set_ylabel(_text(ylabel))
    ax.set_title(_text(title), loc="left")
    if legend:
        ax.legend(fontsize=8, frameon=False)
    with warnings.catch_warnings():  # odd values (1e308) make labels too wide: keep the layout
        warnings.filterwarnings("ignore", "Tight layout not applied", UserWarning)
        fig.tight_layout()
    return fig


def category_lines(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str,
    ylabel: str,
    log_y: bool = False,
) -> Any:
    """One line per named series over named categories (e.g. latency percentiles p50 ... p99.9)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    x = list(range(len(categories)))
    for i, (name, ys) in enumerate(series.items()):
        yv = [y if y is not None else math.nan for y in ys]
        ax.plot(x, yv, label=_text(name), color=PALETTE[i % len(PALETTE)], lw=1.2, marker="o",
                ms=3)
    ax.set_xticks(x, [_text(c) for c in categories])
    return _finish(fig, ax, title=title, ylabel=ylabel, log_y=log_y, legend=len(series) > 1)


def histogram(values: Sequence[float], *, title: str, xlabel: str, bins: int = 40) -> Any:
    """A histogram (e.g. of step times)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 2.8))
    ax.hist([v for v in values if math.isfinite(v)], bins=bins, color=PALETTE[0], alpha=0.85)
    ax.set_xlabel(_text(xlabel))
    ax.set_ylabel("count")
    ax.set_title(_text(title), loc="left")
    fig.tight_layout()
    return fig


def roofline_chart(
    ceilings: Sequence[tuple[str, float, float]],
    points: Sequence[tuple[str, float, float]],
    *,
    title: str = "Roofline",
) -> Any:
    """Log-log roofline: devices (label, FLOP/s, bytes/s); runs (label, FLOP/byte, FLOP/s)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    intensities = [p[1] for p in points] + [peak / bw for _, peak, bw in ceilings]
    lo = min([0.05, *[i / 4 for i in intensities if i > 0]])
    hi = max([1000.0, *[i * 4 for i in intensities]])
    for i, (label, peak, bw) in enumerate(ceilings):
        ridge = peak / bw
        xs = [lo, ridge, hi]
        ys = [lo * bw, peak, peak]
        color = PALETTE[i % len(PALETTE)]
        ax.plot(xs, ys, color=color, lw=1.6,
                label=_text(f"{label}: {peak / 1e9:,.0f} GFLOP/s, {bw / 1e9:,.1f} GB/s"))
        ax.axvline(ridge, color=color, ls=":", lw=0.8)
    for j, (label, intensity, flops) in enumerate(points):
        ax.scatter([intensity], [flops], s=22, zorder=3,
                   color=PALETTE[(j + len(ceilings)) % len(PALETTE)], edgecolors="black",
                   linewidths=0.5)
        ax.annotate(_text(label), (intensity, flops), xytext=(4, 3), textcoords="offset points",
                    fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOPs per byte of memory traffic)")
    ax.set_ylabel("FLOP/s")
    ax.set_title(_text(title), loc="left")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig


def to_svg(fig: Any) -> str:
    """The figure as inline SVG text (no XML header), and the figure closed."""
    plt = _plt()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    start = text.find("<svg")
    text = text[start:] if start >= 0 else text
    # drop matplotlib's RDF block: it names web addresses (never fetched) a reader need not see
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)


def svgs_or_none(make: Callable[[], Any]) -> list[str] | None:
    """The figure (or list of figures) ``make`` returns as inline SVG; None if it cannot be drawn.

    A snapshot's numbers can be anything a float holds: an axis from 0 to 1e308 overflows
    matplotlib's transforms, a histogram's range becomes infinite. Such a chart is left out (the
    caller says so) rather than failing the whole report, and its numpy overflow warnings stay
    quiet. Every figure made on the way is closed, drawn or not.
    """
    plt = _plt()
    before = set(plt.get_fignums())
    try:
        with quiet():
            made = make()
            return [to_svg(fig) for fig in (made if isinstance(made, list) else [made])]
    except (ValueError, ArithmeticError):  # numpy.linalg.LinAlgError is a ValueError
        return None
    finally:
        for number in set(plt.get_fignums()) - before:
            plt.close(number)


def to_png(fig: Any, path: str) -> None:
    """Save the figure as PNG, atomically (a full disk leaves no half picture), and close it."""
    from hwprof.core.snapshot_io import atomic_write_bytes

    plt = _plt()
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
