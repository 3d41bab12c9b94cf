"""The tables and text files of each job, as published: every number rounded once, to what its column means
(:func:`forecast.rounding.rounded`), the same in the CSVs, the workbook and `forecast predict`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forecast.files import write_csv, write_text
from forecast.rounding import rounded
from forecast.present.workbook import write_workbook


def run_tables(result) -> dict[str, pd.DataFrame]:
    """A run's (:class:`forecast.jobs.run.RunResult`) summary, forecast, SPC and backtest tables, rounded."""
    return {"summary": rounded(result.summary()), "forecast": rounded(result.forecast_frame()),
            "spc": rounded(result.spc_frame()), "backtest": rounded(result.backtest_frame())}


def write_run(result, out_dir: str | Path, workbook: bool = False) -> dict[str, Path]:
    """forecast.csv, spc.csv, backtest.csv, summary.csv and sentences.txt (each atomically); with ``workbook``,
    also <crime>.xlsx holding the same tables and the sentences."""
    out = Path(out_dir)
    tables = run_tables(result)
    sentences = result.sentences()
    written = {name: write_csv(frame, out / f"{name}.csv") for name, frame in tables.items()}
    written["sentences"] = write_text("\n".join(sentences) + "\n", out / "sentences.txt")
    if workbook:
        sheets = {"Summary": tables["summary"], "Forecast": tables["forecast"], "SPC": tables["spc"],
                  "Backtest": tables["backtest"], "Sentences": pd.DataFrame({"sentence": sentences})}
        written["workbook"] = write_workbook(sheets, out / f"{result.slug}.xlsx")
    return written


def write_winter(plan, out_dir: str | Path) -> dict[str, Path]:
    """A winter plan's (:class:`forecast.jobs.winter.WinterPlan`) winter.csv (every series), winter_months.csv,
    backtest.csv, backtest_summary.csv and sentences.txt."""
    out = Path(out_dir)
    return {"winter": write_csv(rounded(plan.ranked(plan.keys)), out / "winter.csv"),
            "months": write_csv(rounded(plan.months_frame()), out / "winter_months.csv"),
            "backtest": write_csv(rounded(plan.backtest_frame()), out / "backtest.csv"),
            "backtest summary": write_csv(rounded(plan.backtest_summary()), out / "backtest_summary.csv"),
            "sentences": write_text("\n".join(plan.sentences()) + "\n", out / "sentences.txt")}


#: the file that marks a folder as a board pack (so that `forecast board --out` may replace it)
BOARD_MANIFEST = "board.json"


def write_board(pack, out_dir: str | Path, data: str) -> dict[str, Path]:
    """A board pack (:class:`forecast.jobs.pack.BoardPack`) as a folder that appears whole or not at all:
    board.txt (the sentences under their headings), sentences.csv, contributors.csv, shares.csv, drivers.csv and
    board.json (what it is)."""
    import json

    from forecast.files import atomic_folder

    tables = {"sentences": pack.sentences, "contributors": rounded(pack.contributors), "shares": rounded(pack.shares),
              "drivers": pack.drivers.round({"before": 2, "during": 2, "change": 2, "share_of_change": 4})}
    with atomic_folder(out_dir) as work:
        for name, frame in tables.items():
            write_csv(frame, work / f"{name}.csv")
        write_text(pack.text(), work / "board.txt")
        write_text(json.dumps({"kind": "board pack", "data": data, "month": pack.month,
                               "sentences": len(pack.sentences), "signalling_series":
                               int(pack.drivers[["crime_type", "area"]].drop_duplicates().shape[0])}, indent=1) + "\n",
                   work / BOARD_MANIFEST)
    out = Path(out_dir)
    return {name: out / f"{name}.csv" for name in tables} | {"board": out / "board.txt"}
