"""Every case of tests/data/conformance_cases.json (copied from shared/spc; provenance in each case's
``source``). Cases from NHSRplotthedots ("mdc_ptd") run under the parameters that reproduce that
package, where SPC.md deliberately departs from it: screening on, limits from all points, the
pre-2023 two-in-three rule (close points exclude those beyond the limits), no automatic step changes.
"""

import json

import numpy as np
import pandas as pd
import pytest

from forecast.control import xmr as spc
from conftest import DATA

SPEC = json.loads((DATA / "conformance_cases.json").read_text())
CASES = {c["id"]: c for c in SPEC["cases"]}
ABS, REL = SPEC["tolerance"]["abs"], SPEC["tolerance"]["rel"]

ANCHOR = spc.SPCOptions(baseline=None, screen_mr=True, two_in_three_beyond_limits=False,
                        auto_step_change=False, improvement_direction="increase", min_mean=0, floor_at_zero=False)
EXCEL = spc.SPCOptions(baseline=None, screen_mr=False, two_in_three_beyond_limits=False,
                       auto_step_change=False, improvement_direction="increase", min_mean=0, floor_at_zero=False)


def monthly(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=pd.period_range("2020-01", periods=len(values), freq="M"))


def assert_limits(limits: spc.Limits, expected: dict) -> None:
    names = {"mean": "mean", "amr": "amr", "lpl": "lcl", "upl": "ucl", "nlpl": "near_lcl", "nupl": "near_ucl"}
    for key, value in expected.items():
        got = getattr(limits, names[key])
        assert got == pytest.approx(value, abs=ABS, rel=REL), f"{key}: got {got!r}, expected {value!r}"


def assert_snapshot(limits: spc.Limits, snapshot: dict) -> None:
    names = {"mean": "mean", "lpl": "lcl", "upl": "ucl"}
    for key, value in snapshot.items():
        got = getattr(limits, names[key])
        assert float(f"{got:.7g}") == pytest.approx(value, abs=1e-12), f"{key}: got {got!r}, printed {value!r}"


def process_limits(result: spc.SPCResult, k: int) -> spc.Limits:
    row = result.processes.iloc[k]
    return spc.Limits(row["mean"], row["amr"], row["lcl"], row["ucl"], row["near_lcl"], row["near_ucl"])


def check_snapshot(case):
    y, screen = case["input"]["y"], case["input"]["screen_outliers"]
    options = ANCHOR if screen else EXCEL
    limits = spc.xmr_limits(y, screen_mr=screen)
    assert_snapshot(limits, case["expected"]["snapshot"])
    assert_limits(limits, case["expected"]["derived"])
    assert spc.classify_points(y, limits, options) == case["expected"]["special_cause_type"]
    result = spc.analyse(monthly(y), options=options)
    assert result.points["rule"].tolist() == case["expected"]["special_cause_type"]
    if "invariant" in case["expected"]:
        screened = spc.xmr_limits(y, screen_mr=True)
        assert limits.ucl - limits.lcl > screened.ucl - screened.lcl


def check_facets(case):
    y, facet = np.array(case["input"]["y"]), np.array(case["input"]["facet"])
    for key, snap in case["expected"]["snapshot"].items():
        result = spc.analyse(monthly(y[facet == int(key)]), options=ANCHOR)
        limits = process_limits(result, 0)
        assert_limits(limits, case["expected"]["derived"][key])
        assert (round(limits.mean, 4 if key == "0" else 3), float(f"{limits.lcl:.3g}"), float(f"{limits.ucl:.3g}")) \
            == (snap["mean"], snap["lpl"], snap["upl"])
        assert len(result.points) == snap["n"]
        assert (result.points["rule"] == "Common Cause").sum() == snap["common_cause"]
        assert bool(result.processes["trial"].iloc[0]) is case["expected"]["short_group_warning"]


def check_rebase(case):
    y, flags = case["input"]["y"], case["input"]["rebase_flag"]
    series = monthly(y)
    at = tuple(str(m) for m, f in zip(series.index, flags) if f)
    result = spc.analyse(series, options=spc.SPCOptions(**{**ANCHOR.__dict__, "step_changes_at": at}))
    assert result.points["process"].tolist() == case["expected"]["rebase_group"]
    assert_limits(process_limits(result, 0), case["expected"]["derived"]["group0"])
    assert_limits(process_limits(result, 1), case["expected"]["derived"]["group1"])
    assert result.step_changes["manual"].tolist() == [True]


def check_fix_after(case):
    n = case["input"]["fix_after_n_points"]
    options = spc.SPCOptions(**{**ANCHOR.__dict__, "baseline": n})
    result = spc.analyse(monthly(case["input"]["y"]), options=options)
    assert_limits(process_limits(result, 0), case["expected"]["derived"])
    assert result.points["ucl"].nunique() == 1  # the frozen limits apply to all 20 points


def check_vignette(case):
    y = case["input"]["y"]
    for screen, key in ((True, "screened"), (False, "unscreened")):
        limits = spc.xmr_limits(y, screen_mr=screen)
        assert_limits(limits, case["expected"][key]["derived"])
        vignette = case["expected"][key]["vignette"]
        assert (round(limits.ucl, 2), round(limits.mean, 2), round(limits.lcl, 2)) == \
            (vignette["upl"], vignette["mean"], vignette["lpl"])
        options = ANCHOR if screen else EXCEL
        result = spc.analyse(monthly(y), options=options)
        assert result.points["rule"].tolist() == case["expected"]["special_cause_type"]
        assert result.points["point_type"].iloc[4] == case["expected"]["point_type_5"]


def check_opposite_sides(case):
    result = spc.analyse(monthly(case["input"]["y"]), options=ANCHOR)
    assert result.points["point_type"].tolist()[-2:] == case["expected"]["last_two_point_type"]
    assert result.points["rule"].tolist() == case["expected"]["derived_all_types"]
    # the 2023 definition (points beyond the limits count as close) agrees here: the sides alternate
    default = spc.analyse(monthly(case["input"]["y"]), options=spc.SPCOptions(baseline=None))
    assert default.points["rule"].tolist() == case["expected"]["derived_all_types"]


def check_trend_flags(case):
    for sub in case["cases"]:
        assert spc.trend_end_flags(sub["y"]).tolist() == sub["end_flags"], sub


def check_part_of(case):
    for sub in case["cases"]:
        assert spc.part_of_run(sub["end_flags"]).tolist() == sub["part"], sub


def check_one_side(case):
    for sub in case["cases"]:
        assert spc.run_end_flags(sub["rtm"]).tolist() == sub["end_flags"], sub


def check_two_in_three(case):
    for sub in case["cases"]:
        window, part = spc.two_in_three(sub["close"], sub["rtm"])
        if "window_flag" in sub:
            assert window.tolist() == sub["window_flag"], sub
        if "part" in sub:
            assert part.tolist() == sub["part"], sub


def check_priority(case):
    # mocked flags (signed), one point per situation, in the order of the expected labels
    outside = [0, 0, 0, 0, 0, -1, -1, 0]
    trend = [1, 1, 0, 0, 0, 0, -1, 0]
    two_of_three = [0, 0, 0, 0, -1, -1, 0, 0]
    shift = [1, 0, 1, 1, -1, -1, -1, 0]
    assert spc.special_cause_labels(outside, trend, two_of_three, shift) == case["expected_labels"]


def check_assurance(case):
    inp = case["input"]
    for direction in ("increase", "decrease", "neutral"):
        got = [spc.assurance(inp["target"], spc.Limits(m, 0, l, u, l, u), direction)
               for l, m, u in zip(inp["lpl"], inp["mean"], inp["upl"])]
        assert got == case["expected"][direction], direction


def check_icons(case):
    inp = case["input"]

    def icon(y, direction="increase", target=None):
        options = spc.SPCOptions(**{**ANCHOR.__dict__, "improvement_direction": direction})
        result = spc.analyse(monthly(y), options=options)
        return result, result.icon, spc.assurance(target, process_limits(result, -1), direction)

    expected = {e["call"]: e for e in case["expected"]}
    assert icon(inp["y24"])[1:] == ("common_cause", None)
    assert icon(inp["y24"], target=0.5)[1:] == ("common_cause", "inconsistent")
    halves = [icon(inp["y24"][:12], target=0.5), icon(inp["y24"][12:], target=0.5)]
    assert [h[1] for h in halves] == expected["y24 faceted 12/12, no target"]["variation"]
    assert [h[2] for h in halves] == expected["y24 faceted, target 0.5"]["assurance"]
    for y, target, calls in ((inp["yA_first12_then_rnorm12_mean5"], -3, ("yA, target -3, increase", "yA, target -3, decrease")),
                             (inp["yB_first12_then_rnorm12_mean_minus5"], 3,
                              ("yB, target 3, increase", "yB, target 3, decrease", "yB, target 3, neutral"))):
        for call in calls:
            direction = call.rsplit(", ", 1)[1]
            result, variation, assured = icon(y, direction, target)
            assert (variation, assured) == (expected[call]["variation"], expected[call]["assurance"]), call
            if "derived" in expected[call]:
                d = expected[call]["derived"]
                assert result.points["rule"].iloc[-1] == d["last_type"]
                assert process_limits(result, 0).lcl == pytest.approx(d["lpl"], abs=ABS)
                assert process_limits(result, 0).ucl == pytest.approx(d["upl"], abs=ABS)


def check_pycom_limits(case):
    assert_limits(spc.xmr_limits(case["input"]["y"], screen_mr=False), case["expected"])
    assert_limits(spc.xmr_limits(case["input"]["y"], screen_mr=True), case["expected"])


def check_anhoej(case):
    for row in case["table"]:
        assert spc.anhoej_limits(row["n"]) == (row["longest_run_max"], row["crossings_min"]), row


def check_qic_constants(case):
    # worked by hand: the 18 points sum to 35 (mean 35/18 = 1.94444); the 17 moving ranges are 1, 1, 1, 8, 9 and
    # twelve 1s, summing to 32 (mR-bar 32/17 = 1.88235). qicharts2: sigma = mR-bar / 1.128 = 1.66875 and limits at
    # 3 sigma, 1.94444 +/- 5.00626 = 6.95070 and -3.06181; MDC: 1.94444 +/- 2.66 x 1.88235 = 6.95150 and -3.06261
    y = [1, 2, 1, 2, 10, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]
    qic = spc.xmr_limits(y, multiplier=3 / 1.128)
    assert (qic.mean, qic.amr) == (pytest.approx(1.944444, abs=1e-6), pytest.approx(1.882353, abs=1e-6))
    assert (qic.ucl, qic.lcl) == (pytest.approx(6.950702, abs=1e-6), pytest.approx(-3.061813, abs=1e-6))
    mdc = spc.xmr_limits(y)
    assert (mdc.ucl, mdc.lcl) == (pytest.approx(6.951503, abs=1e-6), pytest.approx(-3.062614, abs=1e-6))
    assert spc.xmr_limits(y, floor=0.0).lcl == 0.0  # counts: the lower limit is reported as 0
    # points on the centre line are ignored by the runs analysis: with the median 1.5 nothing sits on it, and the
    # longest run (1) and the 16 crossings of 17 useful points give no signal
    assert not spc.anhoej_signal(np.array(y, dtype=float), float(np.median(y)))


CHECKS = {
    "ptd_snapshot_r1": check_snapshot, "ptd_snapshot_r2_outlier_screened": check_snapshot,
    "ptd_snapshot_r3_outlier_not_screened": check_snapshot, "ptd_summary_facets": check_facets,
    "ptd_rebase_groups": check_rebase, "ptd_fix_after_12": check_fix_after,
    "ptd_vignette_deviations_screening": check_vignette, "ptd_two_in_three_opposite_sides": check_opposite_sides,
    "ptd_unit_seven_point_trend": check_trend_flags, "ptd_unit_part_of_seven": check_part_of,
    "ptd_unit_seven_one_side": check_one_side, "ptd_unit_two_in_three": check_two_in_three,
    "ptd_unit_special_cause_priority": check_priority, "ptd_assurance": check_assurance, "ptd_icons": check_icons,
    "pycom_limits_inc": check_pycom_limits, "pycom_limits_nt": check_pycom_limits,
    "pycom_limits_small": check_pycom_limits, "pycom_limits_large": check_pycom_limits,
    "pycom_limits_seven": check_pycom_limits, "pycom_limits_mixed": check_pycom_limits,
    "pycom_seven_point_trend": check_trend_flags, "qicharts2_anhoej_thresholds": check_anhoej,
    "qicharts2_i_chart_constants": check_qic_constants,
}


def test_every_case_has_a_check():
    assert set(CASES) == set(CHECKS)


@pytest.mark.parametrize("case_id", list(CASES))
def test_conformance(case_id):
    CHECKS[case_id](CASES[case_id])
