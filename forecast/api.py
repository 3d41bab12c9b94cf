"""The public Python API: everything the ``forecast`` command does, as functions over tidy pandas frames.

Each function takes a :class:`~forecast.data.Panel` (from :func:`load`) and returns a result whose parts are
tidy DataFrames; nothing is written or recorded until a result's ``publish()`` (or :func:`publish`) is called,
and importing or calling anything here leaves the host process's global state (matplotlib's backend, the
environment, MLflow's tracking URI, warning filters) as it was.

>>> import forecast as fc
>>> panel = fc.load("met-major")
>>> r = fc.run(panel, crime="robbery", areas=["Camden", "Westminster"])   # doctest: +SKIP
>>> r.forecast.head()                                                     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Sequence

import pandas as pd

from forecast.data import ALL_AREAS, ALL_CRIME, Panel, slug
from forecast.errors import SelectionError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from forecast.control.xmr import SPCOptions, SPCResult
    from forecast.jobs.run import RunDigest, RunResult
    from forecast.jobs.winter import WinterPlan
    from forecast.record.publish import Published

#: what a progress callback is given: the finished series (it has ``crime_type`` and ``area``)
Progress = Callable[[object], None]
DEFAULT_MODEL = "ensemble"
SPARSE_MODEL = "sparse"
RECONCILE = "top-down"


# ------------------------------------------------------------------ reading

def datasets() -> pd.DataFrame:
    """The bundled real data sets, one row each (give a name to :func:`load`).

    >>> fc.datasets()["name"].tolist()[:2]     # doctest: +SKIP
    ['met-major', 'met-minor']
    """
    from forecast.io import datasets as bundled

    rows = []
    for name, entry in bundled.BUNDLED.items():
        s = bundled.load(name).summary()
        rows.append({"name": name, "first_month": s["first_month"], "last_month": s["last_month"],
                     "months": s["months"], "areas": s["areas"], "crime_types": s["crime_types"],
                     "series": s["series"], "source": entry.source})
    return pd.DataFrame(rows)


def load(data: str | Path | Sequence[str | Path] | pd.DataFrame = "met-major", *, fill_missing: str | None = None,
         encoding: str | None = None, force: str | None = None, level: str = "la", sheet: str | None = None,
         aggregate: bool = False, name: str | None = None,
         progress: Callable[[int, int], None] | None = None) -> Panel:
    """A validated panel: a bundled data set by name, a tidy CSV or Excel workbook, data.police.uk street files (a
    file, a folder or the downloaded zip; ``force`` and ``level`` choose forces and the area of a series), or a
    DataFrame with month, area, crime_type and count columns. What the readers noticed (an assumed encoding) is
    in ``panel.notes``; bad input raises :class:`~forecast.errors.DataError` naming the row or column.

    >>> panel = fc.load("met-major")
    >>> panel.summary()["series"]
    297
    >>> fc.load(pd.DataFrame({"month": ["2024-01", "2024-02"], "area": "A", "crime_type": "Robbery",
    ...                       "count": [3, 4]})).summary()["months"]
    2
    """
    from forecast.io.load import load_panel

    if isinstance(data, pd.DataFrame):
        from forecast.io.tidy import read_tidy_csv

        notes: list[str] = []
        label = name or "DataFrame"
        frame = read_tidy_csv(Path(label), fill_missing, notes=notes, aggregate=aggregate,
                              text=data.to_csv(index=False))
        return Panel(frame, label, f"a DataFrame of {len(data):,} rows", fill_missing, notes=tuple(notes))
    return load_panel(data, fill_missing=fill_missing, encoding=encoding, forces=force, level=level,
                      progress=progress, sheet=sheet, aggregate=aggregate, name=name)


def fetch(month: str, folder: str | Path | None = None, *, url: str | None = None,
          progress: Callable[[int, int], None] | None = None, deadline: float = 3600.0) -> tuple[Path, bool]:
    """data.police.uk's archive of ``month`` (YYYY-MM: every force, the 36 months to it) in ``folder`` (default
    the cache folder's archives/); the flag says whether it was downloaded now or already there. A download not
    whole after ``deadline`` seconds stops (the next call resumes it); see :func:`forecast.io.fetch.fetch_month`
    for the connect and stall deadlines.

    >>> path, fetched = fc.fetch("2024-09", "downloads/")     # doctest: +SKIP
    """
    from forecast.io.fetch import ARCHIVE_URL, fetch_month
    from forecast.io.load import cache_folder

    return fetch_month(month.strip(), Path(folder) if folder else cache_folder() / "archives", url or ARCHIVE_URL,
                       progress=progress, deadline=deadline)


def _names(value: str | Sequence[str] | None) -> str | None:
    """A selection as Panel.select takes it: comma-separated names."""
    if value is None or isinstance(value, str):
        return value
    return ",".join(value)


def names_a_total(*queries: str | Sequence[str] | None) -> bool:
    """True when a crime or area selection names the force total or All crime."""
    wanted = {slug(q) for text in map(_names, queries) if text for q in text.split(",")}
    return bool(wanted & {slug(ALL_AREAS), slug(ALL_CRIME)})


def select(panel: Panel, crime: str | Sequence[str] | None = None, area: str | Sequence[str] | None = None, *,
           totals: bool | None = True, include_asb: bool = False, force_totals: bool = False,
           all_crime: bool = False) -> Panel:
    """The series of ``crime`` types in ``area``s (forgiving names: slugs, unique prefixes; None: all), with the
    force total and All crime added (``totals``; False: only when the selection names one of them). With
    ``force_totals`` / ``all_crime``, the totals over the whole selection, as hierarchies to reconcile.

    >>> fc.select(fc.load(), crime="robbery", area="camden").keys()
    [('Robbery', 'Camden')]
    """
    crime, area = _names(crime), _names(area)
    if force_totals or all_crime:
        if force_totals and area or all_crime and crime:
            raise SelectionError("--force-totals (every area) and --all-crime (every crime type) add totals over "
                                 "the whole selection; leave out --area or --crime")
        panel = panel.with_totals(force_total=force_totals, all_crime=all_crime, include_asb=include_asb)
    elif totals or names_a_total(crime, area):
        panel = panel.with_totals(include_asb=include_asb)
    return panel.select(crime=crime, area=area)


def uneven_totals(panel: Panel) -> list[str]:
    """Notes on force totals that sum areas of uneven spans (the total jumps where one joins or leaves)."""
    from forecast.data import uneven_totals as notes

    return list(notes(panel.frame))


# ------------------------------------------------------------------ SPC and seasonality

def spc_options(**settings) -> "SPCOptions":
    """SPC settings (run_length=8, baseline=12, screen_mr, step_changes_at, ignore, improvement_direction,
    min_mean=5, adjust='none'|'seasonal'), checked when made.

    >>> fc.spc_options(run_length=6, adjust="seasonal").run_length
    6
    """
    from forecast.control.xmr import SPCOptions

    return SPCOptions(**settings)


@dataclass(frozen=True)
class SPC:
    """SPC of several series: ``results`` (one :class:`~forecast.control.xmr.SPCResult` each), and as tidy
    frames ``points`` (every month: value, average, limits, rules) and ``summary`` (where each series stands)."""

    results: tuple["SPCResult", ...]
    source: str = ""

    @property
    def points(self) -> pd.DataFrame:
        from forecast.control.xmr import points_frame

        return points_frame(self.results).astype({"month": str}) if self.results else pd.DataFrame()

    @property
    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"crime_type": r.crime_type, "area": r.area, **r.summary()} for r in self.results])

    @property
    def sentences(self) -> list[str]:
        return [s for r in self.results for s in r.sentences]

    def plot(self, area: str | None = None, crime: str | None = None, history: int | None = 36) -> "Figure":
        """The XmR chart of one series (``area``/``crime`` pick it when there are several), or the small
        multiples of all of them when neither is given."""
        from forecast.present import plots

        chosen = [r for r in self.results if (area is None or slug(r.area) == slug(area))
                  and (crime is None or slug(r.crime_type) == slug(crime))]
        if not chosen:
            raise SelectionError(f"no series of {area or crime!r} in this SPC")
        if len(chosen) == 1:
            r = chosen[0]
            return plots.spc_chart(r.points, title=r.measure, status=r.status, icon=r.icon,
                                   caption=plots.caption(self.source, r.last_month), history=history)
        return plots.small_multiples([(f"{r.crime_type} / {r.area}", r.points, None) for r in chosen],
                                     title=f"SPC at {chosen[0].last_month}",
                                     caption=plots.caption(self.source, chosen[0].last_month), history=history)


def iter_spc(panel: Panel, options: "SPCOptions | None" = None, *, then: Callable | None = None,
             n_jobs: int = 1) -> Iterator:
    """SPC of every series of ``panel``, one result at a time (for panels too large to hold every result):
    with ``then`` (picklable), what it makes of each result where it was made, in ``n_jobs`` processes.

    >>> for r in fc.iter_spc(fc.load("west-midlands")):
    ...     print(r.crime_type, r.area, r.summary()["step_change"])
    All crime All areas 2016-03 up (declared 2016-10): 20,284 -> 22,059 (+9%)
    """
    from forecast.control.xmr import SPCOptions, analyse_panel

    return analyse_panel(panel.iter_arrays(), options or SPCOptions(), lazy=True, n_jobs=n_jobs,
                         n_series=len(panel.keys()), then=then)


def spc_proportions(data: str | Path | pd.DataFrame, *, improvement: str | None = None) -> list:
    """SPC of proportions measured on a sample each month (a survey's satisfied of surveyed): a tidy file or frame
    ``month, area, measure, numerator, denominator`` (or ``percentage`` with its sample size), each series on a
    p-chart, or Laney's p' chart when the samples are large and over-dispersed (said in its notes); or of rates per
    1,000 (``numerator`` or ``count`` with ``population``) on a u-chart or Laney's u' chart. ``improvement``:
    which way is better (default: increase for a proportion, decrease for a rate of crime). Returns a
    :class:`~forecast.control.proportions.ProportionResult` per measure and area.

    >>> r = fc.spc_proportions(pd.DataFrame({"month": pd.period_range("2020-01", periods=12, freq="M"),
    ...     "area": "Force", "measure": "Victim satisfaction", "numerator": [80, 82, 78] * 4, "denominator": 100}))
    >>> r[0].sentences[0]
    'Victim satisfaction in Force: an average of 80.0% a month; this monthly average has been stable for 1 year (since 2020-01).'
    """
    from forecast.control.proportions import analyse_proportion, analyse_rate
    from forecast.io.proportions import read_proportions

    frame = read_proportions(data) if not isinstance(data, pd.DataFrame) else \
        data.assign(month=pd.PeriodIndex(data["month"], freq="M")).sort_values(["measure", "area", "month"])
    if "population" in frame:
        return [analyse_rate(pd.PeriodIndex(rows["month"], freq="M"), rows["numerator"], rows["population"],
                             measure, area, improvement=improvement or "decrease")
                for (measure, area), rows in frame.groupby(["measure", "area"], sort=False)]
    return [analyse_proportion(pd.PeriodIndex(rows["month"], freq="M"), rows["numerator"], rows["denominator"],
                               measure, area, improvement or "increase")
            for (measure, area), rows in frame.groupby(["measure", "area"], sort=False)]


def shares(panel: Panel, *, crime: str | None = None, area: str | None = None,
           groups: str | Path | Mapping[str, str] | None = None):
    """Shares of a whole, month by month on a proportion chart (p or Laney p'), with the board's sentences: each
    crime type's share of its group (the Met's minor categories of their major ones, bundled for met-minor, or
    ``groups``: a ``crime_type,group`` file or mapping), in ``area`` (default the force); or, given ``crime``,
    each area's share of the force's crimes of that type. Returns :class:`~forecast.jobs.shares.Shares`
    (``summary``, ``points``, ``sentences``).

    >>> s = fc.shares(fc.load("met-minor"))
    >>> s.sentences[0]
    'In 2018-12 77% of Burglary was Burglary - Residential and 23% Burglary - Business and Community. This is the normal proportion split.'
    """
    from forecast.data import resolve_names
    from forecast.jobs import shares as sh

    if crime:
        if area or groups:
            raise SelectionError("--crime gives each area's share of the force; --area and --groups split a crime "
                                 "type group, not both")
        (chosen,) = resolve_names(crime, [*panel.crime_types, ALL_CRIME], "crime type")[:1]
        return sh.area_shares(panel, chosen)
    mapping = _groups(panel, groups)
    if not mapping:
        raise SelectionError(f"{panel.name} has no bundled crime type groups; give --groups FILE (crime_type,group), "
                             "or --crime NAME for each area's share of it")
    where = resolve_names(area, [a for a in panel.areas if a != ALL_AREAS], "area")[0] if area else ALL_AREAS
    return sh.crime_type_shares(panel, mapping, where)


def _groups(panel: Panel, groups: str | Path | Mapping[str, str] | None) -> dict[str, str]:
    """Crime type groups: given as a mapping or a ``crime_type,group`` file, else the panel's bundled ones (may be
    none)."""
    from forecast.jobs import shares as sh

    return dict(groups) if isinstance(groups, Mapping) else \
        sh.read_groups(groups) if groups else sh.bundled_groups(panel.name)


def contributions(panel: Panel, crime: str | None = None):
    """What the latest month's total is made of and what drove the force's step changes: the top crime types of
    All crime, the fewest areas holding half of ``crime`` (default All crime), and for each force total with a step
    change declared this quarter (and ``crime``'s), each area's change over the new process against the previous
    one, ranked, and the areas sharing the step change. Returns
    :class:`~forecast.jobs.contributions.Contributions` (``crime_types``, ``areas``, ``drivers``, ``sentences``).

    >>> c = fc.contributions(fc.load(), crime="robbery")
    >>> c.sentences[2]
    'Robbery (force total): the increase since 2017-03 (+732 a month against the months before) was driven by Westminster (+86, 12% of it), Camden (+81, 11% of it) and Islington (+59, 8% of it).'
    """
    from forecast.data import resolve_names
    from forecast.jobs.contributions import contributions as contributed

    with_totals = select(panel, totals=True)
    chosen = resolve_names(crime, [*panel.crime_types, ALL_CRIME], "crime type")[0] if crime else ALL_CRIME
    # the force totals, and the areas of the crime type asked about: no other series is analysed
    wanted = [with_totals] if chosen == ALL_CRIME else [select(with_totals, area=ALL_AREAS, totals=False),
                                                        select(with_totals, crime=chosen, totals=False)]
    results = {(r.crime_type, r.area): r for part in wanted for r in spc(part).results}
    return contributed(with_totals, results, chosen)


def board(panel: Panel, *, groups: str | Path | Mapping[str, str] | None = None):
    """The board pack of the latest month, in the order a board paper reads it: the top crime types of All crime and
    the areas holding half of it; each group's shares (``groups`` as for :func:`shares`; met-minor's are bundled;
    none: no shares section); and every force total and every area's All crime with a step change this quarter or
    its latest months on or beyond a control limit, with the parts that drove it. Returns
    :class:`~forecast.jobs.pack.BoardPack` (``sentences``, ``contributors``, ``shares``, ``drivers``; ``text()``).

    >>> pack = fc.board(fc.load("met-minor"))
    >>> pack.sentences["section"].unique().tolist()
    ['headlines', 'shares', 'signals and what drove them']
    """
    from forecast.jobs import shares as sh
    from forecast.jobs.pack import board_pack

    mapping = _groups(panel, groups)
    with_totals = select(panel, totals=True)
    results = {(r.crime_type, r.area): r for r in iter_spc(with_totals)}
    return board_pack(with_totals, results, sh.crime_type_shares(panel, mapping) if mapping else None)


def spc(panel: Panel, crime: str | Sequence[str] | None = None, area: str | Sequence[str] | None = None, *,
        options: "SPCOptions | None" = None, **settings) -> SPC:
    """Process averages, control limits, significant step changes and the board's sentences for each series
    (the force total and All crime included). ``settings`` are :func:`spc_options`'s.

    >>> s = fc.spc(fc.load(), crime="burglary", area="camden")
    >>> s.summary[["crime_type", "area"]].values.tolist()
    [['Burglary', 'Camden']]
    """
    options = options or spc_options(**settings)
    chosen = select(panel, crime, area)
    return SPC(tuple(iter_spc(chosen, options)), chosen.name)


def decompose(panel: Panel, crime: str | None = None, area: str | None = ALL_AREAS):
    """Robust STL of one series (``crime`` in ``area``, default the force total; neither: the panel's only
    series): a :class:`~forecast.control.seasonality.Decomposition` with ``components``, ``indices()`` (seasonal
    index by calendar month) and ``strength``.

    >>> round(fc.decompose(fc.load(), "robbery").strength, 2)     # doctest: +SKIP
    """
    from forecast.control.seasonality import decompose as stl

    chosen = select(panel, crime, area) if crime else panel
    keys = chosen.keys()
    if len(keys) != 1:
        raise SelectionError(f"decompose needs one series: give --crime and --area ({len(keys)} series selected), "
                             "or use --outlook")
    return stl(chosen.series(*keys[0]), *keys[0])


def seasonal_outlook(panel: Panel, crime: str | Sequence[str] | None = None, area: str | Sequence[str] | None = None,
                     *, horizon: int = 3, totals: bool = True) -> tuple[pd.DataFrame, list[str]]:
    """The change each crime type's force total (or each series, without force totals) may see from seasonality
    alone, ranked, and the board's sentences on it ("Based on seasonality, Robbery ... may rise"). ``totals``:
    add the force totals (False: the panel's series as given).

    >>> table, said = fc.seasonal_outlook(fc.load())      # doctest: +SKIP
    """
    from forecast.control.seasonality import decompose as stl, outlook_sentences, seasonal_outlook as ranked

    chosen = select(panel, crime, area) if totals else panel
    keys = [k for k in chosen.keys() if k[1] == ALL_AREAS] or chosen.keys()
    table = ranked(stl(chosen.series(*k), *k) for k in keys)
    said = outlook_sentences(table[table["crime_type"] != ALL_CRIME], horizon) or [
        f"Based on seasonality, no crime type has a clear rise or fall ahead over the next {horizon} months."]
    return table, said


# ------------------------------------------------------------------ forecasting

@dataclass
class Run:
    """One crime type's run: SPC, backtest, model choice, next quarter's forecast, the outlook and sentences.

    ``forecast``, ``spc``, ``backtest`` and ``summary`` are the tables `forecast run` writes (rounded as
    published); ``result`` is the core :class:`~forecast.jobs.run.RunResult`."""

    result: "RunResult"
    published: "Published | None" = field(default=None, repr=False)

    @cached_property
    def _tables(self) -> dict[str, pd.DataFrame]:
        from forecast.present.outputs import run_tables

        return run_tables(self.result)

    @property
    def forecast(self) -> pd.DataFrame:
        return self._tables["forecast"].copy()

    @property
    def spc(self) -> pd.DataFrame:
        return self._tables["spc"].copy()

    @property
    def backtest(self) -> pd.DataFrame:
        return self._tables["backtest"].copy()

    @property
    def summary(self) -> pd.DataFrame:
        return self._tables["summary"].copy()

    @property
    def sentences(self) -> list[str]:
        return self.result.sentences()

    @property
    def notes(self) -> list[str]:
        r = self.result
        return [n for n in (*r.notes, r.reconciliation_note, r.global_fit.note) if n]

    def plot(self, area: str = ALL_AREAS, history: int | None = 36) -> "Figure":
        """The chart of one area's series: its XmR chart with next quarter's forecast and intervals."""
        from forecast.present.plots import forecast_of, series_chart, series_points

        summary = self._tables["summary"]
        rows = summary[summary["area"].map(slug) == slug(area)]
        if rows.empty:
            raise SelectionError(f"{area!r}: not an area of this run ({', '.join(summary['area'])})")
        row = rows.iloc[0].to_dict()
        return series_chart(row, series_points(self._tables["spc"], row["crime_type"], row["area"]),
                            forecast_of(self._tables["forecast"], row["crime_type"], row["area"]),
                            self.result.panel.name, history)

    def table(self) -> str:
        """The terminal table `forecast run` prints."""
        from forecast.present.tables import run_table

        return run_table(self.result)

    def to_html(self, history: int | None = 36, charts: str = "attention") -> str:
        """The self-contained report.html that `forecast run` writes (charts embedded), as text."""
        import tempfile

        from forecast.present.outputs import write_run
        from forecast.present.report import write_report

        with tempfile.TemporaryDirectory() as tmp:
            write_run(self.result, tmp)
            return write_report(tmp, self.result.panel.name, history=history, charts=charts)["report"] \
                .read_text(encoding="utf-8")

    def publish(self, out: str | Path | None = None, **kwargs) -> "Published":
        """Write and record this run as `forecast run` does (:func:`publish`)."""
        self.published = publish(self, out, **kwargs)
        return self.published

    def digest(self) -> "RunDigest":
        """What :func:`publish_index` reads of this run (its summary and sentences), without its fitted models and
        sample paths: keep this, not the run, when a run of many crime types publishes each as it goes."""
        return self.result.digest()


def run(panel: Panel, crime: str, *, areas: str | Sequence[str] | None = None, model: str = DEFAULT_MODEL,
        members: str | Sequence[str] | None = None, sparse_model: str | None = SPARSE_MODEL, horizon: int = 3,
        origins: int = 4, step: int = 3, backtest_horizon: int | None = None, n_paths: int = 2000, seed: int = 0,
        reconcile: str = RECONCILE, include_asb: bool = False, options: "SPCOptions | None" = None,
        n_jobs: int | None = None, progress: Progress | None = None, track: bool = False, **publish_options) -> Run:
    """Next quarter for one crime type in every area (or ``areas``) and the force total: SPC status, a
    rolling-origin backtest against the seasonal naive, the forecast with 80% and 95% intervals, the chance of a
    step change (``n_paths`` sample paths; 0: none) and the board's sentences. The backtest forecasts
    ``backtest_horizon`` months from each of ``origins`` origins ``step`` months apart (default: ``horizon``).
    ``members``: the ensemble's local families (default ETS and Theta); the run backtests those, the
    seasonal naive and the global model, so fewer members cost less (docs/SCALE.md, "The ensemble's members
    as an option").
    The global model learns from every series of ``panel``. ``track=True`` publishes the run at once (files and
    MLflow, as `forecast run`); otherwise nothing is written until ``.publish()``.

    >>> r = fc.run(fc.load(), crime="robbery", areas=["Camden", "Westminster"])    # doctest: +SKIP
    >>> r.forecast.columns.tolist()                                                  # doctest: +SKIP
    ['crime_type', 'area', 'model', 'month', 'step', 'mean', 'lo_80', 'hi_80', 'lo_95', 'hi_95']
    """
    from forecast.control.xmr import SPCOptions
    from forecast.data import resolve_names
    from forecast.engine.backtest import BacktestSettings
    from forecast.jobs.run import run_forecast
    from forecast.models import make, parse_members, run_families

    if model != "auto":
        make(model)
    members = parse_members(members)
    sparse_model = None if sparse_model == "same" else sparse_model
    if sparse_model:
        make(sparse_model)
    whole = panel.with_totals(include_asb=include_asb)
    names = resolve_names(_names(crime), whole.crime_types, "crime type")
    if len(names) != 1:
        raise SelectionError(f"run takes one crime type, got {len(names)} ({', '.join(names)}); call it for each")
    crime_type = names[0]
    settings = BacktestSettings(origins=origins, horizon=backtest_horizon or horizon, step=step,
                                models=run_families(members), members=members)
    result = run_forecast(whole.select(crime=crime_type, area=_names(areas)), crime_type, horizon, model, settings,
                          options or SPCOptions(), n_jobs=n_jobs, progress=progress, n_paths=n_paths, seed=seed,
                          reconcile=reconcile, train=whole, sparse_model=sparse_model)
    done = Run(result)
    if track:
        done.publish(**publish_options)
    elif publish_options:
        raise TypeError(f"run() got publish options without track=True: {', '.join(publish_options)}")
    return done


@dataclass(frozen=True)
class Backtest:
    """A rolling-origin backtest: ``predictions`` (every origin x month x model), ``summary()`` (MASE, RMSSE,
    SPL, sMAPE and interval coverage per model), and ``reconciled``, a line saying what reconciliation did."""

    result: object
    panel: Panel
    reconciled: str = ""

    @property
    def predictions(self) -> pd.DataFrame:
        return self.result.predictions

    def summary(self, min_months: int = 36) -> pd.DataFrame:
        return self.result.summary(min_months=min_months)

    def failures(self) -> int:
        return self.result.failures()


def backtest(panel: Panel, crime: str | Sequence[str] | None = None, area: str | Sequence[str] | None = None, *,
             models: str | Sequence[str] = "all", members: str | Sequence[str] | None = None, horizon: int = 3,
             origins: int = 4, step: int = 3, last: int | None = None, reconcile: str = RECONCILE,
             n_jobs: int | None = None, progress: Progress | None = None) -> Backtest:
    """Rolling-origin backtest of the model families against the seasonal naive baseline; with a force total and
    all its areas in the selection, the forecasts are also reconciled at each origin and scored again.
    ``members``: the ensemble's local families (default ETS and Theta).

    >>> b = fc.backtest(fc.load(), crime="burglary", area="camden", models="ets,snaive")   # doctest: +SKIP
    >>> b.summary()[["model", "mase"]]                                                    # doctest: +SKIP
    """
    from forecast.engine.backtest import BacktestSettings, backtest_panel
    from forecast.models import parse_members, parse_models

    settings = BacktestSettings(origins=origins, horizon=horizon, step=step,
                                models=parse_models(models if isinstance(models, str) else ",".join(models)),
                                members=parse_members(members))
    chosen = panel.select(crime=_names(crime), area=_names(area)) if crime or area else panel
    if last:
        chosen = chosen.last_months(last)
    result = backtest_panel(chosen.iter_series(), settings, n_jobs=n_jobs, progress=progress)
    result, said = reconciled_backtest(chosen, result, reconcile)
    return Backtest(result, chosen, said)


def reconciled_backtest(panel: Panel, result, method: str):
    """The backtest with the forecasts of every total whose parts are all in the panel reconciled at each origin
    and scored again; and a line saying what was done ('' when nothing was)."""
    from forecast.engine.backtest import rescored
    from forecast.engine.reconcile import plan, reconcile_predictions

    if method == "none":
        return result, ""
    try:
        steps = plan(dict(panel.iter_series()), method)
    except ValueError as error:
        raise SelectionError(f"--reconcile: {error}") from None
    if not steps:
        return result, ""
    predictions, done, left = reconcile_predictions(result.predictions, steps)
    return rescored(result, predictions), (
        f"reconciled ({method}): the forecasts add up to their totals at {done} origin(s) x model(s)"
        + (f"; {left} left as forecast (a series had no forecast from that origin)" if left else ""))


@dataclass(frozen=True)
class Outlook:
    """The chance that next quarter brings a step change, per series: ``outlooks`` (core objects), ``table``
    (tidy) and ``sentences``."""

    outlooks: tuple

    @property
    def table(self) -> pd.DataFrame:
        from forecast.engine.outlook import outlook_frame

        return outlook_frame(list(self.outlooks))

    @property
    def sentences(self) -> list[str]:
        return [o.sentences[0] for o in self.outlooks]


def outlook(panel: Panel, crime: str | Sequence[str], area: str | Sequence[str] | None = None, *,
            model: str = DEFAULT_MODEL, members: str | Sequence[str] | None = None, n_paths: int = 2000,
            seed: int = 0, reconcile: str = RECONCILE, options: "SPCOptions | None" = None, n_jobs: int | None = None,
            progress: Progress | None = None) -> Outlook:
    """Sample paths of next quarter replayed through the SPC rules: the chance of a step change up or down, and
    of a month beyond a limit. With ``reconcile`` (as `run` does, so both give one probability) every area and
    the force total are fitted and their paths made to add up; the chosen areas are reported. ``members``: the
    ensemble's local families, as given to `run`.

    >>> fc.outlook(fc.load(), "robbery", "bromley").sentences    # doctest: +SKIP
    """
    from forecast.control.xmr import SPCOptions
    from forecast.data import resolve_names
    from forecast.engine.backtest import BacktestSettings
    from forecast.jobs.run import run_forecast
    from forecast.models import make, parse_members, run_families

    if model != "auto":
        make(model)
    members = parse_members(members)
    whole = panel.with_totals()
    crimes = resolve_names(_names(crime), whole.crime_types, "crime type")
    chosen = set(whole.select(crime=crimes, area=_names(area)).keys())
    fitted = whole.select(crime=crimes) if reconcile != "none" else whole.select(crime=crimes, area=_names(area))
    found = []
    for crime_type in crimes:
        result = run_forecast(fitted, crime_type, 3, model,
                              BacktestSettings(models=run_families(members), members=members),
                              options or SPCOptions(), n_jobs=n_jobs, progress=progress, n_paths=n_paths, seed=seed,
                              reconcile=reconcile, train=whole)
        found += [o for key, o in result.outlooks.items() if key in chosen]
    return Outlook(tuple(found))


def evaluate_outlook(panel: Panel, crime: str | None = None, area: str | None = None, *, model: str = DEFAULT_MODEL,
                     members: str | Sequence[str] | None = None, every: int = 3, n_paths: int = 2000, seed: int = 0,
                     options: "SPCOptions | None" = None, n_jobs: int | None = None,
                     progress: Progress | None = None):
    """The outlook replayed on history every ``every`` months: a :class:`~forecast.engine.outlook.Calibration`
    with the Brier score against the base rate and the run-length baseline, and a reliability table.

    >>> c = fc.evaluate_outlook(fc.load(), "burglary", "all-areas")    # doctest: +SKIP
    >>> c.brier, c.brier_run_length                                     # doctest: +SKIP
    """
    from forecast.control.xmr import SPCOptions
    from forecast.engine.backtest import run_parallel
    from forecast.engine.outlook import Calibration
    from forecast.models import GLOBAL, parse_members, run_families

    members = parse_members(members)
    if model == GLOBAL:
        raise SelectionError("--evaluate replays the families fitted on each series; the global model, trained on "
                             "the whole panel, would need training again at every past origin (try --model "
                             "ensemble)")
    if names_a_total(crime, area):
        panel = panel.with_totals()
    chosen = panel.select(crime=crime, area=area)
    models = tuple(m for m in run_families(members) if m != GLOBAL) if model == "auto" else (model,)
    frames = run_parallel(_EvaluateJob(options or SPCOptions(), models, every, n_paths, seed, members),
                          chosen.iter_series(), n_jobs=n_jobs, progress=progress)
    return Calibration(pd.concat([f.records for f in frames], ignore_index=True), models, len(chosen.keys()))


class _EvaluateJob:
    """A picklable job for the parallel workers: the outlook replayed over one series' history."""

    def __init__(self, options, models, every, n_paths, seed, members):
        self.args = (options, models, every, 36, 3, n_paths, seed)
        self.members = members

    def __call__(self, key, y):
        from types import SimpleNamespace

        from forecast.engine.outlook import evaluate_series

        records = evaluate_series(key, y, *self.args, members=self.members)
        return SimpleNamespace(crime_type=key[0], area=key[1], records=records)


@dataclass
class Winter:
    """The winter demand plan: ``totals`` (each series' winter total, intervals, peak month, last winter),
    ``months`` (every month of the plan), ``backtest`` and ``backtest_summary`` (past winters forecast from the
    same month), ``sentences``; ``plan`` is the core :class:`~forecast.jobs.winter.WinterPlan`."""

    plan: "WinterPlan"
    what: str = "all"
    published: "Published | None" = field(default=None, repr=False)

    @property
    def totals(self) -> pd.DataFrame:
        return self.plan.ranked(self.plan.keys)

    @property
    def months(self) -> pd.DataFrame:
        return self.plan.months_frame()

    @property
    def backtest(self) -> pd.DataFrame:
        return self.plan.backtest_frame()

    @property
    def backtest_summary(self) -> pd.DataFrame:
        return self.plan.backtest_summary()

    @property
    def sentences(self) -> list[str]:
        return self.plan.sentences()

    def plot(self, crime: str | None = None, area: str = ALL_AREAS) -> "Figure":
        """A series' winter chart (default: the plan's first crime type's force total): its last three winters
        and this one, with the forecast months' 80% and 95% fans."""
        from forecast.present.winter_page import winter_figure

        keys = [k for k in self.plan.keys if (crime is None or slug(k[0]) == slug(crime)) and slug(k[1]) == slug(area)]
        if not keys:
            raise SelectionError(f"no series of {crime or 'the plan'} in {area!r} in this plan")
        return winter_figure(self.plan, keys[0])

    def to_html(self) -> str:
        import tempfile

        from forecast.present.winter_page import write_winter_report

        with tempfile.TemporaryDirectory() as tmp:
            return write_winter_report(self.plan, tmp)["report"].read_text(encoding="utf-8")

    def publish(self, out: str | Path | None = None, **kwargs) -> "Published":
        """Write and record the plan as `forecast winter` does (:func:`publish`)."""
        self.published = publish(self, out, **kwargs)
        return self.published


def cut_at(panel: Panel, end: str | None) -> Panel:
    """The panel as it was at the end of month ``end`` (later months left out)."""
    if end is None:
        return panel
    try:
        month = pd.Period(end, freq="M")
    except (ValueError, TypeError):
        raise SelectionError(f"--end: {end!r} is not a month (expected YYYY-MM)") from None
    first, last = panel.months[0], panel.months[-1]
    if not first <= month <= last:
        raise SelectionError(f"--end {month}: {panel.source} runs from {first} to {last}")
    return replace(panel, frame=panel.frame[panel.frame["month"] <= month].reset_index(drop=True))


def winter(panel: Panel, crime: str | Sequence[str] | None = None, area: str | Sequence[str] | None = None, *,
           months: str = "nov-feb", end: str | None = None, model: str = DEFAULT_MODEL,
           members: str | Sequence[str] | None = None, winters: int | None = None, n_paths: int = 2000, seed: int = 0,
           reconcile: str = RECONCILE, include_asb: bool = False, n_jobs: int | None = None,
           progress: Progress | None = None) -> Winter:
    """Every month to the end of the coming winter (``months``, e.g. 'oct-mar'), from the data's last month or
    ``end``: each series' winter total with 80% and 95% intervals, its likeliest peak month, last winter and the
    average of the last three, scored on past winters forecast from the same month. ``members``: the ensemble's
    local families, as in :func:`run`.

    >>> w = fc.winter(fc.load(), crime="burglary", area="all-areas", winters=3)    # doctest: +SKIP
    >>> w.sentences[0]                                                             # doctest: +SKIP
    """
    from forecast.data import resolve_names
    from forecast.jobs.winter import WinterSettings, plan_winter
    from forecast.models import make, parse_members, run_families

    if model != "auto":
        make(model)
    members = parse_members(members)
    season = months if not isinstance(months, str) else _season(months)
    whole = cut_at(panel, end).with_totals(include_asb=include_asb)
    everything = crime is None or (isinstance(crime, str) and crime.strip().lower() == "all")
    crimes = list(whole.crime_types) if everything else resolve_names(_names(crime), whole.crime_types, "crime type")
    chosen = whole.select(crime=crimes, area=_names(area))
    settings = WinterSettings(season, whole.months[-1], models=run_families(members), model=model, members=members,
                              winters=winters, seed=seed)
    plan = plan_winter(chosen, settings, n_jobs=n_jobs, progress=progress, n_paths=n_paths, reconcile=reconcile,
                       train=whole)
    return Winter(plan, "all" if everything else slug("-".join(crimes)))


def _season(text: str):
    from forecast.jobs.winter import Season

    try:
        return Season.parse(text)
    except ValueError as exc:
        raise SelectionError(f"--months: {exc}") from None


def peers(panel: Panel, crime: str | Sequence[str] | None = None, *, by: str | None = None, home: str | None = None,
          group: Sequence[str] | None = None, per: str = "auto", population: str | Path | None = None,
          months: int = 12, groups: str | Path | None = None):
    """Crime per 1,000 residents (or households): a force against its Most Similar Group (``by='force'``: the
    bundled group, or the force's group in the ``groups`` file ``force,peer``, or the forces named in ``group``),
    or the areas of one force ranked (``by='area'``). The group average is weighted (the group's crimes per 1,000
    of its residents), the plain mean of rates beside it as ``group_mean``. Returns a
    :class:`~forecast.jobs.peers.PeerReport` (``table``, ``monthly``, ``sentences``, ``notes``) that
    :func:`publish` writes as `forecast peers` does.

    >>> p = fc.peers(fc.load("met-minor"), crime="burglary - residential")   # doctest: +SKIP
    >>> p.sentences[0]                                                       # doctest: +SKIP
    """
    from forecast.data import force_of_areas
    from forecast.io.population import load_populations
    from forecast.jobs import peers as peer

    populations = load_populations(population)
    chosen = panel.select(crime=_names(crime)) if crime else panel
    forces = force_of_areas(panel.frame).unique()
    by = by or ("force" if len(forces) > 1 or len(populations.match(panel.areas, peer.FORCE)) > 1 else "area")
    if by == "force":
        report = peer.compare_forces(chosen, populations, home, list(group) if group else None, per, months,
                                     str(groups) if groups else None)
    else:
        report = peer.rank_areas(chosen, populations, per, months)
    return replace(report, population_notes=tuple(populations.notes))


# ------------------------------------------------------------------ the store

def predict(run_id: str | None = None, *, model_dir: str | Path | None = None, model: str | None = None,
            areas: str | Sequence[str] = "all", horizon: int = 3, tracking_uri: str | None = None) -> pd.DataFrame:
    """Forecasts from a recorded run's fitted models, without refitting: from its MLflow run (``run_id``), an
    exported folder (``model_dir``) or a registered version (``model='models:/forecast-robbery@champion'``).
    The months the run forecast are its published (reconciled) figures; the ``figures`` column says which.

    >>> fc.predict(model="models:/forecast-robbery@champion", areas=["Camden"])   # doctest: +SKIP
    """
    from forecast.rounding import rounded
    from forecast.record import registry, tracking

    if sum(map(bool, (run_id, model_dir, model))) != 1:
        raise SelectionError("give exactly one of --run-id, --model-dir and --model")
    horizon = tracking.whole_months(horizon)
    if model:
        bundle = registry.load(model, uri=tracking_uri)
    else:
        bundle = tracking.load_model(run_id=run_id, model_dir=model_dir, uri=tracking_uri)
    if areas == "all":
        chosen = sorted({a for (_, a) in bundle.unwrap_python_model().models})
    else:
        chosen = [areas] if isinstance(areas, str) else list(areas)
    return rounded(bundle.predict(pd.DataFrame({"area": chosen, "horizon": horizon})))


def register(run_id: str, *, promote: bool = False, tracking_uri: str | None = None):
    """Register a recorded run's models as a version of forecast-<crime>: champion when first, or when its
    backtest beats the champion's on the same data (``promote``: regardless). ``.sentence()`` says what was done.

    >>> fc.register(run_id).sentence()      # doctest: +SKIP
    """
    from forecast.record.registry import register as register_run

    return register_run(run_id, uri=tracking_uri, promote=promote)


def compare(spec_file: str | Path, *, n_jobs: int | None = None, progress: Progress | None = None):
    """An experiment spec (experiments/*.toml) backtested: returns (spec, panel, BacktestResult).

    >>> spec, panel, result = fc.compare("experiments/force-totals.toml")    # doctest: +SKIP
    >>> result.summary(spec.min_months)                                     # doctest: +SKIP
    """
    from forecast.engine.backtest import BacktestSettings, backtest_panel
    from forecast.jobs.experiments import load_spec, spec_panel

    spec = load_spec(Path(spec_file))
    chosen = spec_panel(spec)
    settings = BacktestSettings(origins=spec.origins, horizon=spec.horizon, step=spec.step, models=spec.models)
    return spec, chosen, backtest_panel(chosen.iter_series(), settings, n_jobs=n_jobs, progress=progress)


# ------------------------------------------------------------------ publishing

def publish(result, out: str | Path | None = None, *, track: bool = True, tracking_uri: str | None = None,
            experiment: str | None = None, register: bool = False, export: bool = False, workbook: bool = False,
            history: int | None = 36, charts: str = "attention", latest: bool | None = None,
            started: float | None = None, seconds: float | None = None, check: bool = True) -> "Published":
    """Write a result's folder whole or not at all (default a new out/<data>/<...>/<time>/ with `latest` beside
    it) and, with ``track``, record it in MLflow: a :class:`Run` as `forecast run` does (``register``,
    ``export``, ``workbook``, ``history``, ``charts``), a :class:`Winter` as `forecast winter`, a peer report
    as `forecast peers` (no MLflow record). Returns what was written and recorded; with ``check`` a failed
    recording is raised after the files are kept.

    >>> fc.run(fc.load(), crime="robbery").publish(track=False)     # doctest: +SKIP
    """
    from forecast.jobs.peers import PeerReport
    from forecast.record.publish import publish_peers, publish_run, publish_winter

    if isinstance(result, Run):
        done = publish_run(result.result, out, track=track, tracking_uri=tracking_uri, experiment=experiment,
                           register=register, export=export, workbook=workbook, history=history, charts=charts,
                           latest=latest, started=started, seconds=seconds)
    elif isinstance(result, Winter):
        done = publish_winter(result.plan, out, what=result.what, track=track, tracking_uri=tracking_uri,
                              experiment=experiment, latest=latest, started=started, seconds=seconds)
    elif isinstance(result, PeerReport):
        done = publish_peers(result, out)
    else:
        raise TypeError(f"publish takes a Run, a Winter or a PeerReport, not {type(result).__name__}")
    return done.check() if check else done


def report(out: str | Path | None = None, *, crime: str | None = None, run_id: str | None = None,
           tracking_uri: str | None = None, svg: bool = False, history: int | None = 36, charts: str = "attention",
           peers: str | Path | None = None) -> tuple[Path, dict[str, Path]]:
    """Rebuild the charts and report.html of a published run: its folder ``out``, the latest run of ``crime``, or
    an MLflow run's artifacts (``run_id``); with ``peers``, a `forecast peers` folder's section added. Returns
    the folder and the files written.

    >>> folder, files = fc.report(crime="robbery", history=None)    # doctest: +SKIP
    """
    from forecast.record.publish import rebuild_report

    return rebuild_report(out, crime=crime, run_id=run_id, tracking_uri=tracking_uri, svg=svg, history=history,
                          charts=charts, peers=peers)


def publish_index(runs: Sequence[tuple["Run | RunDigest", Path]], data: str, when: str | None = None) -> "Published":
    """The index of a run of several crime types: out/<data>/all/<time>/ with index.html, summary.csv and
    sentences.txt over (run or its :meth:`Run.digest`, its published folder) pairs.

    >>> runs = [fc.run(panel, crime=c) for c in ("robbery", "burglary")]            # doctest: +SKIP
    >>> fc.publish_index([(r, r.publish().folder) for r in runs], panel.name)       # doctest: +SKIP
    """
    from forecast.record.publish import publish_index as index

    return index([(r.digest() if isinstance(r, Run) else r, folder) for r, folder in runs], data, when)


