"""`racelab ui` in a real Chromium (Playwright driving Debian's chromium): a class starts a
run from the page and sees json:naive lose orders live (and the first of them drawn as a
swimlane) while sqlite's counts stay 0, and plays a race by clicking its sessions, the
strategy's line each session waits at lit, then plays the rest."""

import shutil

import pytest
from test_ui_api import Ui

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extras")

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]  # fmt: skip
NAIVE = '[data-target="json:naive@1"]'
SQLITE = '[data-target="sqlite:transactional@4"]'


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, tmp_path):
    ui = Ui(tmp_path)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    opened.base = ui.base
    yield opened
    context.close()
    ui.close()


def count(page, card: str, anomaly: str) -> int:
    return int(page.text_content(f'{card} [data-anomaly="{anomaly}"]'))


def test_the_page_shows_json_naive_losing_orders_live_while_sqlite_stays_at_0(page):
    page.goto(page.base + "/")
    page.fill("input[name=targets]", "json:naive@1,sqlite:transactional@4")
    # Long enough for the live check, once a second, to catch up on a busy machine.
    page.fill("input[name=duration]", "8")
    page.click("#start")
    # Provisional counts, seen before json:naive's final check (its card is not final yet).
    page.wait_for_function(
        """card => { const c = document.querySelector(card);
             if (!c || c.dataset.final) return false;
             const n = a => parseInt(c.querySelector(`[data-anomaly="${a}"]`).textContent);
             return n("lost") + n("id_collision") > 0; }""",
        arg=NAIVE, timeout=60_000,
    )  # fmt: skip
    assert page.get_attribute(NAIVE, "data-final") is None
    # The first example of a class found is drawn as its swimlane, still before the final check.
    page.wait_for_function(
        """card => { const c = document.querySelector(card);
             return c.dataset.final || c.querySelector("[data-swimlane] svg rect.example"); }""",
        arg=NAIVE, timeout=30_000,
    )  # fmt: skip
    assert page.get_attribute(NAIVE, "data-final") is None
    # From its first event to the end, sqlite:transactional's every count is watched.
    page.wait_for_selector(SQLITE, timeout=30_000)
    page.evaluate("""card => { window.sqliteWorst = 0; setInterval(() => {
        for (const td of document.querySelectorAll(card + " .count"))
          window.sqliteWorst = Math.max(window.sqliteWorst, parseInt(td.textContent)); }, 20); }""",
                  SQLITE)  # fmt: skip
    page.wait_for_selector("#report-link", timeout=90_000)
    assert page.text_content(f"{NAIVE} .verdict") == "failed"
    assert page.text_content(f"{SQLITE} .verdict") == "held"
    assert page.evaluate("window.sqliteWorst") == 0
    assert count(page, SQLITE, "lost") == 0 and count(page, SQLITE, "id_collision") == 0
    assert int(page.text_content(f"{SQLITE} .acknowledged")) > 0
    page.click("#report-link")
    page.wait_for_selector("text=json:naive")


def test_a_class_plays_the_interleaved_permutation_by_clicking_and_sees_its_verdict(page):
    page.goto(page.base + "/step")
    page.select_option("select[name=spec]", "last-item-oversold")
    page.fill("input[name=target]", "json:naive@1")
    page.click("#step-start")
    page.wait_for_selector("#release-A")
    with page.expect_response("**/reset"):
        page.select_option("#permutation", "2")  # A.read B.read A.write B.write
    expect = sync_api.expect
    here = page.locator("#source .line.here")
    expect(here).to_contain_text('pause("read")', timeout=30_000)
    expect(here).to_contain_text("A, B waits here", timeout=30_000)
    for session in "ABAB":
        assert page.text_content("#verdict") == "not yet"
        with page.expect_response("**/release"):
            page.click(f"#release-{session}")
    # The page draws an answer after it arrives: wait for the drawing, however slow.
    expect(page.locator("#verdict")).to_contain_text("failed", timeout=30_000)
    verdict = page.text_content("#verdict")
    assert verdict.startswith("failed") and "lost" in verdict and "id_collision" in verdict
    expect(page.locator("#matrix")).to_contain_text("id_collision, lost", timeout=30_000)
    with page.expect_response("**/play-rest"):
        page.click("#play-rest")
    expect(page.locator("#matrix td:nth-child(2)")).to_have_text(
        ["held", "id_collision, lost"], timeout=30_000
    )
