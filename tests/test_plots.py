import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.dates import date2num, num2date

from forecast.io import datasets
from forecast.present import plots
from forecast.control import xmr as spc
from forecast.models import make
from forecast.control.seasonality import decompose


@pytest.fixture(scope="module")
def merton():
    y = datasets.load("met-major").series("Burglary", "Merton")
    result = spc.analyse(y, "Burglary", "Merton")
    forecast = make("theta").fit(y).predict(3)
    fig = plots.spc_chart(result.points, forecast, title="Burglary in Merton", status=result.status, icon=result.icon,
                          caption=plots.caption("met-major", result.last_month, "theta"), history=None)
    yield result, forecast, fig
    import matplotlib.pyplot as plt

    plt.close(fig)


def lines_by_gid(ax):
    return {line.get_gid(): line for line in ax.get_lines() if line.get_gid()}


def test_process_lines_equal_the_computed_averages_and_limits(merton):
    result, _, fig = merton
    lines = lines_by_gid(fig.axes[0])
    for k, proc in result.processes.iterrows():
        for col in ("mean", "ucl", "lcl"):
            ydata = np.asarray(lines[f"{col}-{k}"].get_ydata(), dtype=float)
            assert np.allclose(ydata, proc[col]), (col, k)
        xdata = pd.to_datetime(lines[f"mean-{k}"].get_xdata())
        assert xdata[0] == proc["start"].to_timestamp()
        assert xdata[-1] == (proc["end"] + 1).to_timestamp()  # each process line ends where the next begins
    assert lines["mean-0"].get_linestyle() == "-" and lines["ucl-0"].get_linestyle() == "--"


def test_step_changes_are_marked_where_the_engine_put_them(merton):
    result, _, fig = merton
    marked = sorted(gid.split("-", 1)[1] for gid in lines_by_gid(fig.axes[0]) if gid.startswith("step-"))
    assert marked == [str(m) for m in result.step_changes["month"]]
    notes = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if (t.get_gid() or "").startswith("note-")}
    assert notes["note-2018-05"] == "115\u2192133 (+15%)"


def test_forecast_fan_lies_after_the_last_observed_month(merton):
    result, forecast, fig = merton
    ax = fig.axes[0]
    line = lines_by_gid(ax)["forecast-mean"]
    assert np.allclose(np.asarray(line.get_ydata(), float), forecast["mean"].to_numpy())
    joined = lines_by_gid(ax)["forecast-line"]  # the dashed line leaves the last actual month
    assert np.asarray(joined.get_ydata(), float)[0] == result.points["count"].iloc[-1]
    last = np.datetime64(result.last_month.to_timestamp())
    bands = {c.get_gid(): c for c in ax.collections if isinstance(c, PolyCollection) and c.get_gid()}
    for level in (80, 95):
        vertices = bands[f"band-{level}"].get_paths()[0].vertices
        xs = [np.datetime64(d.replace(tzinfo=None)) for d in num2date(vertices[:, 0])]
        assert min(xs) > last
        ys = vertices[:, 1]
        assert np.isclose(ys.min(), forecast[f"lo_{level}"].min()) and np.isclose(ys.max(), forecast[f"hi_{level}"].max())


def test_the_last_actual_month_keeps_its_signal_marker_above_a_hollow_forecast(merton):
    from matplotlib.colors import to_hex

    result, forecast, fig = merton
    ax = fig.axes[0]
    last = result.points.iloc[-1]
    kind = last["point_type"]
    scatter = {c.get_gid(): c for c in ax.collections if c.get_gid()}[f"points-{kind}"]
    xs = [np.datetime64(d.replace(tzinfo=None), "D") for d in num2date(scatter.get_offsets()[:, 0])]
    assert np.datetime64(last["month"].to_timestamp(), "D") in xs
    marker = lines_by_gid(ax)["forecast-mean"]
    assert scatter.get_zorder() > marker.get_zorder() > lines_by_gid(ax)["forecast-line"].get_zorder()
    assert to_hex(marker.get_markerfacecolor()) == "#ffffff"  # hollow: a forecast, not a recorded month
    assert to_hex(marker.get_markeredgecolor()) == plots.FORECAST
    values = {t.get_gid(): t.get_text() for t in ax.texts if (t.get_gid() or "").startswith("forecast-value-")}
    assert values == {f"forecast-value-{i}": spc.fmt(v) for i, v in enumerate(forecast["mean"])}


def test_the_current_limits_are_carried_through_the_forecast_months(merton):
    result, forecast, fig = merton
    lines = lines_by_gid(fig.axes[0])
    current = result.processes.iloc[-1]
    for col in ("mean", "ucl", "lcl"):
        ahead = lines[f"{col}-ahead"]
        assert np.allclose(np.asarray(ahead.get_ydata(), float), current[col])
        xs = pd.to_datetime(ahead.get_xdata())
        assert xs[0] == (result.last_month + 1).to_timestamp()
        assert xs[-1] == (pd.Period(forecast.index[-1], "M") + 1).to_timestamp()


def test_every_marker_is_in_the_legend_and_the_ticks_name_months(merton):
    result, _, fig = merton
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    for kind in result.points["point_type"].unique():
        assert plots.LABELS[kind] in labels
    for label in ("process average", "control limits", "step change (new process starts)",
                  "step change declared (the run's 8th month)", "80% interval", "95% interval", "forecast (mean)",
                  "current average and limits, carried on", f"icon {plots.ICONS[result.icon][1]}: "
                  f"{plots.ICON_WORDS[result.icon]}"):
        assert label in labels
    fig.canvas.draw()
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert "Jan\n2016" in ticks and all(t.startswith("Jan\n") for t in ticks if t)
    declared = sorted(line.get_gid().split("-", 1)[1] for line in fig.axes[0].get_lines()
                      if (line.get_gid() or "").startswith("declared-"))
    assert declared == [str(m) for m in result.step_changes["detected"]]


def test_the_force_total_is_titled_as_such():
    assert spc.measure_name("Robbery", "All areas") == "Robbery (force total)"  # the charts' titles
    assert spc.measure_name("Robbery", "Camden") == "Robbery in Camden"


def test_points_are_coloured_and_shaped_by_type(merton):
    result, _, fig = merton
    scatters = {c.get_gid(): c for c in fig.axes[0].collections if (c.get_gid() or "").startswith("points-")}
    counts = result.points["point_type"].value_counts()
    for kind, n in counts.items():
        assert len(scatters[f"points-{kind}"].get_offsets()) == n
    assert fig.axes[0].get_title(loc="left") == f"Burglary in Merton: {result.status}"
    assert any(t.get_gid() == f"icon-{result.icon}" for t in fig.axes[0].texts)


def test_small_multiples_one_axis_per_area():
    panel = datasets.load("met-major").select(crime="robbery", area="camden,westminster,merton")
    results = [spc.analyse(y, *k) for k, y in panel.iter_series()]
    fig = plots.small_multiples([(r.area, r.points, None) for r in results], title="Robbery", sharey=True,
                                history=None)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title(loc="left") for ax in visible] == ["Camden", "Merton", "Westminster"]
    for ax, r in zip(visible, results):
        assert np.allclose(lines_by_gid(ax)["mean-0"].get_ydata(), r.processes["mean"].iloc[0])


def test_seasonality_chart_draws_the_components():
    y = datasets.load("met-major").series("Burglary", "Camden")
    d = decompose(y, "Burglary", "Camden")
    fig = plots.seasonality_chart(d.components, d.indices(), title="Burglary / Camden")
    trend = next(line for ax in fig.axes for line in ax.get_lines() if line.get_gid() == "stl-trend")
    assert np.allclose(np.asarray(trend.get_ydata(), float), d.trend.to_numpy())
    bars = next(c for ax in fig.axes for c in ax.containers)
    assert len(bars) == 12


def test_save_writes_png_at_150_dpi_and_svg(tmp_path, merton):
    from PIL import Image

    _, forecast, _ = merton
    y = datasets.load("west-midlands").series("All crime", "All areas")
    r = spc.analyse(y)
    paths = plots.save(plots.spc_chart(r.points, title="West Midlands"), tmp_path / "wm.png", svg=True)
    assert [p.name for p in paths] == ["wm.png", "wm.svg"]
    with Image.open(paths[0]) as image:
        assert image.info["dpi"] == pytest.approx((150, 150), abs=0.5)
        assert image.size == (1500, 660)
    assert paths[1].read_text().startswith("<?xml")


def test_a_chart_is_drawn_once_and_saved_with_the_pixels_savefig_gives(tmp_path, monkeypatch, merton):
    import io

    from matplotlib.figure import Figure
    from PIL import Image

    result, forecast, _ = merton

    def chart():
        return plots.spc_chart(result.points, forecast, title="Burglary in Merton", status=result.status,
                               icon=result.icon, caption="a caption under the plot")

    buffer = io.BytesIO()
    chart().savefig(buffer, dpi=150, format="rgba")
    rendered = Image.frombuffer("RGBA", (1500, 660), buffer.getvalue(), "raw", "RGBA", 0, 1)
    expected = np.asarray(rendered.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE).convert("RGB"))
    draws = []
    draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, renderer: draws.append(1) or draw(self, renderer))
    fig = chart()
    plots.save(fig, tmp_path / "merton.png")
    assert len(draws) == 1 and fig.dpi == 100
    with Image.open(tmp_path / "merton.png") as image:
        assert np.array_equal(np.asarray(image.convert("RGB")), expected)
    # a caller's figure without an Agg canvas is drawn on one for the file and keeps its own
    from matplotlib.backend_bases import FigureCanvasBase

    bare = Figure(figsize=(2, 1))
    bare.add_subplot().plot([0, 1])
    plots.save(bare, tmp_path / "bare.png")
    assert type(bare.canvas) is FigureCanvasBase and bare.dpi == 100
    with Image.open(tmp_path / "bare.png") as image:
        assert image.size == (300, 150)


def test_default_window_is_the_last_36_months_and_nothing_covers_the_labels(merton):
    import matplotlib.pyplot as plt

    result, forecast, _ = merton
    fig = plots.spc_chart(result.points, forecast, title="Burglary in Merton", status=result.status)
    fig.canvas.draw()
    ax = fig.axes[0]
    values = lines_by_gid(ax)["values"]
    assert len(values.get_xdata()) == 36
    assert pd.Timestamp(values.get_xdata()[0]) == (result.last_month - 35).to_timestamp()
    assert ax.get_ylim()[0] == 0  # counts never below zero
    frame = ax.get_window_extent()
    renderer = fig.canvas.get_renderer()
    notes = [t for t in ax.texts if (t.get_gid() or "").startswith("note-")]
    assert [t.get_gid() for t in notes] == ["note-2018-05"]  # the only step change in the window
    for note in notes:
        assert note.get_window_extent(renderer).y0 >= frame.y1  # above the plot: no point or line under it
    legend = fig.legends[0].get_window_extent(renderer)
    assert legend.x0 >= frame.x1  # the legend sits beside the plot, not on the data
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:2] == ["process average", "control limits"] and "forecast (mean)" in labels
    plt.close(fig)


def test_counts_of_millions_are_labelled_whole_with_nothing_above_the_axis_under_the_title():
    import matplotlib.pyplot as plt

    months = pd.period_range("2015-01", periods=48, freq="M")
    y = pd.Series(2_000_000 + 1_000.0 * np.arange(48), index=months)
    result = spc.analyse(y, "All crime", "England and Wales")
    fig = plots.spc_chart(result.points, make("snaive").fit(y).predict(3), title="All crime", status=result.status)
    fig.canvas.draw()
    ax = fig.axes[0]
    # matplotlib's default would label 0.0 to 2.0 with "1e6" above the axis, where the title sits
    assert ax.yaxis.offsetText.get_text() == ""
    assert [t.get_text() for t in ax.get_yticklabels()][:3] == ["0", "250000", "500000"]
    renderer = fig.canvas.get_renderer()
    assert ax.title.get_window_extent(renderer).y0 >= ax.get_window_extent().y1
    plt.close(fig)


def test_close_step_change_labels_take_turns_between_two_rows():
    months = pd.period_range("2010-01", periods=60, freq="M").astype(str)
    means = np.repeat([10.0, 20.0, 30.0], [20, 5, 35])
    points = pd.DataFrame({"month": months, "count": means, "mean": means, "ucl": means + 5, "lcl": means - 5,
                           "process": np.repeat([0, 1, 2], [20, 5, 35]), "point_type": "common_cause"})
    fig = plots.spc_chart(points, history=None)
    notes = {t.get_gid(): t for t in fig.axes[0].texts if (t.get_gid() or "").startswith("note-")}
    assert notes["note-2011-09"].get_text() == "10\u219220 (+100%)"
    offsets = [notes[g].xyann[1] for g in ("note-2011-09", "note-2012-02")]
    assert offsets[1] - offsets[0] == 10  # five months apart: the second label sits a row higher
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_chart_titles_carry_the_step_change_outlook():
    row = {"p_step_up": 0.02, "p_step_down": 0.71}
    assert plots.outlook_words(row) == "step change down likely next quarter (0.71)"
    assert plots.outlook_words(row, short=True) == "P step down 0.71"
    assert plots.outlook_words({"p_step_up": 0.3, "p_step_down": 0.0}) == "step change up possible next quarter (0.30)"
    assert plots.outlook_words({"p_step_up": 0.04, "p_step_down": 0.05}) == ""
    assert plots.outlook_words({"p_step_up": np.nan, "p_step_down": np.nan}) == ""


def test_small_multiples_share_the_months_of_every_panel_and_label_them_on_the_bottom_row_only():
    panel = datasets.load("met-major").select(crime="robbery")
    results = [spc.analyse(y.iloc[-(20 + 6 * i):], *k) for i, (k, y) in enumerate(list(panel.iter_series())[:7])]
    fig = plots.small_multiples([(r.area, r.points, None) for r in results], title="Robbery", history=None)
    # the reference: the same panels drawn on axes shared from the start, as matplotlib joins them
    _, shared = plots.subplots(1, 7, figsize=(8, 2), sharex=True)
    for ax, r in zip(shared, results):
        plots.draw_spc(ax, r.points, compact=True, history=None)
    axes = fig.axes
    assert {ax.get_xlim() for ax in axes} == {shared[0].get_xlim()}
    oldest = date2num(plots._x([results[-1].points["month"].iloc[0]])[0])
    assert axes[4].get_xlim()[0] < oldest < date2num(plots._x([results[0].points["month"].iloc[0]])[0])
    fig.canvas.draw()
    labelled = [any(t.get_visible() and t.get_text() for t in ax.get_xticklabels()) for ax in axes if ax.get_visible()]
    assert labelled == [False] * 5 + [True, True]


def test_small_multiples_of_many_series_draw_the_first_page_and_say_so():
    results = spc.analyse_panel(list(datasets.load("met-minor").iter_series())[:75])
    fig = plots.small_multiples([(f"{r.crime_type} / {r.area}", r.points, None) for r in results], title="SPC")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == plots.MAX_MULTIPLES == 60
    assert visible[-1].get_title(loc="left") == f"{results[59].crime_type} / {results[59].area}"
    assert fig._suptitle.get_text() == "SPC (the first 60 of 75, in the table's order)"
    first = plots.small_multiples([(f"{r.crime_type} / {r.area}", r.points, None) for r in results[:60]], title="SPC",
                                  total=75)  # the first page sent on its own, and how many there are
    assert first._suptitle.get_text() == fig._suptitle.get_text()
    assert [ax.get_title(loc="left") for ax in first.axes] == [ax.get_title(loc="left") for ax in visible]


def test_the_rows_of_each_series_are_found_by_one_grouping_as_by_a_mask():
    frame = spc.points_frame(spc.analyse_panel(list(datasets.load("met-minor").iter_series())[:40]))
    rows_of = plots._by_series(frame)
    for crime_type, area in [("Arson", "Barking and Dagenham"), ("Arson", "Enfield"), ("Burglary", "Camden")]:
        mask = frame[(frame["crime_type"] == crime_type) & (frame["area"] == area)]
        pd.testing.assert_frame_equal(rows_of(crime_type, area), mask)
    # the ninth series of 24 months: rows 192 to 215, with their labels kept, as the mask keeps them
    assert rows_of("Arson", "Enfield").index.tolist() == list(range(192, 216))
    assert rows_of("Burglary", "Camden").empty  # not among the first 40 series
    # a series' rows need not be together: each series' rows in the frame's order, labels kept
    shuffled = frame.sample(frac=1, random_state=0)
    mask = shuffled[(shuffled["crime_type"] == "Arson") & (shuffled["area"] == "Enfield")]
    pd.testing.assert_frame_equal(plots._by_series(shuffled)("Arson", "Enfield"), mask)
    assert sorted(mask.index) == list(range(192, 216)) and mask.index.tolist() != list(range(192, 216))


def test_the_comparison_chart_draws_each_models_mase_and_coverage_with_the_published_one_marked():
    from matplotlib.colors import to_hex

    summary = pd.DataFrame({"model": ["snaive", "ets", "ensemble"], "mase": [1.2, 0.8, 0.7],
                            "coverage_80": [0.84, 0.77, 0.83], "coverage_95": [0.95, 0.91, 0.95]})
    fig = plots.comparison_chart(summary, "ensemble", "Robbery, 34 series")
    mase, cover = fig.axes
    bars = {t.get_text(): p for t, p in zip(mase.get_yticklabels(), mase.patches)}
    assert {m: round(p.get_width(), 6) for m, p in bars.items()} == {"snaive": 1.2, "ets": 0.8, "ensemble": 0.7}
    assert to_hex(bars["ensemble"].get_facecolor()) == plots.FORECAST
    assert to_hex(bars["ets"].get_facecolor()) != plots.FORECAST
    assert [line.get_xdata()[0] for line in mase.lines] == [1.2]  # the baseline's level
    held = {c.get_gid(): sorted(c.get_offsets()[:, 0].round(6)) for c in cover.collections}
    assert held == {"coverage-80": [77.0, 83.0, 84.0], "coverage-95": [91.0, 95.0, 95.0]}
    assert cover.get_xlim() == (50.0, 100.0)


def test_the_comparison_chart_leaves_out_what_was_not_scored():
    summary = pd.DataFrame({"model": ["snaive", "ets", "global"], "mase": [1.2, 0.8, np.nan],
                            "coverage_80": [np.nan, 0.34, np.nan], "coverage_95": [np.nan, 0.61, np.nan]})
    mase, cover = plots.comparison_chart(summary, "ets", "Robbery, 4 series").axes
    assert [t.get_text() for t in mase.get_yticklabels()] == ["snaive", "ets"]
    assert cover.get_xlim() == (30.0, 100.0)
