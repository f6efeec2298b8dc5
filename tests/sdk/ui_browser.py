"""Browser harness for the web UI's end-to-end tests (``test_ui_browser.py``).

Drives Debian's ``chromium`` through Debian's ``chromedriver`` (packages ``chromium`` and
``chromium-driver``, installed by ``scripts/lib/browser.sh``) with Selenium. The driver's path
is given to Selenium, so Selenium Manager never looks for (or downloads) one; the browser runs
headless with a fresh profile and its background networking off, so the only traffic is to the
session's Assay server on loopback.

Fixtures (import them into a test module: ``from ui_browser import browser, ui``):

- ``browser`` (session): one Chromium for the whole session, its WebDriver with
  ``base_url`` set to the session server's URL.
- ``ui`` (per test): ``browser`` reset to a blank state: no cookies, no storage for the
  server's origin, the desktop viewport, light colour scheme.

Helpers: :func:`sign_in`, :func:`sign_out`, :func:`open_page`, :func:`wait_for`,
:func:`viewport`, :func:`color_scheme`, :func:`screenshot`, :func:`cookies`,
:func:`response_status`, and :func:`assert_inert_page`, which loads a page and checks that no
injected markup was parsed or executed and that the given texts are displayed literally.

Environment:
  ASSAY_UI_SCREENSHOTS         where screenshots go (default <repo>/target/ui-screenshots)
  ASSAY_TEST_REQUIRE_BROWSER   1: fail, not skip, when chromium or chromedriver is missing
                               (scripts/test sets it)
  ASSAY_CHROMIUM / ASSAY_CHROMEDRIVER  other paths for the browser and its driver
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

REPO_ROOT = Path(__file__).resolve().parents[2]

# Headless, as root, with nothing that reaches for the network on its own (the machine's
# network is closed; without these Chromium keeps trying to reach update and sync services).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--password-store=basic",
]

DESKTOP = (1280, 900)
PHONE = (390, 844)
# Bound on every wait for the page to reach a state.
WAIT = 30.0
POLL = 0.1


def screenshots_dir() -> Path:
    path = Path(os.environ.get("ASSAY_UI_SCREENSHOTS") or REPO_ROOT / "target" / "ui-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _tool(env_var: str, name: str, fallback: str) -> Optional[str]:
    path = os.environ.get(env_var) or shutil.which(name) or fallback
    return path if Path(path).is_file() else None


@pytest.fixture(scope="session")
def browser(assay_server, tmp_path_factory: pytest.TempPathFactory):
    """One headless Chromium for the session; ``browser.base_url`` is the server's URL."""
    chromium = _tool("ASSAY_CHROMIUM", "chromium", "/usr/bin/chromium")
    chromedriver = _tool("ASSAY_CHROMEDRIVER", "chromedriver", "/usr/bin/chromedriver")
    if chromium is None or chromedriver is None:
        missing = ", ".join(n for n, p in (("chromium", chromium), ("chromedriver", chromedriver)) if p is None)
        message = (
            f"{missing} not found: install Debian's chromium and chromium-driver "
            "(scripts/lib/browser.sh: ensure_browser) to run the web UI's browser tests"
        )
        if os.environ.get("ASSAY_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    # The console, to see Content-Security-Policy refusals (an injection that reached markup).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    log = tmp_path_factory.mktemp("chromedriver-logs") / "chromedriver.log"
    service = Service(executable_path=chromedriver, log_output=str(log))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.set_page_load_timeout(60)
        driver.base_url = assay_server.base_url  # type: ignore[attr-defined]
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def ui(browser: WebDriver) -> WebDriver:
    """The session's browser with nothing left from an earlier test: signed out, no storage
    for the server's origin, desktop viewport, light scheme, an empty console log."""
    browser.get("about:blank")
    browser.execute_cdp_cmd("Network.clearBrowserCookies", {})
    browser.execute_cdp_cmd(
        "Storage.clearDataForOrigin", {"origin": browser.base_url, "storageTypes": "all"}
    )
    viewport(browser, *DESKTOP)
    color_scheme(browser, "light")
    browser.get_log("browser")
    return browser


# ---------------------------------------------------------------------------
# Navigation and waits
# ---------------------------------------------------------------------------


def url_of(driver: WebDriver, path: str) -> str:
    return driver.base_url + path if path.startswith("/") else path


def path_of(driver: WebDriver) -> str:
    """The current page's path and query (no origin)."""
    url = driver.current_url
    return url[len(driver.base_url):] if url.startswith(driver.base_url) else url


def open_page(driver: WebDriver, path: str) -> None:
    """Loads ``path`` (or a full URL) and returns once its load event has fired."""
    driver.get(url_of(driver, path))
    wait_loaded(driver)


def wait_for(driver: WebDriver, what: str, predicate: Callable[[WebDriver], Any], timeout: float = WAIT) -> Any:
    """Polls ``predicate(driver)`` (every 0.1 s, up to ``timeout``) until it returns a truthy
    value, which it returns; fails the test naming ``what`` otherwise."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=POLL).until(predicate)
    except TimeoutException:
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (at {driver.current_url})")


def wait_loaded(driver: WebDriver) -> None:
    wait_for(driver, "the page to load", lambda d: d.execute_script("return document.readyState") == "complete")


def submit(driver: WebDriver, form) -> None:
    """Clicks ``form``'s submit button and waits until the answer's page has loaded."""
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, "the form's answer", EC.staleness_of(form))
    wait_loaded(driver)


def sign_in(driver: WebDriver, key: str) -> None:
    """Fills the sign-in form with ``key`` and submits it; returns on the page it led to."""
    open_page(driver, "/ui/sign-in")
    form = driver.find_element(By.CSS_SELECTOR, "form.sign-in")
    field = form.find_element(By.ID, "key")
    field.clear()
    field.send_keys(key)
    submit(driver, form)


def sign_out(driver: WebDriver) -> None:
    """Presses the page header's Sign out button."""
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form.sign-out"))


def response_status(driver: WebDriver) -> int:
    """The HTTP status of the current document's response (Navigation Timing)."""
    return driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0]; return n ? n.responseStatus : 0;"
    )


def cookies(driver: WebDriver) -> Dict[str, Dict[str, Any]]:
    """Every cookie the browser holds, whatever its path, by name (CDP's view, which includes
    ``httpOnly`` and ``sameSite``)."""
    return {c["name"]: c for c in driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]}


# ---------------------------------------------------------------------------
# Viewport, colour scheme, screenshots
# ---------------------------------------------------------------------------


def viewport(driver: WebDriver, width: int, height: int) -> None:
    """Emulates a ``width`` x ``height`` viewport; narrower than 600 px is a phone (touch
    metrics, the page's meta viewport honoured, 2x pixels)."""
    phone = width < 600
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 2 if phone else 1, "mobile": phone},
    )


def color_scheme(driver: WebDriver, scheme: str) -> None:
    """``light`` or ``dark``: the ``prefers-color-scheme`` the page sees."""
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"media": "", "features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )


def screenshot(driver: WebDriver, name: str) -> Path:
    """Saves what the viewport shows as ``<screenshots dir>/<name>.png``."""
    path = screenshots_dir() / f"{name}.png"
    if not driver.save_screenshot(str(path)):
        pytest.fail(f"could not save the screenshot {path}")
    return path


# ---------------------------------------------------------------------------
# Hostile content
# ---------------------------------------------------------------------------

# What a page must not contain once hostile text has been put in it: any script but the UI's
# own, any inline event handler, any javascript: URL; and which of the texts it should show
# are missing from its text.
_INERT_JS = """
const texts = arguments[0];
const found = {pwned: typeof window.__pwned, scripts: [], handlers: [], js_urls: [], missing: []};
for (const s of document.scripts) {
  if (!s.src || new URL(s.src).origin !== location.origin || !new URL(s.src).pathname.startsWith('/ui/assets/'))
    found.scripts.push(s.outerHTML.slice(0, 200));
}
for (const el of document.querySelectorAll('*')) {
  for (const a of el.attributes) {
    if (a.name.toLowerCase().startsWith('on')) found.handlers.push(el.tagName + ' ' + a.name);
    if (/^\\s*javascript:/i.test(a.value)) found.js_urls.push(el.tagName + ' ' + a.name);
  }
}
const text = document.body.textContent;
texts.forEach((t, i) => { if (!text.includes(t)) found.missing.push(i); });
return found;
"""


def assert_inert_page(driver: WebDriver, path: str, *texts: str) -> None:
    """Loads ``path`` and asserts that nothing injected runs there: ``window.__pwned`` is
    unset, the only scripts are the UI's own assets, no element carries an inline event
    handler or a ``javascript:`` URL, and the console shows no Content-Security-Policy
    refusal (which would mean injected markup got as far as the parser); and that every one
    of ``texts`` is in the page's text, literally (escaped markup reads as its source)."""
    driver.get_log("browser")
    open_page(driver, path)
    found = driver.execute_script(_INERT_JS, list(texts))
    refused = [e["message"][:300] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
    where = path_of(driver)
    assert found["pwned"] == "undefined", f"{where}: injected code ran (window.__pwned is {found['pwned']})"
    assert found["scripts"] == [], f"{where}: scripts that are not the UI's: {found['scripts']}"
    assert found["handlers"] == [], f"{where}: inline event handlers: {found['handlers']}"
    assert found["js_urls"] == [], f"{where}: javascript: URLs: {found['js_urls']}"
    assert refused == [], f"{where}: the browser refused injected code: {refused}"
    missing = [texts[i][:80] + ("…" if len(texts[i]) > 80 else "") for i in found["missing"]]
    assert missing == [], f"{where}: these texts are not shown literally: {missing}"
