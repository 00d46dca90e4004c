"""The dashboard in a real browser: Debian chromium (headless, driven by playwright) against `streamlit run`.

Launch a tiny run from the form, watch it on Runs until its loss curve is drawn, then open Compare and
Offsets. Screenshots of every step go to tests/artifacts/ (ignored by git) for a person to look at.
Needs /usr/bin/chromium (`make test` installs it as root) and the playwright package; skipped without them.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROME_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1500, "height": 2000}  # Streamlit scrolls inside its own container: a tall viewport


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium chromium-driver")
    pytest.importorskip("playwright.sync_api")
    home = tmp_path_factory.mktemp("browser-store")
    env = {
        **os.environ,
        "ADEPT_HOME": str(home),
        "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
        "HF_HUB_OFFLINE": "1",
        "ADEPT_MAX_CONCURRENT": "1",
        "PYTHONPATH": str(ROOT),
    }
    # Three finished runs (PT / DePT / ADePT, seed 0) for Compare and Offsets, trained before the app starts.
    # Seed 1: its DePT and ADePT best adapters come after training steps (seed 0's ADePT stays at step 0).
    seed = subprocess.run(
        [sys.executable, "-m", "app.seed", "--seeds", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert seed.returncode == 0, seed.stderr[-3000:]
    port = _free_port()
    log = open(home / "streamlit.log", "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app/main.py",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not start: {(home / 'streamlit.log').read_text()[-2000:]}")
    old = {k: os.environ.get(k) for k in ("ADEPT_HOME", "MLFLOW_TRACKING_URI")}
    os.environ.update(ADEPT_HOME=env["ADEPT_HOME"], MLFLOW_TRACKING_URI=env["MLFLOW_TRACKING_URI"])
    try:
        yield {"url": url, "home": home}
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROME_ARGS)
        pg = browser.new_page(viewport=VIEWPORT)
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


SCRIPT_DONE = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    const state = app && app.getAttribute("data-test-script-state");
    return state && state !== "initial" && state !== "running";
}"""


def _settle(pg, seconds: float = 1.0) -> None:
    """Wait until Streamlit's script run is over (stApp's data-test-script-state), then a little more."""
    time.sleep(0.4)  # let a rerun triggered by the last action begin
    pg.wait_for_function(SCRIPT_DONE, timeout=120_000)
    time.sleep(seconds)


def _no_exceptions(pg) -> None:
    assert pg.locator("[data-testid='stException']").count() == 0, pg.locator(
        "[data-testid='stException']"
    ).first.inner_text()


def _shot(pg, name: str) -> None:
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _runs():
    from adept import tracking

    return tracking.runs_dataframe()


def test_launch_watch_compare_and_inspect_offsets(server, page):
    pg = page
    pg.goto(server["url"])
    _settle(pg)
    _no_exceptions(pg)
    assert pg.get_by_text("Before you launch").is_visible()
    _shot(pg, "01-launch")

    # A tiny run: backbone tiny-bert at the paper's budget (100 x d), 20 steps, PT only.
    pg.locator("[data-testid='stSelectbox']").filter(has_text="Backbone").first.click()  # not "Backbone precision"
    pg.get_by_role("option", name="tiny-bert", exact=True).click()
    _settle(pg)
    pg.get_by_role("button", name="Use 100 × d").click()
    _settle(pg)
    steps = pg.get_by_label("Steps", exact=True)
    steps.fill("20")
    steps.press("Enter")
    _settle(pg)
    methods = pg.locator("[data-testid='stMultiSelect']").filter(has_text="Methods").locator("input")
    methods.click()
    methods.press("Backspace")
    methods.press("Backspace")
    methods.press("Escape")
    _settle(pg)
    seeds = pg.get_by_label("Seeds", exact=True)  # three by default; one run is enough here
    seeds.fill("0")
    seeds.press("Enter")
    _settle(pg)
    assert pg.get_by_text("6,400").first.is_visible()  # PT: 100 tokens x 64 in the budget table
    launch = pg.get_by_role("button", name="Launch 1 run")
    before = set(_runs()["run_id"])
    launch.click()
    _settle(pg)
    _no_exceptions(pg)
    assert pg.get_by_text("Queued 1 run").is_visible()
    _shot(pg, "02-launched")
    new = _runs()[lambda d: ~d["run_id"].isin(before)]
    assert len(new) == 1 and new["method"].iloc[0] == "pt" and new["backbone"].iloc[0] == "tiny-bert"
    run_id = new["run_id"].iloc[0]

    # Runs: the run trains in its own process; the page follows it until it finishes.
    pg.get_by_role("link", name="Watch them on the Runs page").click()
    _settle(pg)
    deadline = time.monotonic() + 240
    status = ""
    shot_running = False
    while time.monotonic() < deadline:
        status = _runs().set_index("run_id").loc[run_id, "status"]
        if status == "RUNNING" and not shot_running:
            try:  # the page notices the start within 2 s and shows the progress line
                pg.get_by_text(re.compile(r"step \d+ of 20")).wait_for(timeout=20_000)
                _settle(pg, 0.5)
            except Exception:  # noqa: BLE001 - the run may finish first; the screenshot is still useful
                pass
            _shot(pg, "03-runs-running")
            shot_running = True
        if status in ("FINISHED", "FAILED", "KILLED"):
            break
        time.sleep(1)
    assert status == "FINISHED", _runs().set_index("run_id").loc[run_id, "failure"]
    time.sleep(3)  # the page redraws itself when the last run ends
    _settle(pg)
    _no_exceptions(pg)
    assert run_id in pg.locator("[data-testid='stMain']").inner_text()  # the new run is the one shown
    loss = pg.locator(".js-plotly-plot").filter(has_text="Training loss")
    assert loss.count() == 1
    assert loss.locator("path.js-line").count() >= 1  # the curve is drawn
    _shot(pg, "04-runs-finished")

    pg.get_by_role("link", name="Compare").first.click()
    _settle(pg, 2)
    _no_exceptions(pg)
    assert pg.locator(".js-plotly-plot").filter(has_text="Final test/accuracy by method").count() == 1
    _shot(pg, "05-compare")

    pg.get_by_role("link", name="Offsets").first.click()
    _settle(pg, 3)
    _no_exceptions(pg)
    assert pg.locator(".js-plotly-plot").filter(has_text="Per-token offset size").count() == 1
    assert pg.locator(".js-plotly-plot").filter(has_text="Same token, different position").count() == 1
    _shot(pg, "06-offsets")


def test_an_out_of_range_number_is_shown_as_typed_and_blocks_launch(server, page):
    """The report's worst case: 0 steps, or rank -5 under "Set l and r myself", typed and Launch clicked at
    once. The field keeps showing what was typed, the message under it says what to do, nothing is queued
    (a number_input with bounds kept its previous value here and queued 150 steps / rank 8)."""
    pg = page
    pg.goto(server["url"])
    _settle(pg)
    before = set(_runs()["run_id"])
    steps = pg.get_by_label("Steps", exact=True)
    steps.fill("0")
    pg.get_by_role("button", name=re.compile(r"^Launch")).click()  # no Enter: the click commits the field
    _settle(pg)
    _no_exceptions(pg)
    assert steps.input_value() == "0"
    main = pg.locator("[data-testid='stMain']")
    assert main.get_by_text("0 is below 1 — type a whole number of at least 1").first.is_visible()
    assert pg.get_by_text(re.compile(r"Nothing launched\. Fix: Steps")).first.is_visible()
    _shot(pg, "07-steps-zero-refused")
    steps.fill("150")
    steps.press("Enter")
    _settle(pg)
    pg.get_by_text("Set l and r myself").click()
    _settle(pg)
    rank = pg.get_by_label("DePT / ADePT rank r", exact=True)
    rank.fill("-5")
    pg.get_by_role("button", name=re.compile(r"^Launch")).click()
    _settle(pg)
    _no_exceptions(pg)
    assert rank.input_value() == "-5"
    assert main.get_by_text("-5 is below 1").first.is_visible()
    assert pg.get_by_text(re.compile(r"Nothing launched\. Fix: DePT / ADePT rank r")).first.is_visible()
    _shot(pg, "08-rank-negative-refused")
    assert set(_runs()["run_id"]) == before  # nothing was queued


def _pick(pg, label: str, option: str) -> None:
    """Choose ``option`` in the selectbox labelled ``label``."""
    pg.locator("[data-testid='stSelectbox']").filter(has_text=label).first.click()
    pg.get_by_role("option", name=option, exact=True).click()
    _settle(pg)


def test_manage_runs_group_by_parallel_coordinates_try_and_a_shared_url(server, page):
    """Tag, delete and restore a run from its panel (opened by a link naming it), group Compare by a config
    field with parallel coordinates, reopen that view from its URL in a fresh tab, and try the models."""
    from adept import tracking

    pg = page
    df = _runs()
    done = df[(df["status"] == "FINISHED") & (df["sweep"] == "seeded-sweep")]
    rid = done[done["method"] == "dept"]["run_id"].iloc[0]
    client = tracking.get_client()

    # A link that names the run opens its panel.
    pg.goto(f"{server['url']}/runs?run={rid}")
    _settle(pg, 1.5)
    _no_exceptions(pg)
    main = pg.locator("[data-testid='stMain']")
    assert rid in main.inner_text()
    pg.get_by_role("textbox", name="Tag", exact=True).fill("keep")
    pg.get_by_role("button", name="Add tag").click()
    _settle(pg)
    pg.get_by_text("Tagged 1 run with keep").wait_for()
    assert "keep" in client.get_run(rid).data.tags
    _shot(pg, "09-runs-tagged")

    pg.get_by_role("button", name="Delete", exact=True).click()
    _settle(pg)
    _no_exceptions(pg)
    pg.get_by_text(re.compile(r"Deleted 1 run")).wait_for()
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    pg.get_by_text(re.compile(r"Deleted runs \(1\)")).click()
    _settle(pg, 0.5)
    restore = pg.locator("[data-testid='stMultiSelect']").filter(has_text="Restore").locator("input")
    restore.click()
    pg.get_by_role("option").first.click()
    pg.keyboard.press("Escape")
    _settle(pg)
    _shot(pg, "10-runs-deleted-restore")
    pg.get_by_role("button", name="Restore", exact=True).click()
    _settle(pg)
    pg.get_by_text("Restored 1 run").wait_for()
    assert client.get_run(rid).info.lifecycle_stage == "active"

    # Compare, grouped and coloured by a config field; parallel coordinates over what differs.
    pg.get_by_role("link", name="Compare").first.click()
    _settle(pg, 2)
    _no_exceptions(pg)
    _pick(pg, "Group and colour by", "num_virtual_tokens")
    pg.get_by_text("Log-scale loss").click()
    _settle(pg, 2)
    _no_exceptions(pg)
    final = pg.locator(".js-plotly-plot").filter(has_text="Final test/accuracy by num_virtual_tokens")
    assert final.count() == 1
    assert pg.locator(".js-plotly-plot").filter(has_text="Parallel coordinates").count() == 1
    assert pg.locator(".js-plotly-plot .parcoords").count() >= 1
    assert "by=num_virtual_tokens" in pg.url and "log=1" in pg.url
    _shot(pg, "11-compare-grouped-parallel")

    # The URL is the view: a fresh tab on it shows the same grouping and settings.
    shared = pg.url
    other = pg.context.browser.new_page(viewport=VIEWPORT)
    try:
        other.set_default_timeout(60_000)
        other.goto(shared)
        _settle(other, 2)
        _no_exceptions(other)
        other.locator(".js-plotly-plot").filter(has_text="Final test/accuracy by num_virtual_tokens").wait_for()
        assert other.get_by_label("Log-scale loss").is_checked()
        _shot(other, "12-compare-shared-url")
    finally:
        other.close()

    # Try: each run's prediction and label scores, the folded check, the offsets of the input.
    pg.get_by_role("link", name="Try").first.click()
    _settle(pg, 3)
    _no_exceptions(pg)
    assert pg.get_by_text("Predictions").first.is_visible()
    assert pg.locator("[data-testid='stMetric']").count() >= 2
    assert pg.get_by_text(re.compile(r"Folded vs unfolded: same prediction")).count() >= 1
    assert pg.locator(".js-plotly-plot").filter(has_text="Per-token offset norm").count() >= 1
    pg.get_by_role("button", name="Use this test example").click()
    _settle(pg, 2)
    pg.get_by_text(re.compile(r"Test example #0: its label is")).wait_for()
    _shot(pg, "13-try")
