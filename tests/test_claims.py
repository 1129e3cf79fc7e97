"""The claims page (reports/claims.json) gathered from the committed reports: one entry per claim and column in
the shape the README documents, and verdicts that agree with their intervals."""

from pathlib import Path

from phased_dmd.reports.claims import CLAIMS, collect, pending

REPORTS = Path(__file__).resolve().parents[1] / "reports"


def test_every_claim_of_the_paper_has_a_verdict_with_its_effect_and_interval():
    claims, waiting = collect(REPORTS), pending(REPORTS)
    assert {key.split("/")[0] for key in claims} | set(waiting) == {c.id for c in CLAIMS}  # judged, or said not to be
    assert not {key.split("/")[0] for key in claims} & set(waiting)
    assert {c.id.split("-")[0] for c in CLAIMS} == {f"C{i}" for i in range(1, 10)}
    for key, c in claims.items():
        assert set(c) >= {"statement", "verdict", "effect", "measure", "report", "paper"}, key
        assert c["verdict"] in ("held", "reversed", "undecided"), key
        lo, hi = c["effect"]["ci95"]
        assert lo <= c["effect"]["mean"] <= hi and c["effect"]["n"] >= 1, key
        assert (REPORTS.parent / c["report"]).exists(), key


def test_paired_verdicts_agree_with_their_intervals():
    """Held or reversed: the interval excludes 0; undecided: it holds 0, and the smallest detectable effect is
    stated (the paired claims, which have seeds)."""
    for key, c in collect(REPORTS).items():
        if c["effect"].get("mde") is None:
            continue
        lo, hi = c["effect"]["ci95"]
        assert (c["verdict"] == "undecided") == (lo <= 0 <= hi), key
        if c["verdict"] == "undecided":
            assert c["effect"]["mde"] > 0, key


def test_the_committed_page_is_what_the_reports_give():
    import json

    page = json.loads((REPORTS / "claims.json").read_text())
    assert page["claims"] == collect(REPORTS) and page["pending"] == pending(REPORTS)
