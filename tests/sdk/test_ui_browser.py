"""The web UI (``/ui``) end to end in a real headless Chromium (harness: ``ui_browser.py``).

Runs are started through the SDK against the fake model; everything else is done as a person
would, in the browser: signing in with a bad and a good key, following a run live on its page
until it ends, reading its metrics, the runs list, another tenant's 404 page, signing out, and
pages holding hostile text (markup, a ``javascript:`` link, a 200,000-character line) that must
be shown as text and run nothing. Every page visited is saved as a screenshot
(``ASSAY_UI_SCREENSHOTS``, default ``<repo>/target/ui-screenshots``) at 1280x900, run pages
and the runs list also at phone width (390x844) and in the dark colour scheme.

Further pages with hostile text take one line each, e.g.
``assert_inert_page(ui, f"/ui/runs/{hostile_run.id}/samples", *HOSTILE_TEXTS)``.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Dict, List, Tuple

import pytest
from meetkai_mka1 import SDK
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from test_runs import fake, unique, upload, wait_for_run  # noqa: F401  (fake: fixture)
from ui_browser import (  # noqa: F401  (browser, ui: fixtures)
    DESKTOP,
    PHONE,
    assert_inert_page,
    browser,
    color_scheme,
    cookies,
    open_page,
    path_of,
    response_status,
    screenshot,
    sign_in,
    sign_out,
    submit,
    ui,
    viewport,
    wait_for,
)

# The live run: one call at a time, each answered after LATENCY_MS, so the run takes about
# ROWS * LATENCY_MS and its page sees several progress events (about one a second) first.
LIVE_ROWS = 8
LATENCY_MS = 700
# Row 6 gets a wrong answer, row 7 a 400 (a failed sample, left out of the means).
WRONG_ROW, FAILED_ROW = 6, 7
PROGRESS_RE = re.compile(r"^(\d+) / (\d+) \((\d+) failed\)$")

# Hostile text: markup that would run if it were parsed, and an enormous line.
SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'
LINK = '<a href="javascript:window.__pwned=1">x</a>'
HUGE = "<i>x</i>" * 25_000  # one 200,000-character line
HOSTILE_TEXTS = [SCRIPT, IMG, LINK, HUGE]
assert len(HUGE) == 200_000


def qa_suite(sdk: SDK, name: str, rows: List[Dict[str, str]]) -> str:
    data = upload(sdk, f"{name}.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
    suite = sdk.llm.evals.create_suite(
        name=unique(name),
        manifest={"tasks": [{"id": "qa", "type": "qa", "dataset": {"file_id": data.id},
                             "prompt_template": "{{q}}", "target_template": "{{a}}",
                             "metrics": [{"id": "exact_match"}, {"id": "f1"}]}]},
    )
    return suite.id


def live_rows(tag: str) -> List[Dict[str, str]]:
    rows = []
    for i in range(LIVE_ROWS):
        answer = f"Z{i}" if i == WRONG_ROW else f"A{i}"
        control = "[[status:400]]" if i == FAILED_ROW else f"[[answer:{answer}]]"
        rows.append({"q": f"{tag} row {i} [[latency_ms:{LATENCY_MS}]] {control}", "a": f"A{i}"})
    return rows


@pytest.fixture(scope="module")
def finished_run(sdk: SDK, fake) -> SimpleNamespace:
    """A small completed run of the first tenant (three right answers)."""
    tag = unique("ui-done")
    rows = [{"q": f"{tag} {i} [[answer:A{i}]]", "a": f"A{i}"} for i in range(3)]
    run = sdk.llm.evals.create_run(suite_id=qa_suite(sdk, "ui-done", rows), models=["fake"])
    final = wait_for_run(sdk, run.id)
    assert final.status == "completed"
    return SimpleNamespace(id=run.id, total=3)


@pytest.fixture(scope="module")
def hostile_run(sdk: SDK, fake) -> SimpleNamespace:
    """A completed run whose dataset rows, model answers, metadata and generation settings
    hold ``HOSTILE_TEXTS``."""
    tag = unique("ui-xss")
    rows = [{"q": f"{tag} {i} [[answer:{text}]]", "a": text} for i, text in enumerate(HOSTILE_TEXTS)]
    run = sdk.llm.evals.create_run(
        suite_id=qa_suite(sdk, "ui-xss", rows),
        models=["fake"],
        metadata={"script": SCRIPT, "img": IMG, "link": LINK, SCRIPT: "a key too"},
        generation={"extra_body": {"note": HUGE}},
    )
    final = wait_for_run(sdk, run.id)
    assert final.status == "completed"
    assert final.request_counts.completed == len(HOSTILE_TEXTS)
    samples = sdk.llm.evals.list_samples(run_id=run.id, limit=10).data
    assert sorted(s.output_text for s in samples) == sorted(HOSTILE_TEXTS), "the fake answered the hostile text"
    return SimpleNamespace(id=run.id)


def progress(text: str) -> Tuple[int, int, int]:
    m = PROGRESS_RE.match(text.strip())
    assert m, f"progress reads {text!r}"
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def run_page_state(driver: WebDriver) -> Dict[str, str]:
    return driver.execute_script(
        "return {status: document.querySelector('[data-status-text]').textContent,"
        " progress: document.querySelector('[data-progress-text]').textContent};"
    )


def table(driver: WebDriver, selector: str) -> List[List[str]]:
    return [
        [td.text.strip() for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in driver.find_elements(By.CSS_SELECTOR, f"{selector} tbody tr")
    ]


# Records, in sessionStorage (which outlives a reload of the page; ``window.name`` set by a
# document that is unloading is lost), every state of the run page's status and progress
# texts while this document lives, with its marker: what the page showed just before it
# reloaded itself stays readable afterwards.
WATCH_JS = """
window.__marker = arguments[0];
const status = document.querySelector('[data-status-text]');
const text = document.querySelector('[data-progress-text]');
const log = [];
const record = () => {
  log.push({status: status.textContent, progress: text.textContent});
  sessionStorage.setItem('assay_test_watch', JSON.stringify({marker: window.__marker, log: log}));
};
record();
new MutationObserver(record).observe(document.querySelector('dl.facts'),
  {subtree: true, childList: true, characterData: true, attributes: true});
"""


def watched(driver: WebDriver) -> Dict:
    return json.loads(driver.execute_script("return sessionStorage.getItem('assay_test_watch')") or "{}")


def test_bad_key_is_refused_without_a_session(ui: WebDriver, assay_server) -> None:
    open_page(ui, "/ui/sign-in")
    assert ui.title == "Sign in · Assay"
    screenshot(ui, "sign-in")
    sign_in(ui, assay_server.admin_key[:-4] + "nope")
    assert path_of(ui) == "/ui/sign-in"
    assert response_status(ui) == 401
    alert = ui.find_element(By.CSS_SELECTOR, "[role=alert]")
    assert alert.text == "That API key is not valid."
    assert "assay_session" not in cookies(ui)
    screenshot(ui, "sign-in-refused")
    open_page(ui, "/ui/runs")
    assert path_of(ui) == "/ui/sign-in", "the runs page needs a session"


def test_sign_in_keeps_the_key_out_of_the_browser(ui: WebDriver, assay_server) -> None:
    key = assay_server.admin_key
    sign_in(ui, key)
    assert path_of(ui) == "/ui/runs"
    assert ui.find_element(By.TAG_NAME, "h1").text == "Runs"
    session = cookies(ui).get("assay_session")
    assert session is not None, f"no session cookie among {sorted(cookies(ui))}"
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["path"] == "/ui"
    assert key not in session["value"]
    assert ui.execute_script("return document.cookie") == "", "a script can read a cookie"
    assert "assay_sign_in" not in cookies(ui), "the sign-in form's cookie outlived the sign-in"
    storage = ui.execute_script(
        "const all = s => Array.from({length: s.length}, (_, i) => s.key(i) + '=' + s.getItem(s.key(i)));"
        "return {local: all(localStorage), session: all(sessionStorage)};"
    )
    for where, text in [("URL", ui.current_url), ("page", ui.page_source),
                        ("localStorage", json.dumps(storage["local"])),
                        ("sessionStorage", json.dumps(storage["session"]))]:
        assert key not in text, f"the key is in the {where}"


def test_run_page_follows_a_run_live_until_it_ends(ui: WebDriver, assay_server, sdk: SDK, fake) -> None:
    tag = unique("ui-live")
    suite_id = qa_suite(sdk, "ui-live", live_rows(tag))
    sign_in(ui, assay_server.admin_key)
    run = sdk.llm.evals.create_run(suite_id=suite_id, models=["fake"], generation_concurrency=1,
                                   generation={"max_retries": 0})
    open_page(ui, f"/ui/runs/{run.id}")
    assert ui.find_element(By.CSS_SELECTOR, "h1 code").text == run.id
    first = run_page_state(ui)
    assert first["status"] in ("queued", "in_progress"), f"the run is not running yet: {first}"
    marker = unique("doc")
    ui.execute_script(WATCH_JS, marker)

    # Progress events change the page in place: same document, more samples done, still running.
    def advanced(d: WebDriver):
        seen = watched(d)
        if seen.get("marker") != marker:
            return None
        for state in seen["log"]:
            done, total, _ = progress(state["progress"])
            if state["status"] == "in_progress" and total == LIVE_ROWS and 0 < done < total:
                return state
        return None

    mid = wait_for(ui, "a progress event to move the open page on", advanced)
    assert ui.execute_script("return window.__marker") == marker, "the page was reloaded to show progress"
    screenshot(ui, "run-running")
    viewport(ui, *PHONE)
    screenshot(ui, "run-running-phone")
    viewport(ui, *DESKTOP)

    # The last event ends the run on the page, which then reloads itself once for the metrics.
    def finished(d: WebDriver):
        try:
            state = d.execute_script(
                "const s = document.querySelector('[data-status-text]');"
                "return {marker: window.__marker === undefined ? null : window.__marker,"
                " ready: document.readyState, status: s && s.textContent};"
            )
        except WebDriverException:  # between the documents
            return None
        return state if state["marker"] is None and state["ready"] == "complete" else None

    after = wait_for(ui, "the run page to end the run and reload itself", finished, timeout=60)
    assert after["status"] == "completed"
    assert ui.execute_script("return performance.getEntriesByType('navigation')[0].type") == "reload"
    seen = watched(ui)
    ui.execute_script("sessionStorage.removeItem('assay_test_watch')")
    assert seen["marker"] == marker
    log = seen["log"]
    assert log[-1] == {"status": "completed", "progress": f"{LIVE_ROWS} / {LIVE_ROWS} (1 failed)"}, (
        f"the live page's last state before it reloaded: {log[-1]}"
    )
    dones = [progress(s["progress"])[0] for s in log]
    assert dones == sorted(dones), f"progress went backwards: {log}"
    assert mid in log[:-1]

    # The reloaded page: final counts and the run's metrics, as the API gives them.
    state = run_page_state(ui)
    assert state == {"status": "completed", "progress": f"{LIVE_ROWS} / {LIVE_ROWS} (1 failed)"}
    bar = ui.find_element(By.CSS_SELECTOR, "[data-progress-url] progress")
    assert (bar.get_attribute("value"), bar.get_attribute("max")) == (str(LIVE_ROWS), str(LIVE_ROWS))
    final = sdk.llm.evals.get_run(run_id=run.id)
    assert final.status == "completed"
    want = {}
    for model, tasks in final.metrics["by_model"].items():
        for task, entry in tasks.items():
            for metric, m in entry["metrics"].items():
                lo, hi = m["mean"] - 1.96 * m["stderr"], m["mean"] + 1.96 * m["stderr"]
                # A share metric (every mean in [0, 1]; here all are) is clipped to [0, 1].
                lo, hi = max(lo, 0.0), min(hi, 1.0)
                want[(model, task, metric)] = [f"{m['mean']:.4f}", f"{m['stderr']:.4f}",
                                               f"[{lo:.4f}, {hi:.4f}]", str(m["n"])]
    rows = table(ui, "table.metrics")
    got = {(r[0], r[1], r[2]): r[3:7] for r in rows}
    assert got == want
    # 6 of the 7 scored samples right (the failed one is not scored).
    for metric in ("exact_match", "f1"):
        assert got[("fake", "qa", metric)][0] == f"{6 / 7:.4f}"
        assert got[("fake", "qa", metric)][3] == "7"
    assert len(ui.find_elements(By.CSS_SELECTOR, "table.metrics svg.bar rect")) == len(rows)
    settings = json.loads(ui.find_element(By.CSS_SELECTOR, "main > pre").text)
    assert settings["models"] == ["fake"] and settings["suite_id"] == suite_id
    screenshot(ui, "run-finished")
    color_scheme(ui, "dark")
    screenshot(ui, "run-finished-dark")
    color_scheme(ui, "light")
    viewport(ui, *PHONE)
    screenshot(ui, "run-finished-phone")


def test_runs_list_shows_the_run(ui: WebDriver, assay_server, finished_run: SimpleNamespace) -> None:
    sign_in(ui, assay_server.admin_key)
    open_page(ui, "/ui/runs")
    # The first column holds the compare checkboxes.
    rows = {r[1]: r for r in table(ui, "table.runs")}
    assert finished_run.id in rows, f"runs listed: {sorted(rows)}"
    row = rows[finished_run.id]
    assert row[2:4] == ["completed", "fake"]
    assert row[4].endswith(f"{finished_run.total} / {finished_run.total} (0 failed)"), row
    screenshot(ui, "runs")
    color_scheme(ui, "dark")
    screenshot(ui, "runs-dark")
    color_scheme(ui, "light")
    viewport(ui, *PHONE)
    screenshot(ui, "runs-phone")
    viewport(ui, *DESKTOP)
    ui.find_element(By.CSS_SELECTOR, f"table.runs a[href='/ui/runs/{finished_run.id}']").click()
    wait_for(ui, "the run's page", lambda d: path_of(d) == f"/ui/runs/{finished_run.id}")
    assert run_page_state(ui)["status"] == "completed"


def test_another_tenants_run_is_a_404_page(ui: WebDriver, assay_server, finished_run: SimpleNamespace) -> None:
    page = f"/ui/runs/{finished_run.id}"
    sign_in(ui, assay_server.admin_key)
    open_page(ui, page)
    assert response_status(ui) == 200
    owner = ui.find_element(By.CSS_SELECTOR, "header .who").text
    sign_out(ui)

    sign_in(ui, assay_server.other_key)
    assert path_of(ui) == "/ui/runs"
    other = ui.find_element(By.CSS_SELECTOR, "header .who").text
    assert other != owner, f"both keys are shown as {owner!r}"
    assert finished_run.id not in ui.find_element(By.TAG_NAME, "main").text
    open_page(ui, page)
    assert response_status(ui) == 404
    assert ui.title == "404 · Assay"
    assert ui.find_element(By.TAG_NAME, "h1").text == "404"
    assert ui.find_element(By.CSS_SELECTOR, "main p").text == "Not found."
    assert finished_run.id not in ui.page_source
    assert ui.find_elements(By.CSS_SELECTOR, "form.sign-out"), "the 404 page keeps the signed-in header"
    screenshot(ui, "not-found")
    open_page(ui, page + "/progress")
    assert response_status(ui) == 404
    assert ui.find_element(By.TAG_NAME, "h1").text == "404"


def test_sign_out_ends_the_session(ui: WebDriver, assay_server) -> None:
    sign_in(ui, assay_server.admin_key)
    token = cookies(ui)["assay_session"]
    sign_out(ui)
    assert path_of(ui) == "/ui/sign-in"
    assert "assay_session" not in cookies(ui)
    open_page(ui, "/ui/runs")
    assert path_of(ui) == "/ui/sign-in"
    # The server closed the session: its old cookie, put back, signs nobody in.
    ui.execute_cdp_cmd("Network.setCookie", {k: token[k] for k in ("name", "value", "domain", "path", "httpOnly", "sameSite")})
    assert "assay_session" in cookies(ui)
    open_page(ui, "/ui/runs")
    assert path_of(ui) == "/ui/sign-in"


def test_hostile_text_is_shown_as_text_and_runs_nothing(
    ui: WebDriver, assay_server, hostile_run: SimpleNamespace
) -> None:
    sign_in(ui, assay_server.admin_key)
    # The run page shows the hostile metadata and generation settings in its settings (JSON).
    # The page clips a stored string at 2,000 characters and says how much it left out, so the
    # 200,000-character line shows as its clipped head.
    shown = [json.dumps(t) for t in (SCRIPT, IMG, LINK)]
    shown.append(json.dumps(HUGE[:2000] + f"… ({len(HUGE) - 2000} more characters)", ensure_ascii=False))
    assert_inert_page(ui, f"/ui/runs/{hostile_run.id}", *shown)
    # The metadata ends the settings, after the enormous line.
    ui.execute_script("window.scrollTo(0, document.documentElement.scrollHeight)")
    screenshot(ui, "run-hostile")
    viewport(ui, *PHONE)
    # The enormous line wraps: the page is no wider than a phone.
    widths = ui.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide on a {widths[1]} px screen"
    ui.execute_script("window.scrollTo(0, document.documentElement.scrollHeight)")
    screenshot(ui, "run-hostile-phone")
    viewport(ui, *DESKTOP)
    assert_inert_page(ui, "/ui/runs", hostile_run.id)
    # Markup in the address is not echoed into the 404 page.
    assert_inert_page(ui, "/ui/runs/%3Cscript%3Ewindow.__pwned=1%3C%2Fscript%3E")
    assert response_status(ui) == 404


@pytest.fixture(scope="module")
def compared_runs(sdk: SDK, fake) -> SimpleNamespace:
    """Two completed runs over the same five questions: run A answers all right; run B's
    dataset moves two targets (two regressions) and fails one row (lost)."""
    tag = unique("ui-cmp")

    def rows(moved: Tuple[int, ...], failed: Tuple[int, ...]) -> List[Dict[str, str]]:
        out = []
        for i in range(5):
            control = "[[status:400]]" if i in failed else f"[[answer:A{i}]]"
            out.append({"q": f"{tag} question {i} {control}", "a": f"B{i}" if i in moved else f"A{i}"})
        return out

    ids = []
    for name, moved, failed in (("ui-cmp-a", (), ()), ("ui-cmp-b", (1, 3), (4,))):
        run = sdk.llm.evals.create_run(suite_id=qa_suite(sdk, name, rows(moved, failed)), models=["fake"],
                                       generation={"max_retries": 0})
        assert wait_for_run(sdk, run.id).status == "completed"
        ids.append(run.id)
    return SimpleNamespace(a=ids[0], b=ids[1])


def test_samples_filter_and_a_failed_sample_opens(
    ui: WebDriver, assay_server, compared_runs: SimpleNamespace
) -> None:
    sign_in(ui, assay_server.admin_key)
    open_page(ui, f"/ui/runs/{compared_runs.b}/samples")
    assert ui.find_element(By.CSS_SELECTOR, "[data-matching]").get_attribute("data-matching") == "5"
    screenshot(ui, "samples")
    # Filter in the form, as a person would: only failed samples.
    form = ui.find_element(By.CSS_SELECTOR, "form.filters")
    Select(form.find_element(By.NAME, "status")).select_by_value("failed")
    submit(ui, form)
    assert "status=failed" in ui.current_url
    rows = table(ui, "table.samples")
    assert len(rows) == 1 and rows[0][0] == "4" and "failed" in rows[0][3], rows
    screenshot(ui, "samples-failed")
    # Text search in prompt or output, case-insensitive.
    form = ui.find_element(By.CSS_SELECTOR, "form.filters")
    Select(form.find_element(By.NAME, "status")).select_by_value("")
    text = form.find_element(By.NAME, "q")
    text.clear()
    text.send_keys("QUESTION 2")
    submit(ui, form)
    assert [r[0] for r in table(ui, "table.samples")] == ["2"]
    # The failed sample's page: its error with the provider's status, no score.
    open_page(ui, f"/ui/runs/{compared_runs.b}/samples?status=failed")
    ui.find_element(By.CSS_SELECTOR, "table.samples tbody tr a").click()
    wait_for(ui, "the sample's page", lambda d: "/samples/" in path_of(d))
    main = ui.find_element(By.TAG_NAME, "main").text
    assert "failed" in main and "400" in main, main
    screenshot(ui, "sample-failed")


def test_compare_two_runs_from_the_runs_list(
    ui: WebDriver, assay_server, compared_runs: SimpleNamespace
) -> None:
    sign_in(ui, assay_server.admin_key)
    open_page(ui, "/ui/runs")
    for run_id in (compared_runs.a, compared_runs.b):
        ui.find_element(By.CSS_SELECTOR, f"input[name=run][value='{run_id}']").click()
    submit(ui, ui.find_element(By.ID, "compare-runs"))
    assert path_of(ui).startswith("/ui/compare?run=")
    # The runs list is newest first, so B was ticked first: the page pairs A and B as ticked.
    deltas = table(ui, "table.deltas")
    by_metric = {r[1]: r for r in deltas}
    em = by_metric["exact_match"]
    # Four pairs (row 4 failed in one run); one side right on all four, the other on two.
    assert em[2].startswith("4") and em[2].endswith("+1"), em
    assert {em[3], em[4]} == {"1.0000", "0.5000"}, em
    assert em[7] in ("0.5000\n0 vs 2", "0.5000\n2 vs 0"), em
    changed = ui.find_element(By.CSS_SELECTOR, "[data-changed]").get_attribute("data-changed")
    assert changed == "3", changed
    kinds = [r[1] for r in table(ui, "table.changed")]
    assert sorted(kinds) == sorted(["regressed", "regressed", "lost"]) or sorted(kinds) == sorted(
        ["improved", "improved", "gained"]
    ), kinds
    screenshot(ui, "compare")
    viewport(ui, *PHONE)
    # Wide tables scroll inside their box; the page itself fits the phone.
    widths = ui.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide on a {widths[1]} px screen"
    screenshot(ui, "compare-phone")
    viewport(ui, *DESKTOP)
    # A before B, by the run page's own form: regressions come first.
    open_page(ui, f"/ui/runs/{compared_runs.a}")
    form = ui.find_element(By.CSS_SELECTOR, "form[action='/ui/compare']")
    form.find_element(By.NAME, "b").send_keys(compared_runs.b)
    submit(ui, form)
    kinds = [r[1] for r in table(ui, "table.changed")]
    assert kinds == ["regressed", "regressed", "lost"], kinds
    assert "B worse" in ui.find_element(By.CSS_SELECTOR, "table.deltas").text or "no clear difference" in ui.find_element(
        By.CSS_SELECTOR, "table.deltas"
    ).text


def test_cancel_a_running_run_from_its_page(ui: WebDriver, assay_server, sdk: SDK, fake) -> None:
    tag = unique("ui-cancel")
    rows = [{"q": f"{tag} {i} [[latency_ms:1500]] [[answer:A{i}]]", "a": f"A{i}"} for i in range(20)]
    run = sdk.llm.evals.create_run(suite_id=qa_suite(sdk, "ui-cancel", rows), models=["fake"],
                                   generation_concurrency=1)
    sign_in(ui, assay_server.admin_key)
    open_page(ui, f"/ui/runs/{run.id}")
    button = wait_for(ui, "the cancel button", lambda d: d.find_elements(By.XPATH, "//button[text()='Cancel run']"))
    submit(ui, button[0].find_element(By.XPATH, "./ancestor::form"))
    assert path_of(ui) == f"/ui/runs/{run.id}"
    final = wait_for_run(sdk, run.id)
    assert final.status == "cancelled"
    wait_for(ui, "the page to show the run cancelled", lambda d: run_page_state(d)["status"] == "cancelled", timeout=30)
    assert not ui.find_elements(By.XPATH, "//button[text()='Cancel run']")
    assert ui.find_elements(By.XPATH, "//button[text()='Retry run']")
    screenshot(ui, "run-cancelled")


def test_suites_leaderboards_and_schedules_pages(
    ui: WebDriver, assay_server, sdk: SDK, fake, hostile_run: SimpleNamespace, compared_runs: SimpleNamespace
) -> None:
    sign_in(ui, assay_server.admin_key)
    suite_id = sdk.llm.evals.get_run(run_id=compared_runs.a).suite_id
    open_page(ui, "/ui/suites")
    ui.find_element(By.CSS_SELECTOR, f"table.suites a[href='/ui/suites/{suite_id}']").click()
    wait_for(ui, "the suite's page", lambda d: path_of(d) == f"/ui/suites/{suite_id}")
    assert ui.find_element(By.CSS_SELECTOR, "[data-rows]").get_attribute("data-rows") == "5"
    assert len(table(ui, "table.preview")) == 5
    assert "question 0" in ui.find_element(By.CSS_SELECTOR, "pre.prompt").text
    screenshot(ui, "suite")
    open_page(ui, "/ui/suites")
    screenshot(ui, "suites")
    # A second version with other wording: the diff names the one field that changed.
    manifest = sdk.llm.evals.get_suite_version(suite_id=suite_id, version=1).manifest.model_dump(by_alias=True, exclude_none=True)
    manifest["tasks"][0]["prompt_template"] = "Question: {{q}}"
    sdk.llm.evals.create_suite_version(suite_id=suite_id, manifest=manifest, make_active=False)
    open_page(ui, f"/ui/suites/{suite_id}")
    submit(ui, ui.find_element(By.CSS_SELECTOR, "form[aria-label='Compare two versions']"))
    assert ui.find_element(By.CSS_SELECTOR, "[data-changes]").get_attribute("data-changes") == "1"
    assert [r[0] for r in table(ui, "table.diff")] == ["tasks[qa].prompt_template"]
    screenshot(ui, "suite-diff")
    # The hostile run's dataset rows, in the suite's preview, stay text.
    hostile_suite = sdk.llm.evals.get_run(run_id=hostile_run.id).suite_id
    assert_inert_page(ui, f"/ui/suites/{hostile_suite}", SCRIPT, IMG, LINK)
    assert_inert_page(ui, f"/ui/runs/{hostile_run.id}/samples", SCRIPT, IMG, LINK)
    # Compared with run B (same task id), its changed samples show the hostile answers.
    assert_inert_page(ui, f"/ui/compare?a={compared_runs.b}&b={hostile_run.id}", IMG)

    open_page(ui, f"/ui/leaderboards?suite={suite_id}")
    groups = table(ui, "table.groups")
    assert any(compared_runs.a in r[3] for r in groups), groups
    screenshot(ui, "leaderboards")

    sched = sdk.llm.evals.create_schedule(name=unique("ui-nightly"), suite_id=suite_id, interval_seconds=3600,
                                          run={"models": ["fake"]})
    open_page(ui, "/ui/schedules")
    row = ui.find_element(By.ID, f"schedule-{sched.id}")
    assert "active" in row.text and "every 1 h" in row.text
    submit(ui, row.find_element(By.XPATH, ".//button[text()='Pause']/ancestor::form"))
    assert sdk.llm.evals.get_schedule(schedule_id=sched.id).enabled is False
    row = ui.find_element(By.ID, f"schedule-{sched.id}")
    assert "paused" in row.text
    screenshot(ui, "schedules")
    submit(ui, row.find_element(By.XPATH, ".//button[text()='Resume']/ancestor::form"))
    assert sdk.llm.evals.get_schedule(schedule_id=sched.id).enabled is True


def test_pages_work_from_the_keyboard(ui: WebDriver, assay_server, compared_runs: SimpleNamespace) -> None:
    """Tab order starts with the skip link; the runs list's checkboxes and its compare button
    are reached and used with the keyboard alone."""
    sign_in(ui, assay_server.admin_key)
    open_page(ui, "/ui/runs")
    body = ui.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    first = ui.switch_to.active_element
    assert first.text == "Skip to content" and first.get_attribute("href").endswith("#main")
    # Tab on until run A's checkbox has focus, tick it with the space bar, then run B's.
    for run_id in (compared_runs.b, compared_runs.a):
        for _ in range(200):
            ui.switch_to.active_element.send_keys(Keys.TAB)
            focused = ui.switch_to.active_element
            if focused.get_attribute("name") == "run" and focused.get_attribute("value") == run_id:
                break
        else:
            raise AssertionError(f"the checkbox of {run_id} is not reachable with Tab")
        focused.send_keys(Keys.SPACE)
        assert focused.is_selected()
    # Back to the compare button (Shift+Tab) and press it with Enter.
    for _ in range(400):
        ui.switch_to.active_element.send_keys(Keys.SHIFT, Keys.TAB)
        focused = ui.switch_to.active_element
        if focused.tag_name == "button" and focused.text == "Compare selected":
            break
    else:
        raise AssertionError("the compare button is not reachable with Shift+Tab")
    focused.send_keys(Keys.ENTER)
    wait_for(ui, "the compare page", lambda d: path_of(d).startswith("/ui/compare?"))
    assert ui.find_elements(By.CSS_SELECTOR, "table.deltas tbody tr")
