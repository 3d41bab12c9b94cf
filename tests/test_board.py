"""The board's order: exceptions first, ranked; quiet series collapsed into one line each."""

import numpy as np
import pandas as pd
import pytest

from forecast.jobs import board
from forecast.control import xmr as spc
from forecast.engine.outlook import Outlook, sentence

MONTHS = pd.period_range("2015-01", periods=48, freq="M")
BASE = np.array([100, 104, 97, 102, 99, 103, 96, 101, 98, 105, 95, 100] * 4, float)


def _series() -> dict:
    step = BASE.copy()
    step[-8:] += 40
    beyond = BASE.copy()
    beyond[-2:] += 60
    near = BASE.copy()
    near[-7:] = [103, 104, 103, 105, 104, 103, 104]
    low = np.array([1, 0, 2, 1, 0, 1] * 8, float)
    ys = {"Stable": BASE, "Step": step, "Beyond": beyond, "Near": near, "Low": low, "Quiet": BASE[::-1].copy(),
          "All areas": BASE * 30}
    return {("Robbery", a): spc.analyse(pd.Series(y, MONTHS), "Robbery", a) for a, y in ys.items()}


def _outlook(result, up: float, down: float) -> Outlook:
    o = Outlook("Robbery", result.area, result.last_month, 0, 0, up, down, (0.0, up + down, 0.0), 0.0, 0.0, None,
                1000)
    return Outlook(**{**o.__dict__, "sentences": (sentence(o),)})


def test_exceptions_lead_in_rank_order_and_quiet_series_collapse():
    results = _series()
    outlooks = {("Robbery", "Quiet"): _outlook(results[("Robbery", "Quiet")], 0.0, 0.71)}
    att = {k: board.attention(r, outlooks.get(k)) for k, r in results.items()}
    keys = list(results)
    assert [k[1] for k in board.ranked(keys, att)] == ["Step", "Beyond", "Near", "Quiet", "All areas", "Stable", "Low"]
    assert [att[("Robbery", a)].label for a in ("Step", "Beyond", "Near", "Quiet", "Stable", "Low")] == [
        "recent step change", "beyond the limits", "close to a step change", "step change expected", "stable",
        "too few crimes"]
    said = board.board_sentences(keys, att, ["Based on seasonality, Robbery may fall over the next 3 months in Near."])
    assert said == [
        "Robbery in Step has seen a significant step change increase in average monthly levels, starting 2018-04 and "
        "declared in 2018-11. Average monthly recorded Robbery in Step is now 135, up from 100, which is a percentage "
        "change of +35%.",
        "Robbery in Beyond has seen significant increases in the last 2 months, with monthly levels on or above the "
        "upper control limit.",
        "Robbery in Near has been above average for the last 7 months; another month above average will bring about "
        "a significant step change up.",
        "Robbery in Quiet: a significant step change down is likely in 2019-02 (probability 0.71).",
        "Based on seasonality, Robbery may fall over the next 3 months in Near.",
        "Stable, with no signal and no step change expected: Robbery for the force total and in Stable.",
        "Too few crimes a month for reliable SPC signals: Robbery in Low.",
    ]


def test_weights_order_within_a_rank():
    results = _series()
    quiet = results[("Robbery", "Quiet")]
    stable = results[("Robbery", "Stable")]
    outlooks = {("Robbery", "Quiet"): _outlook(quiet, 0.2, 0.0), ("Robbery", "Stable"): _outlook(stable, 0.55, 0.0)}
    att = {k: board.attention(results[k], outlooks[k]) for k in outlooks}
    assert att[("Robbery", "Stable")].weight == pytest.approx(0.55)
    assert board.ranked(list(outlooks), att) == [("Robbery", "Stable"), ("Robbery", "Quiet")]
    # below the 0.1 a possible change needs, the outlook adds nothing and the series stays stable
    assert board.attention(stable, _outlook(stable, 0.05, 0.0)).rank == board.STABLE


def test_step_change_declared_this_month_keeps_the_spc_sentence():
    y = BASE.copy()
    y[-8:] += 40
    y[-9] = 99  # the run of eight starts exactly eight months ago: declared in the latest month
    result = spc.analyse(pd.Series(y, MONTHS), "Robbery", "Step")
    a = board.attention(result)
    assert a.rank == board.STEP_CHANGE and a.sentences == result.sentences
    assert a.sentences[0].startswith("Robbery in Step has seen a significant step change increase")


def test_seasonal_sentences_name_only_seasonal_series_and_read_as_english():
    from forecast.control.seasonality import outlook_sentences

    outlook = pd.DataFrame({"area": ["Camden", "Westminster", "Hackney", "Sutton"],
                            "seasonal_change_pct": [6.0, -64.0, -3.0, -1.0], "strength": [0.6, 0.0, 0.5, 0.9]})
    # Westminster's -64% has no seasonal pattern behind it (strength 0.00), Sutton's -1% is too small
    assert outlook_sentences(outlook, 3, by="area", crime="Robbery") == [
        "Based on seasonality, Robbery may rise over the next 3 months in Camden.",
        "Based on seasonality, Robbery may fall over the next 3 months in Hackney."]
    assert outlook_sentences(outlook[outlook["strength"] == 0], 3, by="area", crime="Robbery") == []
