"""Who sees the pages and what user strings become: API keys and escaping, in Chromium.

With API keys the pages and their assets answer 401 with the login form until a key is given
(form or ``rime-api-key`` header); the session cookie is HttpOnly and SameSite. A feature and
a project named like markup show as text, and no script of theirs runs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_helpers import GatedServer, Tab
from firewall_data import people

from pytest_rime.sdk import RIMEClient

pytestmark = pytest.mark.browser

KEY = "browser-test-key"
SCRIPT_FEATURE = "<script>alert(1)</script>"
IMG_PROJECT = "<img src=x onerror=alert(2)>"


def test_pages_need_a_key_and_the_login_form_gives_one(
    rime_server_factory: Callable[..., Any],
    tab: Tab,
    tmp_path: Path,
    write_tabular_dataset: Callable[..., Any],
) -> None:
    server = rime_server_factory(api_keys=(KEY,))
    config = write_tabular_dataset(tmp_path / "data", eval_age_shift=20).config()
    with RIMEClient(server.address, disable_tls=True, api_key=KEY) as client:
        job = client.start_stress_test(config)
        assert job.get_status(wait_until_finish=True, poll_rate_sec=0.1)["status"] == (
            "JOB_STATUS_SUCCEEDED"
        )
        link = job.get_link()
    page = tab.page
    base = server.web_base_url
    for path in ("/", "/projects", "/static/rime.js", f"/jobs/{job.job_id}"):
        assert page.request.get(f"{base}{path}").status == 401, path

    response = page.goto(link)
    assert response is not None and response.status == 401
    assert page.locator("#verdict").count() == 0
    tab.snap("login")
    page.fill("input[name=api_key]", "wrong key")
    page.click("button[type=submit]")
    page.wait_for_selector("[role=alert]")
    assert page.locator("#verdict").count() == 0

    page.fill("input[name=api_key]", KEY)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == link
    page.wait_for_selector("#verdict .count-failed")
    (cookie,) = [c for c in page.context.cookies(base) if c["name"] == "rime_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] in ("Strict", "Lax")
    assert KEY not in cookie["value"]
    assert page.request.get(f"{base}/static/rime.js").status == 200

    page.context.clear_cookies()
    assert page.request.get(link).status == 401
    assert page.request.get(link, headers={"rime-api-key": KEY}).status == 200


def test_markup_in_feature_and_project_names_is_shown_as_text(
    gated: GatedServer, tab: Tab, tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    ref, evaluation = people(rng, 400), people(rng, 400)
    ref[SCRIPT_FEATURE] = rng.normal(0.0, 1.0, len(ref)).round(3)
    evaluation[SCRIPT_FEATURE] = rng.normal(4.0, 1.0, len(evaluation)).round(3)  # drifted
    ref.to_csv(tmp_path / "ref.csv", index=False)
    evaluation.to_csv(tmp_path / "eval.csv", index=False)
    config = gated.data.reference_config(str(tmp_path / "ref.csv"), str(gated.data.model_path))
    config["data_info"]["eval_path"] = str(tmp_path / "eval.csv")
    project = gated.client.create_project(IMG_PROJECT, SCRIPT_FEATURE)
    job = gated.client.start_stress_test(config, project_id=project.project_id)
    status = job.get_status(wait_until_finish=True, poll_rate_sec=0.1)
    assert status["status"] == "JOB_STATUS_SUCCEEDED", job.get_logs()

    page = tab.page
    page.goto(job.get_link())
    # The model ignores the drifted column: a finding below the gate, listed by feature.
    findings = page.locator("#failing .feature-name")
    assert SCRIPT_FEATURE in findings.evaluate_all("names => names.map(n => n.textContent)")
    assert SCRIPT_FEATURE in page.locator("#filter-feature option").all_inner_texts()
    assert IMG_PROJECT in page.locator("body").inner_text()
    page.goto(gated.url("/projects"))
    assert page.locator("#projects a", has_text=IMG_PROJECT).count() == 1
    assert page.locator("#projects", has_text=SCRIPT_FEATURE).count() == 1
    # Nothing the names hold became an element or ran.
    for url in (job.get_link(), gated.url("/projects")):
        page.goto(url)
        assert page.locator("img[src=x]").count() == 0
        scripts = page.locator("script").evaluate_all("ss => ss.map(s => s.textContent)")
        assert not [s for s in scripts if s.strip() == "alert(1)"]
    assert tab.dialogs == []
