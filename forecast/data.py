"""The panel: one tidy frame of monthly counts per crime type and area, its names and its totals.

Readers (:mod:`forecast.io.tidy`, :mod:`forecast.io.police_uk`, :mod:`forecast.io.datasets`) build it and
:func:`forecast.io.load.load_panel` chooses among them; this module imports none of them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from forecast.errors import SelectionError

ALL_AREAS = "All areas"
ALL_CRIME = "All crime"
ANTI_SOCIAL = "Anti-social behaviour"
NO_LOCATION = "(no location)"
SHORT_SERIES_MONTHS = 24
COLUMNS = ["month", "area", "crime_type", "count"]


@dataclass(frozen=True)
class Panel:
    """All series of one data set as a tidy long frame, with where it came from."""

    frame: pd.DataFrame
    name: str
    source: str
    fill_missing: str | None = None
    all_crime_excludes: tuple[str, ...] = field(default=(ANTI_SOCIAL,))
    #: what the readers noticed and the user should hear (an assumed encoding)
    notes: tuple[str, ...] = ()

    @property
    def crime_types(self) -> list[str]:
        return sorted(self.frame["crime_type"].unique())

    @property
    def areas(self) -> list[str]:
        """Areas of their own (see :func:`_located`)."""
        return _areas(self.frame)

    @property
    def months(self) -> pd.PeriodIndex:
        return pd.period_range(self.frame["month"].min(), self.frame["month"].max(), freq="M")

    @property
    def is_count(self) -> bool:
        """True when every value is a whole number (crime counts rather than rates)."""
        values = self.frame["count"].to_numpy()
        return bool(np.all(np.mod(values, 1) == 0))

    def keys(self) -> list[tuple[str, str]]:
        """(crime_type, area) of every series, sorted, force totals last within a crime type.

        Worked out once per panel (a command asks several times, and a 3-million-row frame takes a fifth of a
        second each time): a panel's frame is not changed in place, every method returns a new panel."""
        found = self.__dict__.get("_keys")
        if found is None or found[0] is not self.frame:
            pairs = _located(self.frame)[["crime_type", "area"]].drop_duplicates()
            found = (self.frame, sorted(map(tuple, pairs.to_numpy()), key=lambda k: (k[0], k[1] == ALL_AREAS, k[1])))
            object.__setattr__(self, "_keys", found)
        return list(found[1])

    def series(self, crime_type: str, area: str) -> pd.Series:
        """One series as counts indexed by a monthly PeriodIndex."""
        rows = self.frame[(self.frame["crime_type"] == crime_type) & (self.frame["area"] == area)]
        if rows.empty:
            raise SelectionError(f"{self.name}: no series for crime type {crime_type!r} in area {area!r}")
        return pd.Series(rows["count"].to_numpy(dtype=float), index=pd.PeriodIndex(rows["month"], freq="M"),
                         name=f"{crime_type} / {area}").sort_index()

    def iter_series(self) -> Iterable[tuple[tuple[str, str], pd.Series]]:
        """Every series in key order, each as in :meth:`series`."""
        for key, (months, counts) in self.iter_arrays():
            yield key, pd.Series(counts, index=pd.PeriodIndex.from_ordinals(months, freq="M"),
                                 name=f"{key[0]} / {key[1]}")

    def iter_arrays(self) -> Iterable[tuple[tuple[str, str], tuple[np.ndarray, np.ndarray]]]:
        """Every series in key order as (key, (month ordinals, counts)): :meth:`iter_series` without a pandas
        object per series, for work that sends the numbers elsewhere (a Series costs 50 microseconds to make, a
        second of a parent process's time on a national panel)."""
        counts = self.frame["count"].to_numpy(dtype=float)
        months = pd.PeriodIndex(self.frame["month"], freq="M").asi8
        rows = self.frame.groupby(["crime_type", "area"], sort=False).indices
        for key in self.keys():
            at = rows[key]
            ordinals = months[at]
            if ordinals.size > 1 and not (ordinals[1:] > ordinals[:-1]).all():
                at = at[np.argsort(ordinals, kind="stable")]
                ordinals = months[at]
            yield key, (ordinals, counts[at])

    def lengths(self) -> pd.Series:
        """Months per series, indexed by (crime_type, area)."""
        return _located(self.frame).groupby(["crime_type", "area"])["month"].count()

    def short_series(self, min_months: int = SHORT_SERIES_MONTHS) -> list[tuple[str, str]]:
        """Series with fewer than ``min_months`` months: kept, but later steps limit what they do."""
        lengths = self.lengths()
        return [tuple(k) for k in lengths[lengths < min_months].index]

    def content_hash(self) -> str:
        """SHA-256 of the tidy content, stable across file formats that hold the same numbers."""
        frame = self.frame.sort_values(["crime_type", "area", "month"])
        text = frame[COLUMNS].astype({"month": str}).to_csv(index=False)
        return hashlib.sha256(text.encode()).hexdigest()

    def select(self, crime: str | Sequence[str] | None = None, area: str | Sequence[str] | None = None) -> "Panel":
        """The panel narrowed to crime types and areas named the forgiving way (see :func:`resolve_names`)."""
        frame = self.frame
        if crime:
            wanted = resolve_names(crime, self.crime_types, "crime type")
            frame = frame[frame["crime_type"].isin(wanted)]
        if area:
            wanted = resolve_names(area, _areas(frame), "area")
            frame = frame[frame["area"].isin(wanted)]
        return replace(self, frame=frame.reset_index(drop=True))

    def last_months(self, n: int) -> "Panel":
        """The panel cut to its last ``n`` calendar months."""
        keep = self.months[-n:]
        frame = self.frame[self.frame["month"] >= keep[0]].reset_index(drop=True)
        return replace(self, frame=frame)

    def with_totals(self, force_total: bool = True, all_crime: bool = True,
                    include_asb: bool = False) -> "Panel":
        """The panel plus the force total per crime type and "All crime" per area (see :func:`add_totals`)."""
        excludes = () if include_asb else self.all_crime_excludes
        frame = add_totals(self.frame, force_total=force_total, all_crime=all_crime, all_crime_excludes=excludes)
        return replace(self, frame=frame)

    def tidy(self) -> pd.DataFrame:
        """The panel as `forecast ingest` writes it: month, area, crime_type, count (and force, where there is one)."""
        columns = ["month", "area", "crime_type", "count"] + (["force"] if "force" in self.frame else [])
        return self.frame[columns]

    def summary(self) -> dict:
        """Months, areas, crime types and series counts, for listings."""
        months = self.months
        return {"name": self.name, "first_month": str(months[0]), "last_month": str(months[-1]),
                "months": len(months), "areas": len(self.areas), "crime_types": len(self.crime_types),
                "series": len(self.keys()), "short_series": len(self.short_series())}


def _located(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of areas of their own: crimes without a location count in the force total only."""
    return frame[~frame["area"].str.startswith(NO_LOCATION)]


def _areas(frame: pd.DataFrame) -> list[str]:
    return sorted(_located(frame)["area"].unique())


def slug(name: str) -> str:
    """'Violence Against the Person' -> 'violence-against-the-person'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def resolve_names(query: str | Sequence[str], names: Sequence[str], kind: str) -> list[str]:
    """Match user-typed names to real ones: case-insensitive, by name, slug or unique slug prefix.

    A comma-separated string or a sequence selects several. Unknown or ambiguous names raise
    :class:`SelectionError` listing the valid names.
    """
    queries = [q.strip() for q in (query.split(",") if isinstance(query, str) else query) if q.strip()]
    found: list[str] = []
    for q in queries:
        exact = [n for n in names if n.lower() == q.lower() or slug(n) == slug(q)]
        matches = exact or [n for n in names if slug(n).startswith(slug(q)) and slug(q)]
        if len(matches) != 1:
            problem = "matches several" if matches else "matches no"
            options = matches or names
            guess = "" if matches else did_you_mean(q, names)
            raise SelectionError(f"{kind} {q!r} {problem} {kind}s;{guess} valid: " + ", ".join(options))
        if matches[0] not in found:
            found.append(matches[0])
    return found


def did_you_mean(query: str, names: Sequence[str]) -> str:
    """' did you mean 'Burglary'?' for a misspelling close to one or two names (compared as slugs), else ''."""
    import difflib

    by_slug = {slug(n): n for n in names}
    close = difflib.get_close_matches(slug(query), list(by_slug), n=2, cutoff=0.75)
    return f" did you mean {' or '.join(repr(by_slug[c]) for c in close)}?" if close else ""


#: an area that joins or leaves a force total matters to its SPC from this share of the total up
UNEVEN_SHARE = 0.01


def uneven_totals(frame: pd.DataFrame) -> list[str]:
    """Per crime type, the areas that start later or stop earlier than the others and hold at least
    UNEVEN_SHARE of its crimes: a force total summed over them jumps where one joins or leaves, which SPC would
    read as a signal. One note for the crime types with the same areas."""
    by_parts: dict[str, list[str]] = {}
    base = _located(frame[(frame["area"] != ALL_AREAS) & (frame["crime_type"] != ALL_CRIME)])
    every = base.groupby(["crime_type", "area"]).agg(first=("month", "min"), last=("month", "max"),
                                                     mean=("count", "mean"))
    for crime, spans in every.groupby(level="crime_type"):
        spans = spans.droplevel("crime_type")
        if len(spans) < 2:
            continue
        first, last = spans["first"].min(), spans["last"].max()
        spans = spans[spans["mean"] >= UNEVEN_SHARE * spans["mean"].sum()]
        parts = [f"{a} only from {r['first']}" for a, r in spans.iterrows() if r["first"] > first]
        parts += [f"{a} only to {r['last']}" for a, r in spans.iterrows() if r["last"] < last]
        if parts:
            by_parts.setdefault(", ".join(parts), []).append(crime)
    return [f"the force total of {', '.join(crimes)} counts {parts}: it jumps where an area joins or leaves, and a "
            "signal there may be that, not a change in crime" for parts, crimes in by_parts.items()]


def force_of_areas(frame: pd.DataFrame) -> pd.Series:
    """The force of each area, where the frame names one (street files, a tidy CSV with a force column)."""
    if "force" not in frame:
        return pd.Series(dtype=object)
    named = frame[(frame["force"].fillna("") != "") & (frame["area"] != ALL_AREAS)]
    return named.drop_duplicates("area").set_index("area")["force"]


def add_totals(frame: pd.DataFrame, force_total: bool = True, all_crime: bool = True,
               all_crime_excludes: Iterable[str] = (ANTI_SOCIAL,)) -> pd.DataFrame:
    """Add "All crime" per area (summing every type but the excluded ones) and the force total per type.

    Totals are only added where they say something new: "All crime" when there are several crime
    types, "All areas" when there are several areas. A panel of several forces gets each force's total instead,
    named for the force ("West Midlands Police"), summing the areas it recorded most of. Existing total rows are
    never double counted.
    """
    base = frame[(frame["area"] != ALL_AREAS) & (frame["crime_type"] != ALL_CRIME)]
    parts = [frame]
    if all_crime and base["crime_type"].nunique() > 1 and not (frame["crime_type"] == ALL_CRIME).any():
        counted = base[~base["crime_type"].isin(set(all_crime_excludes))]
        totals = counted.groupby(["month", "area"], as_index=False)["count"].sum()
        totals["crime_type"] = ALL_CRIME
        parts.append(totals)
    with_all_crime = pd.concat(parts, ignore_index=True)
    forces = force_of_areas(frame)
    if force_total and forces.nunique() > 1:
        per_area = with_all_crime[~with_all_crime["area"].isin(set(forces))]
        totals = per_area.assign(area=per_area["area"].map(forces)).dropna(subset=["area"])
        totals = totals[~totals["area"].isin(set(base["area"]))]
        parts.append(totals.groupby(["month", "area", "crime_type"], as_index=False)["count"].sum())
    elif force_total and base["area"].nunique() > 1 and not (frame["area"] == ALL_AREAS).any():
        per_area = with_all_crime[with_all_crime["area"] != ALL_AREAS]
        totals = per_area.groupby(["month", "crime_type"], as_index=False)["count"].sum()
        totals["area"] = ALL_AREAS
        parts.append(totals)
    out = pd.concat(parts, ignore_index=True)
    if "force" in frame:
        named = {**forces.to_dict(), **{f: f for f in forces.unique()}}
        if forces.nunique() == 1:
            named[ALL_AREAS] = forces.iloc[0]
        out["force"] = out["area"].map(named).astype(object).fillna("")
    out = out[COLUMNS + (["force"] if "force" in frame else [])]
    return out.sort_values(["crime_type", "area", "month"]).reset_index(drop=True)
