"""SPC commands: processes, limits and step changes (`forecast spc`), and the seasonal picture (`decompose`)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import click

from forecast.cli.options import InputError, data_options, history_option, output_options, selection_options, spc_options
from forecast.cli.outputs import check_outputs, emit, text_output
from forecast.cli.surveys import ProportionFile, reads_proportions
from forecast.cli.progress import Progress
from forecast.data import ALL_AREAS, Panel


@click.command()
@data_options
@selection_options()
@spc_options
@output_options
@click.option("--chart", type=click.Path(dir_okay=False), default=None, metavar="PNG",
              help="Also draw the SPC chart (one series) or small multiples (several) to this PNG.")
@click.option("--svg", is_flag=True, help="With --chart: also write an SVG.")
@history_option
@reads_proportions
def spc(panel: Panel, spc_options, fmt, output, chart, svg, history) -> None:
    """Process averages, control limits, significant step changes and the board's sentences.

    One row per series for the latest month, then the sentences. A file of proportions (month, area, measure,
    numerator, denominator: a survey's satisfied of surveyed) gets p-charts, or Laney's p' chart where the
    samples are large and over-dispersed.

    \b
        forecast spc --crime burglary --area camden
        forecast spc --crime burglary --area camden --chart camden.png --history all
    """
    import functools

    from forecast import api
    from forecast.present.tables import SPC_HEADER, format_table

    check_outputs(files=[output], charts=[chart])
    if isinstance(panel, ProportionFile):
        return proportion_spc(panel, fmt, output, chart, svg, history)
    # streamed: each series is written (or, for the table, summarised) as it is analysed, so that a panel of
    # tens of thousands of series never holds every result in memory
    results, rows, sentences = [], [], []
    with Progress(len(panel.keys()), "SPC") as progress, text_output(output) as out:
        if fmt == "json":
            out.write("[")
        # charts need the whole results, here; otherwise each is turned into its text where it was analysed
        analysed = api.iter_spc(panel, spc_options, n_jobs=1 if chart else os.cpu_count() or 1,
                                then=None if chart else functools.partial(spc_written, fmt=fmt))
        for i, w in enumerate(analysed):
            progress(w)
            if chart:
                results.append(w)
                w = spc_written(w, fmt)
            if fmt == "json":
                out.write(("," if i else "") + "\n" + w.text)
            elif fmt == "csv":
                out.write(w.text if i == 0 else w.text.split("\n", 1)[1])  # the header once
            else:
                rows.append(w.row)
                sentences += w.sentences
        if fmt == "json":
            out.write("\n]\n")
        elif fmt == "table":
            last = rows[0][-1] if rows else ""
            adjusted = "; averages and limits seasonally adjusted" if spc_options.adjust == "seasonal" else ""
            out.write("\n".join([f"SPC at {last} ({len(rows)} series; * = trial limits{adjusted})",
                                  format_table([SPC_HEADER] + [row[:-1] for row in rows]), "", *sentences]) + "\n")
    if chart:
        from forecast.present.plots import save

        for path in save(api.SPC(tuple(results), panel.name).plot(history=history), chart, svg):
            click.echo(f"wrote {path}", err=True)
    if output:
        click.echo(f"wrote {output}", err=True)


def proportion_spc(data: ProportionFile, fmt: str, output, chart=None, svg=False, history=None) -> None:
    """`forecast spc` of a file of proportions (or rates per 1,000): a row per measure and area, then the board's
    sentences; with ``chart``, the p (or u) charts."""
    import pandas as pd

    from forecast import api
    from forecast.control.proportions import CHARTS, extremes_sentence, pct
    from forecast.files import csv_text
    from forecast.present.tables import format_table

    results = api.spc_proportions(data.path)
    if chart:
        from forecast.present.plots import proportion_chart, save

        for path in save(proportion_chart(results, history=history), chart, svg):
            click.echo(f"wrote {path}", err=True)
    # percent to one decimal, or the rate per 1,000 as it is, to two
    places = 1 if results[0].per is None else 2
    rows = pd.DataFrame([{"measure": r.measure, "area": r.area, "last_month": str(r.last_month),
                          "status": r.status, "chart": r.chart, "mean": round(r.scale * r.current["mean"], places),
                          "lcl": round(r.scale * r.points["lcl"].iloc[-1], places),
                          "ucl": round(r.scale * r.points["ucl"].iloc[-1], places),
                          "latest": round(r.scale * r.points["p"].iloc[-1], places),
                          "months_in_process": int(r.current["n"]), "sentence": r.sentences[0]} for r in results])
    if fmt == "csv":
        return emit(csv_text(rows), output)
    if fmt == "json":
        return emit(rows.to_json(orient="records", indent=1), output)
    per = f" (per {results[0].per:,})" if results[0].per else ""
    table = [("measure", "area", "status", "chart", f"average{per}", "latest", "limits (latest month)", "months")]
    def cells(r, *values: float) -> list[str]:  # a rate's unit is in the header
        return [pct(x) if r.per is None else f"{x:,.2f}" for x in values]
    table += [(r.measure, r.area, r.status, CHARTS[r.chart], *cells(r, r.current["mean"], r.points["p"].iloc[-1]),
               "-".join(cells(r, r.points["lcl"].iloc[-1], r.points["ucl"].iloc[-1])), int(r.current["n"]))
              for r in results]
    sentences = [s for r in results for s in r.sentences]
    for measure in dict.fromkeys(r.measure for r in results):
        extremes = extremes_sentence([r for r in results if r.measure == measure])
        if extremes:
            sentences.append(extremes)
    from forecast.words import printable

    for note in [f"note: {r.measure} in {r.area}: {n}" for r in results for n in r.notes]:
        click.echo(printable(note), err=True)
    what = "proportions" if results[0].per is None else f"rates per {results[0].per:,}"
    emit("\n".join([f"SPC of {what} at {results[-1].last_month} ({len(results)} series)", format_table(table),
                    "", *[f"- {s}" for s in sentences]]) + "\n", output)


@dataclass(frozen=True)
class SPCWritten:
    """What ``forecast spc`` writes of one series: its text (JSON or CSV), or its table row and sentences."""

    crime_type: str
    area: str
    text: str
    row: list | None
    sentences: tuple[str, ...]


def spc_written(r, fmt: str) -> SPCWritten:
    from forecast.control.xmr import points_frame
    from forecast.files import csv_text
    from forecast.present.tables import spc_row

    if fmt == "json":
        return SPCWritten(r.crime_type, r.area, json.dumps(r.to_dict(), indent=1), None, ())
    if fmt == "csv":
        return SPCWritten(r.crime_type, r.area, csv_text(points_frame([r])), None, ())
    return SPCWritten(r.crime_type, r.area, "", spc_row(r), tuple(r.sentences))


@click.command()
@data_options
@selection_options()
@click.option("--outlook", is_flag=True, help="Rank crime types by the change expected from seasonality alone.")
@click.option("--horizon", default=3, show_default=True, type=click.IntRange(1, 12), help="Months ahead.")
@click.option("--months", default=24, show_default=True, type=click.IntRange(1, 10000),
              help="Latest months of components to print.")
@output_options
@click.option("--chart", type=click.Path(dir_okay=False), default=None, metavar="PNG",
              help="Also draw the components and seasonal index of the series to this PNG.")
def decompose(panel: Panel, outlook, horizon, months, fmt, output, chart) -> None:
    """Seasonal decomposition (robust STL), seasonal indices and the seasonal outlook.

    \b
        forecast decompose --crime robbery --area all-areas
        forecast decompose --outlook
    """
    from forecast import api
    from forecast.files import csv_text
    from forecast.present.tables import format_table

    check_outputs(files=[output], charts=[chart])
    if outlook:
        table, said = api.seasonal_outlook(panel, horizon=horizon, totals=False)
        if fmt == "json":
            return emit(table.to_json(orient="records", indent=1), output)
        if fmt == "csv":
            return emit(csv_text(table), output)
        rows = [("crime type", "area", "next months", "seasonal change", "%", "strength")]
        rows += [(r.crime_type, r.area, r.next_months, f"{r.seasonal_change:+.1f}", f"{r.seasonal_change_pct:+.1f}%",
                  f"{r.strength:.2f}") for r in table.itertuples()]
        return emit(format_table(rows) + "\n\n" + "\n".join(said), output)
    keys = panel.keys()
    if len(keys) != 1:
        raise InputError(f"decompose needs one series: give --crime and --area ({len(keys)} series selected), "
                         "or use --outlook")
    d = api.decompose(panel)
    if chart:
        from forecast.present.plots import save, seasonality_chart

        fig = seasonality_chart(d.components, d.indices(),
                                title=f"{d.crime_type} / {d.area}: seasonal decomposition (strength {d.strength:.2f})")
        for path in save(fig, chart):
            click.echo(f"wrote {path}", err=True)
    emit(decomposition_text(d, fmt, months), output)


def decomposition_text(d, fmt: str, months: int) -> str:
    """A decomposition as JSON, CSV, or the strength, seasonal indices and latest components as tables."""
    from forecast.files import csv_text
    from forecast.present.tables import format_table

    components = d.components.reset_index(names="month").astype({"month": str})
    if fmt == "json":
        return json.dumps({"crime_type": d.crime_type, "area": d.area, "strength": d.strength,
                           "indices": d.indices().to_dict(orient="records"),
                           "components": components.to_dict(orient="records")}, indent=1)
    if fmt == "csv":
        return csv_text(components)
    idx = d.indices()
    return "\n".join([
        f"{d.crime_type} / {d.area}: strength of seasonality {d.strength:.2f} (0 none, 1 all)", "",
        "Seasonal index by calendar month (100 = an average month; effect in counts, last 5 years):",
        format_table([("", *idx["month"])] + [("index", *[f"{v:.0f}" for v in idx["index"]])]
                     + [("effect", *[f"{v:+.0f}" for v in idx["effect"]])]), "",
        f"Components, last {min(months, len(components))} months:",
        format_table([("month", "observed", "trend", "seasonal", "remainder")] + [
            (r.month, f"{r.observed:.0f}", f"{r.trend:.1f}", f"{r.seasonal:+.1f}", f"{r.resid:+.1f}")
            for r in components.tail(months).itertuples()])])


@click.command()
@data_options
@click.option("--crime", default=None, metavar="NAME",
              help="Each area's share of the force's crimes of this type (or 'All crime') [default: each crime type's "
                   "share of its group].")
@click.option("--area", default=None, metavar="NAME", help="Split the groups in this area [default: the force].")
@click.option("--groups", type=click.Path(dir_okay=False), default=None, metavar="CSV",
              help="Crime type groups, tidy crime_type,group [default: the data's own, e.g. met-minor's major "
                   "categories].")
@output_options
def shares(panel: Panel, crime, area, groups, fmt, output) -> None:
    """Shares of a whole on a proportion chart: each crime type's share of its group (or each area's share of a
    crime type), the board's sentences, and "the normal proportion split" where no share has a signal.

    \b
        forecast shares --data met-minor
        forecast shares --data met-minor --crime personal-property
    """
    from forecast import api
    from forecast.control.proportions import CHARTS
    from forecast.files import csv_text
    from forecast.present.tables import format_table

    check_outputs(files=[output])
    result = api.shares(panel, crime=crime, area=area, groups=groups)
    summary = result.summary
    if fmt == "csv":
        return emit(csv_text(summary.round({"share": 4, "average": 4})), output)
    if fmt == "json":
        return emit(summary.round({"share": 4, "average": 4}).to_json(orient="records", indent=1), output)
    rows = [("whole", "part", "share", "average", "since", "chart", "signal")]
    rows += [(r.whole, r.part, f"{r.share:.1%}", f"{r.average:.1%}", r.since, CHARTS[r.chart], r.signal or "-")
             for r in summary.itertuples()]
    where = "the force" if result.area == ALL_AREAS else result.area
    emit("\n".join([f"Shares in {where} at {summary['month'].iloc[-1]} (by {result.by})", format_table(rows), "",
                    *[f"- {s}" for s in result.sentences]]) + "\n", output)


@click.command()
@data_options
@click.option("--crime", default=None, metavar="NAME",
              help="The crime type whose areas to rank and whose step change to explain [default: All crime].")
@output_options
def contributions(panel: Panel, crime, fmt, output) -> None:
    """What the latest month is made of, and what drove a step change: the top crime types of All crime, the
    fewest areas holding half of the crimes, and for each force total with a step change this quarter the areas
    that drove it and the areas sharing it.

    \b
        forecast contributions
        forecast contributions --crime robbery
    """
    import pandas as pd

    from forecast import api
    from forecast.files import csv_text
    from forecast.present.tables import format_table

    check_outputs(files=[output])
    result = api.contributions(panel, crime=crime)
    tables = pd.concat([result.crime_types.assign(by="crime type", whole="All crime"),
                        result.areas.assign(by="area", whole=result.crime)], ignore_index=True)
    if fmt == "csv":
        return emit(csv_text(tables.round({"share": 4, "cumulative": 4})), output)
    if fmt == "json":
        return emit(tables.round({"share": 4, "cumulative": 4}).to_json(orient="records", indent=1), output)
    rows = [("crime type", "crimes", "share", "cumulative")]
    rows += [(r.part, f"{r.count:,.0f}", f"{r.share:.1%}", f"{r.cumulative:.1%}")
             for r in result.crime_types.head(10).itertuples()]
    emit("\n".join([f"Contributions to All crime in the force, {result.month}", format_table(rows), "",
                    *[f"- {s}" for s in result.sentences]]) + "\n", output)


COMMANDS = (spc, decompose, shares, contributions)
