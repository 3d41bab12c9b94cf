"""Charts the board knows: the SPC chart of a series with next quarter's forecast fan, small multiples,
and the seasonal picture. Pure functions from frames to matplotlib Figures; saving is separate.

Colours follow Making Data Count (shared/spc/SPC.md section 6); markers differ by point type as well,
so that the charts read in greyscale. Every drawn element has a ``gid`` (``mean-0``, ``ucl-0``,
``forecast-mean``, ``band-80``, ...) so that tests and other tools can find it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import matplotlib.dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter
import numpy as np
import pandas as pd

from forecast.data import ALL_AREAS
from forecast.errors import OutputError
from forecast.files import file_stems
from forecast.control.xmr import fmt, measure_name

COLOURS = {"common_cause": "#a6a6a6", "special_cause_improvement": "#00b0f0", "special_cause_concern": "#e46c0a",
           "special_cause_neutral_high": "#490092", "special_cause_neutral_low": "#490092", "ignored": "#d9d9d9"}
MARKERS = {"common_cause": "o", "special_cause_improvement": "^", "special_cause_concern": "s",
           "special_cause_neutral_high": "D", "special_cause_neutral_low": "D", "ignored": "x"}
LABELS = {"common_cause": "common cause", "special_cause_improvement": "improvement",
          "special_cause_concern": "concern", "special_cause_neutral_high": "special cause (high)",
          "special_cause_neutral_low": "special cause (low)", "ignored": "ignored"}
ICONS = {"common_cause": ("#a6a6a6", "~"), "improvement_high": ("#00b0f0", "H"), "improvement_low": ("#00b0f0", "L"),
         "concern_high": ("#e46c0a", "H"), "concern_low": ("#e46c0a", "L"), "neutral_high": ("#490092", "H"),
         "neutral_low": ("#490092", "L")}
ICON_WORDS = {"common_cause": "common cause variation", "improvement_high": "improvement, high",
              "improvement_low": "improvement, low", "concern_high": "concern, high", "concern_low": "concern, low",
              "neutral_high": "special cause, high", "neutral_low": "special cause, low"}
FORECAST = "#1f5fa8"
DPI = 150
#: step-change labels closer than this many months alternate rows
LABEL_MONTHS = 10


def figure(**kwargs) -> Figure:
    """A figure on its own Agg canvas, owned by no pyplot state: drawing a chart neither switches the caller's
    backend nor keeps the figure alive in a global list, and it still draws, saves and shows in a notebook."""
    fig = Figure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], layout: str | None = None, **kwargs):
    """A figure (:func:`figure`) and its axes, as ``pyplot.subplots`` gives them."""
    fig = figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def plain(text: str) -> str:
    """A label shown exactly as written: a name with dollar signs is not mathematics to matplotlib."""
    return str(text).replace("$", r"\$")


def _x(months) -> np.ndarray:
    """Months as matplotlib dates (the middle of each month would hide step boundaries; use the first day)."""
    return pd.PeriodIndex(months, freq="M").to_timestamp().to_numpy()


def month_axis(ax) -> None:
    """Ticks that read as months: 'Jan 2016' at each year, the quarters' months between."""
    ax.xaxis.set_major_locator(mdates.YearLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
    ax.xaxis.set_minor_locator(mdates.MonthLocator(bymonth=(4, 7, 10)))


def carry_limits(ax, points: pd.DataFrame, until: pd.Period, compact: bool = False) -> None:
    """The current process's average and limits carried on through the forecast months, to the end of ``until``
    (fainter), so that one can see whether the forecast stays inside them."""
    last = points.iloc[-1]
    xs = _x([last["month"] + 1, until + 1])
    for col, style, colour in (("mean", "-", "#000000"), ("ucl", "--", "#7f7f7f"), ("lcl", "--", "#7f7f7f")):
        value = float(last[col])
        if np.isfinite(value):
            ax.plot(xs, [value, value], ls=style, color=colour, lw=1, alpha=0.45, zorder=3, gid=f"{col}-ahead",
                    label="current average and limits, carried on" if col == "mean" and not compact else None)


def processes_of(points: pd.DataFrame) -> list[pd.DataFrame]:
    """The points of each process, from the ``process`` column (or from changes of the average)."""
    if "process" in points:
        key = points["process"]
    else:
        key = (points["mean"].ffill().diff().fillna(0) != 0).cumsum()
    return [group for _, group in points.groupby(key, sort=True)]


def step_changes_of(points: pd.DataFrame) -> list[dict]:
    """Old and new averages at each process boundary, as drawn on the chart."""
    out = []
    # a seasonally adjusted process has one average, on the adjusted scale
    procs = processes_of(adjusted_points(points) if "factor" in points else points)
    for old, new in zip(procs, procs[1:]):
        old_mean, new_mean = float(old["mean"].iloc[0]), float(new["mean"].iloc[0])
        pct = (new_mean - old_mean) / old_mean * 100 if old_mean else float("nan")
        declared = new["declared"].iloc[0] if "declared" in new else None
        out.append({"month": pd.Period(new["month"].iloc[0], "M"), "old_mean": old_mean, "new_mean": new_mean,
                    "pct_change": pct,
                    "declared": pd.Period(str(declared), "M") if isinstance(declared, str) and declared else None})
    return out


#: months of history a chart shows by default (the forecast's months come on top); None shows them all
HISTORY = 36


def recent(points: pd.DataFrame, months: int | None = HISTORY) -> pd.DataFrame:
    """The last ``months`` months of a series' SPC points (all of them when ``months`` is None)."""
    return points if months is None or len(points) <= months else points.iloc[-months:].reset_index(drop=True)


def draw_spc(ax, points: pd.DataFrame, forecast: pd.DataFrame | None = None, compact: bool = False,
             history: int | None = HISTORY) -> int:
    """Draw one series' SPC chart (and forecast fan) on ``ax``: the last ``history`` months (None: all of them),
    counts from zero up, step-change labels above the plot so that no point or line covers them. Returns the
    rows of labels drawn above the plot."""
    points = recent(points, history).copy()
    points["month"] = pd.PeriodIndex(points["month"].astype(str), freq="M")
    x = _x(points["month"])
    ax.plot(x, points["count"], color="#a6a6a6", lw=1, zorder=2, gid="values")
    for k, proc in enumerate(processes_of(points)):
        px = _x(proc["month"])
        end = _x([proc["month"].iloc[-1] + 1])[0]
        xs = np.r_[px, end]
        for col, style, colour in (("mean", "-", "#000000"), ("ucl", "--", "#7f7f7f"), ("lcl", "--", "#7f7f7f")):
            # month by month: flat for a process, following the season when seasonally adjusted limits are
            # carried back onto the counts
            value = proc[col].to_numpy(dtype=float)
            if np.isfinite(value).any():
                name = {"mean": "process average", "ucl": "control limits"}.get(col) if k == 0 and not compact else None
                ax.plot(xs, np.r_[value, value[-1]], ls=style, color=colour, lw=1.3 if col == "mean" else 1,
                        drawstyle="steps-post", zorder=3, gid=f"{col}-{k}", label=name)
    for kind, group in points.groupby("point_type"):
        if compact and kind == "common_cause":
            continue
        ax.scatter(_x(group["month"]), group["count"], s=14 if compact else 26, color=COLOURS.get(kind, "#a6a6a6"),
                   marker=MARKERS.get(kind, "o"), edgecolor="white", linewidth=0.4, zorder=6,
                   label=LABELS.get(kind, kind), gid=f"points-{kind}")
    previous, row, rows = None, 0, 0
    # a label is about an eighth of the plot wide: labels closer than that take turns between three rows
    close = max(LABEL_MONTHS, len(points) // 8)
    for i, sc in enumerate(step_changes_of(points)):
        sx = _x([sc["month"]])[0]
        ax.axvline(sx, color="#000000", ls=":", lw=0.8, zorder=1, gid=f"step-{sc['month']}",
                   label="step change (new process starts)" if i == 0 and not compact else None)
        if sc["declared"] is not None and not compact:
            ax.plot([_x([sc["declared"]])[0]], [1.0], marker="v", ms=6, color="#000000", clip_on=False, ls="none",
                    transform=ax.get_xaxis_transform(), zorder=7, gid=f"declared-{sc['declared']}",
                    label="step change declared (the run's 8th month)" if i == 0 else None)
        if not compact:
            row = (row + 1) % 3 if previous is not None and (sc["month"] - previous).n < close else 0
            rows = max(rows, row + 1)
            previous = sc["month"]
            pct = f" ({sc['pct_change']:+.0f}%)" if np.isfinite(sc["pct_change"]) else ""
            ax.annotate(f"{fmt(sc['old_mean'])}\u2192{fmt(sc['new_mean'])}{pct}", (sx, 1.0),
                        xycoords=("data", "axes fraction"), xytext=(0, 2 + 10 * row), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7, color="#000000", annotation_clip=False,
                        gid=f"note-{sc['month']}")
    if forecast is not None and len(forecast):
        ahead = pd.PeriodIndex(pd.Index(forecast.index if "month" not in forecast else forecast["month"]).astype(str),
                               freq="M")
        fx = _x(ahead)
        joined = np.r_[x[-1:], fx]
        last = float(points["count"].iloc[-1])
        means = forecast["mean"].to_numpy(float)
        for level, alpha in ((95, 0.18), (80, 0.32)):
            lo, hi = forecast[f"lo_{level}"].to_numpy(float), forecast[f"hi_{level}"].to_numpy(float)
            ax.fill_between(fx, lo, hi, color=FORECAST, alpha=alpha, lw=0, zorder=1, gid=f"band-{level}",
                            label=None if compact else f"{level}% interval")
        # the line leaves the last actual month, which keeps its own marker and colour: the forecast's are hollow
        ax.plot(joined, np.r_[last, means], color=FORECAST, ls="--", lw=1.5, zorder=4, gid="forecast-line")
        ax.plot(fx, means, ls="none", marker="o", ms=4.5 if not compact else 3, mfc="white", mec=FORECAST, mew=1.3,
                zorder=5, gid="forecast-mean", label=None if compact else "forecast (mean)")
        if "factor" not in points:
            carry_limits(ax, points, ahead[-1], compact)
        if not compact:
            for i, (fxi, value) in enumerate(zip(fx, means)):
                ax.annotate(fmt(value), (fxi, value), xytext=(0, 8), textcoords="offset points", ha="center",
                            fontsize=7, color=FORECAST, zorder=8, gid=f"forecast-value-{i}",
                            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 0.5})
        if not compact:
            ax.axvspan(fx[0] - np.timedelta64(15, "D"), fx[-1] + np.timedelta64(15, "D"), color="#eef3fa", zorder=0,
                       gid="forecast-zone")
    ax.set_ylim(bottom=0)
    # whole numbers, never an offset or a power of ten above the axis, so that a title is placed at the top of the
    # plot without measuring what is above it (set_title(y=1.0): the measuring was 5-8% of a chart's cost)
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.grid(axis="y", color="#eeeeee", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    return rows


def draw_icon(ax, icon: str) -> None:
    colour, letter = ICONS.get(icon, ICONS["common_cause"])
    ax.text(0.985, 0.96, letter, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="white",
            fontweight="bold", bbox={"boxstyle": "circle,pad=0.35", "fc": colour, "ec": "none"}, gid=f"icon-{icon}")


def spc_chart(points: pd.DataFrame, forecast: pd.DataFrame | None = None, *, title: str = "", status: str = "",
              icon: str = "common_cause", caption: str = "", ylabel: str = "Recorded crimes per month",
              history: int | None = HISTORY) -> Figure:
    """The SPC overlay chart of one series, with its forecast fan, icon, title and caption; the legend sits
    outside the plot, to its right."""
    adjusted = "adjusted" in points
    fig, axes = subplots(2 if adjusted else 1, 1, figsize=(10, 7.4 if adjusted else 4.4), layout="constrained",
                             sharex=True, squeeze=False, height_ratios=(3, 2) if adjusted else None)
    ax = axes[0, 0]
    rows = draw_spc(ax, points, forecast, history=history)
    draw_icon(ax, icon)
    ax.set_title(plain(f"{title}: {status}" if status else title), loc="left", fontsize=11, pad=6 + 10 * rows, y=1.0)
    ax.set_ylabel(ylabel)
    if adjusted:
        below = axes[1, 0]
        draw_spc(below, adjusted_points(points), history=history, compact=True)
        below.set_title("Seasonally adjusted, what the SPC rules see (counts / seasonal factor); above, the "
                        "average and limits carried back onto the counts follow the season", loc="left", fontsize=8,
                        y=1.0)
        below.set_ylabel("Adjusted per month")
    month_axis(axes[-1, 0])
    for each in axes.flat:
        each.xaxis.set_label_coords(0.5, 0.0)
    colour, letter = ICONS.get(icon, ICONS["common_cause"])
    ax.plot([], [], ls="none", marker="o", ms=9, color=colour, label=f"icon {letter}: {ICON_WORDS.get(icon, icon)}")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize=7, frameon=False)
    if caption:
        fig.text(0.01, 0.005, plain(caption), fontsize=7, color="#555555", ha="left", va="bottom")
        fig.get_layout_engine().set(h_pad=0.25)
    return fig


def adjusted_points(points: pd.DataFrame) -> pd.DataFrame:
    """A seasonally adjusted series' points on the adjusted scale: what the rules saw, with flat limits."""
    factor = points["factor"]
    return points.assign(count=points["adjusted"], mean=points["mean"] / factor, lcl=points["lcl"] / factor,
                         ucl=points["ucl"] / factor).drop(columns=["adjusted", "factor"])


#: small multiples drawn at most (12 rows of 5)
MAX_MULTIPLES = 60


def small_multiples(panels: Sequence[tuple[str, pd.DataFrame, pd.DataFrame | None]], *, title: str = "",
                    sharey: bool = False, caption: str = "", ncols: int = 5, history: int | None = HISTORY,
                    total: int | None = None) -> Figure:
    """One compact SPC chart per (label, points, forecast): a crime type across areas, or an area across types,
    over the same window of months as the single charts; the first MAX_MULTIPLES of more, said in the title
    (past a page, nobody reads them, and matplotlib's shared axes cost grows with the square of their number:
    694 took over 9 minutes). ``total``: how many there are, when ``panels`` are the first of them."""
    total = max(total or 0, len(panels))
    if total > MAX_MULTIPLES:
        title = f"{title} (the first {MAX_MULTIPLES} of {total}, in the table's order)"
        panels = panels[:MAX_MULTIPLES]
    n = len(panels)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    # the x axes are joined once every panel is drawn: shared while drawing, each plot call rescaled all of them,
    # and a page of 60 cost about 30% more (bench_charts.py)
    fig, axes = subplots(nrows, ncols, figsize=(2.6 * ncols, 1.9 * nrows + 0.6), sharey=sharey, squeeze=False)
    fig.subplots_adjust(left=0.04, right=0.99, top=1 - 0.8 / fig.get_figheight(), bottom=0.45 / fig.get_figheight(),
                        hspace=0.35, wspace=0.22)
    for ax, (label, points, forecast) in zip(axes.flat, panels):
        draw_spc(ax, points, forecast, compact=True, history=history)
        ax.set_title(plain(label), fontsize=8, loc="left", y=1.0)
        ax.tick_params(labelsize=6)
        ax.xaxis.set_label_coords(0.5, 0.0)
        ax.yaxis.set_label_coords(0.0, 0.5)
    for ax in axes.flat[1:]:
        ax.sharex(axes.flat[0])
    for ax in axes[:-1].flat:
        ax.tick_params(axis="x", which="both", labelbottom=False)
    axes.flat[0].autoscale_view(scaley=False)
    years = axes.flat[0].xaxis
    years.set_major_locator(mdates.YearLocator(1 if history and history <= 72 else 2))
    years.set_major_formatter(mdates.DateFormatter("%Y"))
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(plain(title), x=0.01, ha="left", fontsize=11)
    if caption:
        fig.text(0.01, 0.002, plain(caption), fontsize=7, color="#555555", ha="left", va="bottom")
    return fig


def seasonality_chart(components: pd.DataFrame, indices: pd.DataFrame, *, title: str = "") -> Figure:
    """STL components (observed, trend, seasonal, remainder) and the seasonal index by calendar month."""
    fig = figure(figsize=(9, 6.5), layout="constrained")
    grid = fig.add_gridspec(4, 2, width_ratios=(2.2, 1))
    x = _x(components.index if "month" not in components else components["month"])
    for i, (col, label) in enumerate((("observed", "observed"), ("trend", "trend"), ("seasonal", "seasonal"),
                                      ("resid", "remainder"))):
        ax = fig.add_subplot(grid[i, 0])
        style = {"marker": ".", "ls": "none"} if col == "resid" else {}
        ax.plot(x, components[col], color="#1f1f1f" if col != "seasonal" else FORECAST, lw=1, gid=f"stl-{col}", **style)
        if col == "resid":
            ax.axhline(0, color="#a6a6a6", lw=0.8)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    ax = fig.add_subplot(grid[:, 1])
    colours = np.where(indices["index"] >= 100, "#e46c0a", "#00b0f0")
    ax.barh(indices["month"][::-1], indices["index"][::-1] - 100, left=100, color=colours[::-1], gid="season-index")
    ax.axvline(100, color="#000000", lw=0.8)
    ax.set_xlabel("seasonal index (100 = average month)", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.suptitle(plain(title), x=0.01, ha="left", fontsize=11)
    return fig


def save(fig: Figure, path: str | Path, svg: bool = False) -> list[Path]:
    """Save a figure as PNG at 150 dpi (and SVG on request), atomically; closes the figure."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise OutputError(f"{path}: a chart is written as PNG; give a file name ending in .png")
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in (".png", ".svg") if svg else (".png",):
        target = path.with_suffix(suffix)
        tmp = target.with_name(f".{target.stem}.tmp{suffix}")
        if suffix == ".png":
            _save_png(fig, tmp)
        else:
            fig.savefig(tmp)
        tmp.replace(target)
        written.append(target)
    return written


def _save_png(fig: Figure, path: Path) -> None:
    """PNG at 150 dpi, reduced to a 256-colour palette with Pillow (matplotlib's own image library):
    charts of flat colours lose nothing visible and the embedded report is 3-4 times smaller. Pillow takes the
    rendered pixels as they are, not a PNG to decode again; its fast octree palette took a sixth of the time of
    median cut with a zlib search, for a smaller file.

    The figure is drawn once, by Agg: ``savefig`` draws a figure with a layout engine twice (once unrendered, to
    place the layout, then again), and the first pass was about a tenth of a series chart's cost. The pixels are
    those ``savefig(dpi=DPI)`` gives at matplotlib's default savefig settings (``tests/test_plots.py``); a chart is
    saved as drawn, whatever a session sets for savefig's colours or cropping. The figure keeps its dpi and
    canvas."""
    from PIL import Image

    canvas, dpi = fig.canvas, fig.dpi
    agg = canvas if isinstance(canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    fig.dpi = DPI
    try:
        FigureCanvasAgg.draw(agg)
        image = Image.frombuffer("RGBA", agg.get_width_height(physical=True), agg.buffer_rgba(), "raw", "RGBA", 0, 1)
        image.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).save(path, format="PNG", dpi=(DPI, DPI))
    finally:
        fig.dpi = dpi
        if agg is not canvas:
            fig.set_canvas(canvas)


def caption(source: str, last_month, model: str | None = None, reconciliation: str = "none") -> str:
    text = f"Source: {source}. Last month {last_month}. XmR limits; 8 months on one side of the average = step change."
    if model:
        text += f" Forecast: {model}, 80% and 95% intervals"
        text += f", reconciled {reconciliation} with the other areas." if reconciliation not in ("none", "nan") else "."
    return text


def series_points(points: pd.DataFrame, crime_type: str, area: str) -> pd.DataFrame:
    """One series' rows of a tidy SPC points frame (spc.csv)."""
    return _points(points[(points["crime_type"] == crime_type) & (points["area"] == area)])


def _points(rows: pd.DataFrame) -> pd.DataFrame:
    if "adjusted" in rows and rows["adjusted"].isna().all():  # analysed raw in a seasonally adjusted run
        rows = rows.drop(columns=["adjusted", "factor"])
    return rows.reset_index(drop=True)


def forecast_of(forecasts: pd.DataFrame, crime_type: str, area: str) -> pd.DataFrame:
    return _forecast(forecasts[(forecasts["crime_type"] == crime_type) & (forecasts["area"] == area)])


FORECAST_COLUMNS = ("mean", "lo_80", "hi_80", "lo_95", "hi_95")


def _forecast(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.set_index("month")[list(FORECAST_COLUMNS)]


def _by_series(frame: pd.DataFrame) -> Callable[[str, str], pd.DataFrame]:
    """A tidy frame's rows of one series, from one grouping and one reordering: a crime type's charts asked a mask
    of the whole frame for each series, which grew with the square of the number of series, and then a list of
    rows each, a gather of every text column (Arrow's take, a millisecond a column); a series' rows are now a
    slice of the frame reordered once."""
    groups = frame.groupby(["crime_type", "area"], sort=False).indices
    ordered = frame.take(np.concatenate(list(groups.values()))) if groups else frame
    ends = np.cumsum([len(rows) for rows in groups.values()])
    bounds = {key: (end - len(rows), end) for (key, rows), end in zip(groups.items(), ends)}
    return lambda crime_type, area: ordered.iloc[slice(*bounds.get((crime_type, area), (0, 0)))]


def outlook_words(row: dict, short: bool = False) -> str:
    """The step-change outlook of a summary row as a chart title says it: 'step change down likely next quarter
    (0.71)', or ('P step down 0.71') in a small multiple; empty when no step change is expected."""
    from forecast.engine.outlook import LIKELY, POSSIBLE

    up, down = row.get("p_step_up", np.nan), row.get("p_step_down", np.nan)
    if not (np.isfinite(up) and np.isfinite(down)) or up + down < POSSIBLE:
        return ""
    way, p = ("up", up) if up >= down else ("down", down)
    if short:
        return f"P step {way} {p:.2f}"
    return f"step change {way} {'likely' if p >= LIKELY else 'possible'} next quarter ({p:.2f})"


FORCE_TOTAL = "force total"


def series_chart(row: dict, p: pd.DataFrame, f: pd.DataFrame, source: str, history: int | None = HISTORY) -> Figure:
    """A run's chart of one series: its SPC points (``p``, spc.csv's rows), forecast (``f``) and summary ``row``."""
    status = "; ".join(filter(None, (row["status"], outlook_words(row))))
    return spc_chart(p, f, title=measure_name(row["crime_type"], row["area"]), status=status,
                     icon=row.get("icon", "common_cause"),
                     caption=caption(source, row["last_month"], row["model"], str(row.get("reconciliation", "none"))),
                     history=history)


def _series_chart(row: dict, p: pd.DataFrame, f: pd.DataFrame, path: Path, source: str, svg: bool,
                  history: int | None) -> Path:
    return save(series_chart(row, p, f, source, history), path, svg)[0]


def crime_charts(summary: pd.DataFrame, points: pd.DataFrame, forecasts: pd.DataFrame, out_dir: str | Path,
                 source: str, svg: bool = False, n_jobs: int | None = None,
                 history: int | None = HISTORY, areas: Sequence[str] | None = None) -> dict[str, Path]:
    """The SPC chart of every series, or of the ``areas`` given (rendered in parallel processes), plus the small
    multiples of every series, each showing the last ``history`` months (None: the whole history) and the
    forecast; paths by area."""
    import os

    from joblib import Parallel, delayed

    out_dir = Path(out_dir)
    rows = summary.to_dict(orient="records")
    points_of = _by_series(points)
    forecast_rows = _by_series(forecasts.set_index("month")[["crime_type", "area", *FORECAST_COLUMNS]])
    made: dict[str, tuple[str, pd.DataFrame, pd.DataFrame]] = {}

    def panel(r: dict) -> tuple[str, pd.DataFrame, pd.DataFrame]:
        if r["area"] not in made:
            made[r["area"]] = (" - ".join(filter(None, (FORCE_TOTAL if r["area"] == ALL_AREAS else r["area"],
                                                        outlook_words(r, short=True)))),
                               _points(points_of(r["crime_type"], r["area"])),
                               forecast_rows(r["crime_type"], r["area"])[list(FORECAST_COLUMNS)])
        return made[r["area"]]

    crime = summary["crime_type"].iloc[0]
    # worker processes may be reused from earlier calls made in another working directory: give them full paths
    target = out_dir.absolute()
    jobs = [delayed(_multiples_chart)([panel(r) for r in rows[:MAX_MULTIPLES]], f"{crime}: every area, with next "
                                      "quarter's forecast", caption(source, summary["last_month"].iloc[0]),
                                      target / "small-multiples.png", svg, history, len(rows))]
    stems = file_stems(r["area"] for r in rows)
    drawn = [(r, *panel(r)[1:]) for r in rows if areas is None or r["area"] in areas]
    jobs += [delayed(_series_chart)(r, p, f, target / f"{stems[r['area']]}.png", source, svg, history)
             for r, p, f in drawn]
    n_jobs = n_jobs or min(os.cpu_count() or 1, max(1, len(jobs) // 4))
    done = Parallel(n_jobs=n_jobs)(jobs) if n_jobs > 1 else [job[0](*job[1], **job[2]) for job in jobs]
    done = [out_dir / path.relative_to(target) for path in done]
    return {**dict(zip([r["area"] for r, _, _ in drawn], done[1:])), "small multiples": done[0]}


def _multiples_chart(panels, title: str, text: str, path: Path, svg: bool, history: int | None, total: int) -> Path:
    return save(small_multiples(panels, title=title, caption=text, history=history, total=total), path, svg)[0]



PAST_WINTERS = ("#bdbdbd", "#8c8c8c", "#525252")


def winter_chart(past: Sequence[tuple[str, pd.Series]], months: pd.DataFrame, total: dict, *, title: str = "",
                 caption: str = "") -> Figure:
    """The winter being planned against the last winters: on the left month by month (past winters as grey lines,
    this winter's recorded months solid, its forecast months with the 80% and 95% fans of the sample paths), on
    the right the winter totals, the forecast one with its intervals of the total (from the paths' sums).

    ``past``: (label, counts over the winter's months) oldest first; ``months``: this winter's months with
    ``kind`` (recorded or forecast), ``mean`` and bounds; ``total``: the forecast total and its bounds."""
    fig, (ax, bars) = subplots(1, 2, figsize=(10, 4.2), width_ratios=(2.3, 1), layout="constrained")
    labels = [pd.Period(m, freq="M").strftime("%b") for m in months["month"]]
    x = np.arange(len(labels))
    for (label, values), colour in zip(past, PAST_WINTERS[-len(past):] if past else ()):
        ax.plot(x, values.to_numpy(dtype=float), color=colour, lw=1.4, marker="o", ms=3, label=label,
                gid=f"winter-{label}")
    recorded = (months["kind"] == "recorded").to_numpy()
    ahead = ~recorded
    start = max(int(recorded.sum()) - 1, 0)
    fan = slice(start, len(x)) if recorded.any() else slice(0, len(x))
    for level, alpha in ((95, 0.15), (80, 0.3)):
        ax.fill_between(x[fan], months[f"lo_{level}"].to_numpy()[fan], months[f"hi_{level}"].to_numpy()[fan],
                        color=FORECAST, alpha=alpha, lw=0, label=f"{level}% interval", gid=f"band-{level}")
    if recorded.any():
        ax.plot(x[recorded], months["mean"].to_numpy()[recorded], color="#1f1f1f", lw=2, marker="o", ms=4,
                label="this winter, recorded", gid="winter-recorded")
    ax.plot(x[fan], months["mean"].to_numpy()[fan], color=FORECAST, lw=2, ls="--", marker="o", ms=3,
            markevery=[i - fan.start for i in np.flatnonzero(ahead) if i >= fan.start], label="forecast",
            gid="forecast-mean")
    ax.set_xticks(x, labels)
    ax.set_ylabel("Recorded crimes per month")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color="#eeeeee", lw=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, loc="lower left", ncols=2)
    names = [label for label, _ in past] + ["this winter"]
    heights = [float(values.sum()) for _, values in past] + [total["total"]]
    colours = list(PAST_WINTERS[-len(past):] if past else ()) + [FORECAST]
    bars.bar(np.arange(len(names)), heights, color=colours, width=0.65, gid="winter-totals")
    i = len(names) - 1
    for level, width in ((95, 1.0), (80, 3.0)):
        bars.vlines(i, total[f"lo_{level}"], total[f"hi_{level}"], color="#1f1f1f", lw=width, gid=f"total-{level}")
    top = max(max(heights), total["hi_95"]) * 1.08
    for j, h in enumerate(heights):
        label = fmt(h)
        bars.text(j, top * 0.03, label, ha="center", va="bottom", fontsize=7 if len(label) <= 5 else 6,
                  rotation=0 if len(label) <= 7 else 90, color="white", fontweight="bold")
    bars.set_xticks(np.arange(len(names)), names, fontsize=7)
    bars.set_title("Winter total (forecast: 80% and 95%)", fontsize=8, loc="left")
    bars.set_ylim(0, top)
    bars.spines[["top", "right"]].set_visible(False)
    bars.tick_params(axis="y", labelsize=7)
    for axis in (ax.yaxis, bars.yaxis):
        axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    fig.suptitle(plain(title), x=0.01, ha="left", fontsize=11)
    if caption:
        fig.get_layout_engine().set(h_pad=0.2)
        fig.text(0.01, 0.002, plain(caption), fontsize=7, color="#555555", ha="left", va="bottom")
    return fig


def comparison_chart(summary: pd.DataFrame, published: str, title: str):
    """The backtest at a glance for a run's MLflow page: mean MASE per model (the published one in the forecast
    colour, the seasonal naive baseline's level dashed) and how often its 80% and 95% intervals held, beside the
    nominal levels. A pyplot-free Figure, so that it can be drawn in the thread that records the run."""
    frame = summary.dropna(subset=["mase"]).sort_values("mase", ascending=False)
    fig = figure(figsize=(8, 0.35 * len(frame) + 1.6), layout="constrained")
    mase, cover = fig.subplots(1, 2, width_ratios=(1.4, 1), sharey=True)
    y = np.arange(len(frame))
    colours = [FORECAST if m == published else "#8c8c8c" for m in frame["model"]]
    mase.barh(y, frame["mase"], color=colours, height=0.6, gid="mase")
    for yi, value in zip(y, frame["mase"]):
        mase.text(value, yi, f" {value:.3f}", va="center", fontsize=7)
    if (frame["model"] == "snaive").any():
        mase.axvline(float(frame.loc[frame["model"] == "snaive", "mase"].iloc[0]), color="#525252", ls="--", lw=0.8,
                     label="seasonal naive (baseline)")
        mase.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    mase.set_yticks(y, frame["model"], fontsize=8)
    mase.set_xlabel("mean MASE (lower is better)", fontsize=8)
    mase.set_xlim(0, float(frame["mase"].max()) * 1.25)
    for level, marker in ((80, "o"), (95, "s")):
        column = f"coverage_{level}"
        cover.scatter(frame[column] * 100, y, marker=marker, color=colours, s=22, label=f"{level}% interval",
                      gid=f"coverage-{level}")
        cover.axvline(level, color="#bdbdbd", lw=0.8)
    held = frame[["coverage_80", "coverage_95"]].to_numpy(dtype=float) * 100
    lowest = float(np.nanmin(held)) if np.isfinite(held).any() else 50.0
    cover.set_xlim(min(50.0, np.floor(lowest / 10) * 10), 100)
    cover.set_xlabel("% of actual counts inside the interval", fontsize=8)
    cover.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2)
    for ax in (mase, cover):
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=7)
    fig.suptitle(plain(title), x=0.01, ha="left", fontsize=10)
    return fig


HOME = "#1f5fa8"
PEER = "#a6a6a6"


def spread(values: Sequence[float], gap: float) -> list[float]:
    """Label heights at least ``gap`` apart, each as near its value as that allows (order kept)."""
    order = np.argsort(values)
    placed = np.asarray(values, dtype=float)[order].copy()
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + gap)
    shift = (placed - np.asarray(values, dtype=float)[order]).mean()
    placed -= shift / 2
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + gap)
    out = np.empty_like(placed)
    out[order] = placed
    return out.tolist()


def peer_chart(monthly: pd.DataFrame, home: str, *, title: str, ylabel: str, caption: str = "") -> Figure:
    """Monthly rates of a force (highlighted) and its peers (grey), with the group average dashed; every line in
    the legend, each force named at its last month (names spread so that none overlaps)."""
    fig, ax = subplots(figsize=(10, 4.6), layout="constrained")
    wide = monthly.pivot(index="month", columns="unit", values="rate").sort_index()
    x = _x(wide.index)
    for unit in wide.columns:
        if unit != home:
            ax.plot(x, wide[unit], color=PEER, linewidth=1, gid=f"peer-{unit}", label="_nolegend_")
    ax.plot([], [], color=PEER, linewidth=1, label="peers (named at right)")
    average = monthly.drop_duplicates("month").set_index("month")["group_average"].reindex(wide.index)
    ax.plot(x, average, color="black", linestyle="--", linewidth=1.2, gid="group-average", label="group average")
    ax.plot(x, wide[home], color=HOME, linewidth=2.4, gid="home", label=plain(home))
    ax.set_ylim(bottom=0)
    last = wide.iloc[-1]
    heights = spread(last.tolist(), 0.045 * ax.get_ylim()[1])
    for (unit, value), height in zip(last.items(), heights):
        mine = unit == home
        ax.annotate(plain(unit), (x[-1], value), xytext=(x[-1], height), textcoords="data", fontsize=8 if mine else 7,
                    color=HOME if mine else "#777777", fontweight="bold" if mine else "normal", va="center",
                    ha="left", annotation_clip=False)
    month_axis(ax)
    ax.set_ylabel(ylabel)
    ax.set_title(plain(title), loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside right upper", fontsize=7, frameon=False)
    if caption:
        fig.text(0.01, 0.005, plain(caption), fontsize=7, color="#555555", ha="left", va="bottom")
        fig.get_layout_engine().set(h_pad=0.25)
    return fig


def rate_bars(table: pd.DataFrame, overall: float, *, title: str, xlabel: str, caption: str = "") -> Figure:
    """Areas ranked by their rate, highest at the top, each bar labelled, the force's rate as a dashed line."""
    rows = table.sort_values("rate")
    fig, ax = subplots(figsize=(9, max(3.0, 0.26 * len(rows) + 1.2)), layout="constrained")
    bars = ax.barh([plain(u) for u in rows["unit"]], rows["rate"], color=PEER, gid="rates")
    ax.bar_label(bars, labels=[f"{r:.1f}" if r >= 10 else f"{r:.2f}" for r in rows["rate"]], padding=3, fontsize=7,
                 bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.4})
    ax.axvline(overall, color="black", linestyle="--", linewidth=1.2, gid="overall", zorder=0,
               label=f"the areas together: {overall:.1f}" if overall >= 10 else f"the areas together: {overall:.2f}")
    ax.set_xlabel(xlabel)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(plain(title), loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    if caption:
        fig.text(0.01, 0.005, plain(caption), fontsize=7, color="#555555", ha="left", va="bottom")
    return fig


def proportion_points(result) -> pd.DataFrame:
    """A proportion's SPC (:class:`forecast.control.proportions.ProportionResult`) as the points an SPC chart
    draws, in percent (a rate per 1,000 as it is): each month's value, its process's centre and its own limits
    (a p-chart's move with each month's sample), the point type by the measure's improvement direction, and the
    month each process was declared."""
    from forecast.control.xmr import point_type

    points = result.points
    declared = {int(k): str(d) for k, d in zip(range(1, len(result.step_changes) + 1), result.step_changes["detected"])}
    rules = points["rule"].replace({"Common cause": "Common Cause"})
    scale = result.scale
    return pd.DataFrame({"month": points["month"], "count": scale * points["p"], "process": points["process"],
                         "declared": points["process"].map(declared), "mean": scale * points["mean"],
                         "lcl": scale * points["lcl"], "ucl": scale * points["ucl"],
                         "point_type": [point_type(r, result.improvement) for r in rules]})


def proportion_chart(results: Sequence, *, history: int | None = HISTORY) -> Figure:
    """One proportion's p (or p') chart, or small multiples of several, in percent; or a rate's u (or u') chart,
    per 1,000."""
    from forecast.control.proportions import CHARTS
    from forecast.control.xmr import variation_icon

    unit = "%" if results[0].per is None else f"per {results[0].per:,}"
    if len(results) == 1:
        r = results[0]
        last = r.points["rule"].iloc[-1]
        size = "sample size" if r.per is None else "population"
        return spc_chart(proportion_points(r), title=f"{r.measure} in {r.area} ({CHARTS[r.chart]})", status=r.status,
                         icon=variation_icon(last if last != "Common cause" else "Common Cause", r.improvement),
                         ylabel=f"{unit} a month", history=history,
                         caption=f"Average {r.show(r.current['mean'])} in the current process; limits from each "
                                 f"month's own {size}.")
    measures = list(dict.fromkeys(r.measure for r in results))
    one = len(measures) == 1
    return small_multiples([(r.area if one else f"{r.measure}, {r.area}", proportion_points(r), None) for r in results],
                           title=f"{measures[0] if one else 'Proportions'}, {unit} a month",
                           history=history)
