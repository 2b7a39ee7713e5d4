"""The test run page in headless Chromium, on the run the plugin gated on a real server.

What failed comes first, charts draw, filters change what is shown, and the page's counts are
the plugin's for the same run.
"""

from __future__ import annotations

import json

import pytest
from browser_helpers import (
    WAIT_MS,
    GatedServer,
    Tab,
    chart_data_length,
    follows,
    number_in,
    open_a_closed_chart,
    shown,
    wait_for_chart,
)

from pytest_rime.report.gating import GATES

pytestmark = pytest.mark.browser


def test_the_failing_feature_comes_before_the_passing_cases(gated: GatedServer, tab: Tab) -> None:
    page = tab.page
    response = page.goto(gated.run["link"])
    assert response is not None and response.status == 200
    assert follows(page, "#verdict", "#failing")
    assert follows(page, "#failing", "#by-category")
    # The failing feature is above every passing case; in each category failures lead.
    assert follows(page, "#failing .feature-group[data-feature=age]", ".case[data-gate=passed]")
    for category in page.locator("#by-category .category").all():
        gates = category.locator(".case").evaluate_all("els => els.map(e => e.dataset.gate)")
        if "failed" in gates and "passed" in gates:
            assert gates.index("failed") < gates.index("passed"), gates
    first_failing = page.locator("#failing [data-feature]").first
    assert first_failing.get_attribute("data-feature") == "age"
    assert set(gated.run["failing_features"]) == set(
        page.locator("#failing > .feature-groups > [data-feature]").evaluate_all(
            "groups => groups.map(g => g.dataset.feature)"
        )
    )
    # A failing case of "age" is one click away: its link opens the case card.
    link = page.locator("#failing .feature-group[data-feature=age] a.case-link").first
    link.click()
    case = page.locator(str(link.get_attribute("href")))
    assert case.get_attribute("data-gate") == "failed"
    assert case.locator("details").evaluate("details => details.open")
    assert "age" in json.loads(case.get_attribute("data-features") or "[]")


def test_the_counts_are_the_plugins(gated: GatedServer, tab: Tab) -> None:
    page = tab.page
    page.goto(gated.run["link"])
    expected = gated.run["counts"]
    shown_counts = {g: number_in(page.locator(f"#verdict .count-{g}").inner_text()) for g in GATES}
    assert shown_counts == expected
    data = json.loads(page.locator("#verdict").get_attribute("data-gate-counts") or "{}")
    assert {g: data[g] for g in GATES} == expected
    assert page.locator(".case").count() == sum(expected.values())
    for gate, count in expected.items():
        assert page.locator(f".case[data-gate={gate}]").count() == count


def test_charts_draw_for_the_first_failing_case_and_on_opening_a_case(
    gated: GatedServer, tab: Tab
) -> None:
    page = tab.page
    page.goto(gated.run["link"])
    opened = page.locator(".case details[open] canvas.chart").first
    assert wait_for_chart(opened) > 0
    assert chart_data_length(opened) > 0
    # Charts of closed cases are drawn when their case opens.
    open_a_closed_chart(page)


def test_the_drift_of_age_is_drawn_as_reference_against_evaluation_shares(
    gated: GatedServer, tab: Tab
) -> None:
    page = tab.page
    page.goto(gated.run["link"])
    link = page.locator(
        "#failing .feature-group[data-feature=age] a.case-link", has_text="Feature Drift"
    )
    link.click()
    canvas = page.locator(f"{link.get_attribute('href')} canvas.chart")
    bins = wait_for_chart(canvas) // 2
    datasets = canvas.evaluate(
        "c => Chart.getChart(c).data.datasets.map(d => ({label: d.label, data: d.data}))"
    )
    assert [d["label"] for d in datasets] == ["reference", "evaluation"]
    for dataset in datasets:
        assert len(dataset["data"]) == bins > 1
        assert sum(dataset["data"]) == pytest.approx(1.0, abs=0.01)  # shares of the rows
    # Ages shifted up by 30 years: the evaluation rows pile into the top bins.
    reference, evaluation = (d["data"] for d in datasets)
    assert evaluation[-1] > reference[-1]
    assert evaluation[0] < reference[0]


def test_filters_and_search_change_what_is_shown(gated: GatedServer, tab: Tab) -> None:
    page = tab.page
    page.goto(gated.run["link"])
    cases = page.locator(".case")
    total = cases.count()
    shown_count = page.locator("#shown-count")
    assert shown(cases) == total
    assert number_in(shown_count.inner_text()) == total

    page.select_option("#filter-category", "Drift")
    page.wait_for_function(
        "n => !document.querySelector('#shown-count').textContent.startsWith(n + ' ')",
        arg=total,
        timeout=WAIT_MS,
    )
    drift = shown(cases)
    tab.snap("drift-only")
    assert 0 < drift < total
    assert number_in(shown_count.inner_text()) == drift
    assert set(page.locator(".case:not([hidden])").evaluate_all(
        "els => els.map(e => e.dataset.category)"
    )) == {"Drift"}  # fmt: skip

    page.select_option("#filter-feature", "age")
    page.select_option("#filter-severity", "HIGH")
    for element in page.locator(".case:not([hidden])").all():
        assert element.get_attribute("data-category") == "Drift"
        assert element.get_attribute("data-severity") == "HIGH"
        assert "age" in json.loads(element.get_attribute("data-features") or "[]")
    narrowed = shown(cases)
    assert 0 < narrowed <= drift
    assert number_in(shown_count.inner_text()) == narrowed

    for select in ("#filter-category", "#filter-feature", "#filter-severity"):
        page.select_option(select, "")
    page.fill("#search", "income")
    page.wait_for_function(
        "n => document.querySelectorAll('.case:not([hidden])').length < n",
        arg=total,
        timeout=WAIT_MS,
    )
    found = page.locator(".case:not([hidden])")
    assert 0 < found.count() < total
    texts = found.evaluate_all("els => els.map(e => e.textContent.toLowerCase())")
    assert all("income" in text for text in texts)
