"""The one publish step of every job: its folder written whole or not at all (tables, charts, report, run.json),
`latest` pointed at it, and its MLflow record; the same for `forecast run`, `forecast winter`, `forecast peers`
and a Python session's ``result.publish()``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from forecast.errors import TrackingError
from forecast.files import MANIFEST, atomic_folder, check_folder, file_stems, new_run_folder, point_latest, \
    write_text

#: where a job's folder goes when none is given: out/<data>/<what>/<time>/, with `latest` beside it
OUT = Path("out")


@dataclass
class Published:
    """What a publish step wrote and recorded: the folder and its files (by name), whether `latest` points to it,
    the MLflow run and where, and what failed to record (the files are kept all the same)."""

    folder: Path
    files: dict[str, Path]
    latest: Path | None = None
    run_id: str | None = None
    store: str | None = None
    experiment: str | None = None
    registered: str | None = None
    exported: Path | None = None
    error: TrackingError | None = field(default=None, repr=False)

    def charts(self) -> list[Path]:
        return [path for name, path in self.files.items() if name.startswith("chart ")]

    def check(self) -> "Published":
        """Raise the recording's error, if any (after the files were kept)."""
        if self.error is not None:
            raise self.error
        return self


def stamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def default_folder(data: str, *parts: str, when: str | None = None) -> Path:
    """A new folder out/<data>/<parts...>/<time>/ (each part a bounded file-name stem)."""
    base = OUT / file_stems([data])[data]
    for part in parts:
        base = base / file_stems([part])[part]
    return new_run_folder(base, when or stamp())


def _latest(folder: Path, out, latest: bool | None) -> Path | None:
    return point_latest(folder) if (out is None if latest is None else latest) else None


def write_manifest(folder: Path, manifest: dict) -> Path:
    return write_text(json.dumps(manifest, indent=1) + "\n", Path(folder) / MANIFEST)


def check_out(folder: str | Path, inputs: Iterable[str | Path] = (), marker: str = MANIFEST) -> Path:
    """Refuse, before any work, a folder that cannot be written or would replace an input or a user's files."""
    return check_folder(folder, inputs=inputs, marker=marker)


def publish_run(result, out: str | Path | None = None, *, track: bool = True, tracking_uri: str | None = None,
                experiment: str | None = None, register: bool = False, export: bool = False,
                workbook: bool = False, history: int | None = 36, charts: str = "attention",
                latest: bool | None = None, started: float | None = None, seconds: float | None = None) -> Published:
    """A run (:class:`forecast.jobs.run.RunResult`): its CSVs, charts and report.html in ``out`` (default a new
    out/<data>/<crime>/<time>/ with `latest` beside it), run.json, and with ``track`` its MLflow run (a parent
    with the backtest, a child per series, the fitted models), written while the charts render. ``register``
    makes the models a version of forecast-<crime>; ``export`` saves them under models/<crime>/<run id>/.
    ``latest`` (default: when ``out`` is not given) points `latest` beside the folder at it. ``started`` (seconds
    since the epoch) and ``seconds`` (the fitting's wall time) go into the record."""
    from concurrent.futures import ThreadPoolExecutor

    from forecast.present.outputs import write_run
    from forecast.present.report import write_report
    from forecast.record import tracking

    if register and not track:
        raise TrackingError("registering a run's models needs the run recorded in MLflow (track=True)")
    started = time.time() if started is None else started
    folder = Path(out) if out else default_folder(result.panel.name, result.crime_type)
    check_out(folder)
    experiment_name = tracking.experiment_name(result.slug, experiment)
    store = tracking.check_store(tracking_uri, experiment_name) if track else None
    metrics = {"run_seconds": seconds} if seconds is not None else None
    with ThreadPoolExecutor(max_workers=1) as pool:
        recording = pool.submit(tracking.begin_run, result, uri=tracking_uri, experiment=experiment,
                                extra_metrics=metrics, started=started) if track else None
        with atomic_folder(folder) as work:
            written = write_run(result, work, workbook=workbook)
            written.update(write_report(work, result.panel.name, history=history, charts=charts))
            run_id, error = None, None
            try:
                run_id = recording.result() if recording is not None else None
            except TrackingError as failure:
                error = failure
            written["manifest"] = write_manifest(work, result.manifest(started, run_id))
    published = Published(folder, {name: folder / path.relative_to(work) for name, path in written.items()},
                          _latest(folder, out, latest), run_id, store, experiment_name, error=error)
    if error is not None:
        return published
    if run_id is not None:
        tracking.end_run(run_id, list(published.files.values()), uri=tracking_uri)
        if register:
            from forecast.record.registry import register as register_run

            published.registered = register_run(run_id, uri=tracking_uri).sentence()
    if export:
        published.exported = Path("models") / result.slug / (run_id or time.strftime("local-%Y%m%d-%H%M%S"))
        tracking.save_model(result, published.exported)
    return published


def publish_index(runs: Sequence[tuple[object, Path]], data: str, when: str | None = None) -> Published:
    """The index of a run of several crime types (out/<data>/all/<time>/): index.html, summary.csv and
    sentences.txt over ``runs``, (RunDigest or RunResult, its folder) pairs, each already published."""
    from forecast.present.report import write_index

    folder = default_folder(data, "all", when=when)
    with atomic_folder(folder) as work:
        written = write_index(work, runs, folder)
    return Published(folder, {name: folder / path.relative_to(work) for name, path in written.items()},
                     point_latest(folder))


def publish_winter(plan, out: str | Path | None = None, *, what: str = "all", track: bool = True,
                   tracking_uri: str | None = None, experiment: str | None = None, latest: bool | None = None,
                   started: float | None = None, seconds: float | None = None) -> Published:
    """A winter plan (:class:`forecast.jobs.winter.WinterPlan`): its tables, charts, report.html and run.json in
    ``out`` (default a new out/<data>/winter/<what>/<time>/), and with ``track`` its MLflow run."""
    from forecast.present.outputs import write_winter
    from forecast.present.winter_page import write_winter_report
    from forecast.record import tracking

    started = time.time() if started is None else started
    folder = Path(out) if out else default_folder(plan.panel.name, "winter", what)
    check_out(folder)
    experiment = experiment or "forecast/winter"
    store = tracking.check_store(tracking_uri, experiment) if track else None
    metrics = {"run_seconds": seconds} if seconds is not None else None
    with atomic_folder(folder) as work:
        written = write_winter(plan, work)
        written.update(write_winter_report(plan, work))
        run_id, error = None, None
        if track:
            try:
                run_id = tracking.log_winter(plan, list(written.values()), uri=tracking_uri, experiment=experiment,
                                             extra_metrics=metrics, started=started)
            except TrackingError as failure:
                error = failure
        written["manifest"] = write_manifest(work, plan.manifest(started, run_id))
    return Published(folder, {name: folder / path.relative_to(work) for name, path in written.items()},
                     _latest(folder, out, latest), run_id, store, experiment, error=error)


def publish_peers(peers, out: str | Path | None = None, *, inputs: Iterable[str | Path] = ()) -> Published:
    """A peer comparison (:class:`forecast.jobs.peers.PeerReport`): peers.html, peers.csv, rates.csv, the
    sentences and charts in ``out`` (default out/<data>/<peers-...>/), replaced whole."""
    from forecast.present.peer_page import peer_charts, write_peers

    folder = Path(out) if out else OUT / peers.data / peers.name
    check_folder(folder, inputs=inputs, marker="peers.json")
    with atomic_folder(folder) as work:
        written = write_peers(work, title=peers.title, sentences=peers.sentences, table=peers.table,
                              monthly=peers.monthly, unit=peers.unit, charts=peer_charts(peers), notes=peers.notes,
                              meta=f"Data: {peers.source}. Populations: {peers.populations}.",
                              manifest=peers.manifest)
    return Published(folder, {name: folder / path.relative_to(work) for name, path in written.items()})


def record_backtest(result, panel, predictions: Path | None = None, *, tracking_uri: str | None = None,
                    experiment: str | None = None, params: dict | None = None, min_months: int = 0,
                    started: float | None = None) -> Published:
    """A backtest's MLflow run, with its predictions CSV (``predictions``, or one written for the purpose)."""
    import tempfile

    from forecast.files import write_csv
    from forecast.record import tracking

    store = tracking.tracking_uri(tracking_uri)
    with tempfile.TemporaryDirectory() as tmp:
        path = predictions or write_csv(result.predictions, Path(tmp) / "backtest.csv")
        run_id = tracking.log_backtest(result, panel, [path], uri=tracking_uri, experiment=experiment,
                                       extra_params=params, min_months=min_months, started=started)
    return Published(Path(path).parent, {"backtest": Path(path)}, run_id=run_id, store=store, experiment=experiment)


def record_comparison(name: str, crime_types: Sequence[str], result, summary, params: dict, spec_file: Path, *,
                      tracking_uri: str | None = None, experiment: str | None = None,
                      started: float | None = None) -> list[str]:
    """An experiment's runs, one per model, with the spec and the predictions as artifacts."""
    import tempfile

    from forecast.files import write_csv
    from forecast.record import tracking

    with tempfile.TemporaryDirectory() as tmp:
        predictions = write_csv(result.predictions, Path(tmp) / "backtest.csv")
        return tracking.log_comparison(name, crime_types, summary, params, uri=tracking_uri, experiment=experiment,
                                       artifacts=[spec_file, predictions], started=started)



def latest_run(crime: str, root: Path = OUT) -> Path:
    """The newest run folder of a crime type under ``root`` (``root/<data>/<crime>/latest``), whatever its data."""
    from forecast.data import slug
    from forecast.errors import SelectionError

    found = [p for p in root.glob(f"*/{slug(crime)}/latest") if p.is_dir()]
    if not found:
        raise SelectionError(f"no run of {crime!r} under {root}/ (run 'forecast run --crime {crime}' first, or give "
                             "--out)")
    return max(found, key=lambda p: p.stat().st_mtime)


def run_source(folder: Path) -> str:
    """The data a run folder came from, as its run.json says (or the folder itself for older runs)."""
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"run outputs in {folder}"


def rebuild_report(folder: str | Path | None = None, *, crime: str | None = None, run_id: str | None = None,
                   tracking_uri: str | None = None, svg: bool = False, history: int | None = 36,
                   charts: str = "attention", peers: str | Path | None = None) -> tuple[Path, dict[str, Path]]:
    """The charts and report.html of a run rebuilt from its folder (``folder``, or the latest run of ``crime``),
    or from an MLflow run's artifacts downloaded into ``folder`` (default out/run-<id>/)."""
    from forecast.errors import SelectionError
    from forecast.present.report import write_report

    if run_id:
        from forecast.record import tracking

        folder = Path(folder or OUT / f"run-{run_id[:8]}")
        source = tracking.download_outputs(run_id, folder, uri=tracking_uri)
    else:
        if not (crime or folder):
            raise SelectionError("give --crime (or --out) or --run-id")
        folder = Path(folder) if folder else latest_run(crime)
        source = run_source(folder)
    return folder, write_report(folder, source, svg, history=history, charts=charts, peers=peers)
