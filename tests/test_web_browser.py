"""The screening page in a real headless Chromium (Playwright for Python, Debian's chromium).

Screenshots for a reviewer to look at are saved under ``out/screenshots/`` at the repository
root (or ``$PRIORITISER_SCREENSHOTS``). Skipped, with the reason, when Playwright or a
``chromium`` executable is missing; CI installs both (see .ci/run).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from prioritiser.importing import create_project
from prioritiser.store import Project
from prioritiser.store import team
from prioritiser.web.app import serving
from test_web import make_project

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed (pip install playwright)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable (apt-get install -y chromium)")
SHOTS = Path(os.environ.get("PRIORITISER_SCREENSHOTS", Path(__file__).parents[1] / "out" / "screenshots"))


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_page(browser, url: str):
    # The page's Content-Security-Policy would block the test's own polling scripts; without it the
    # hostile-text test also shows that the page inserts record text as text, CSP or not.
    page = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_function("document.body.dataset.ready === '1'")
    page.errors = errors
    return page


def shown(page) -> int | None:
    value = page.evaluate("document.body.dataset.groupId")
    return int(value) if value else None


def press(page, key: str) -> int | None:
    """Press a decision key and wait until the page has stored it and shows the next record."""
    before = int(page.evaluate("document.body.dataset.decisions || '0'"))
    page.keyboard.press(key)
    page.wait_for_function(f"Number(document.body.dataset.decisions || 0) > {before}")
    return shown(page)


def screenshot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def in_force_of(path: Path, reviewer: str) -> dict[int, str]:
    with Project(path) as project:
        return team.reviewer_decisions(project.con).get(reviewer, {})


def test_thirty_records_by_keys_with_undo(browser, tmp_path):
    path = make_project(tmp_path, n=45)
    keys = ["e", "e", "i", "e", "m", "1", "e", "e", "2", "i"] * 3  # 1, 2: exclude with the first, second reason
    meaning = {"e": "exclude", "1": "exclude", "2": "exclude", "i": "include", "m": "maybe"}
    with Project(path) as project:
        team.save_settings(project, question="Viral metagenomics in farm animals")
    with serving(path, retrain=False) as served:
        page = open_page(browser, served.url + "?reviewer=alice")
        page.fill("#term-input", "Virome")  # a highlight term typed on the page is kept in the project
        page.click("#term-form button[data-kind=include]")
        page.wait_for_selector("#term-list li.inc")
        assert page.locator("#title mark.inc").first.inner_text().lower() == "virome"
        assert page.locator("#abstract mark.q").count() > 0  # the research question's words
        with Project(path) as project:
            assert team.highlight_terms(project.con)["include"] == ["virome"]
        intended: dict[int, str] = {}
        for n, key in enumerate(keys):
            group = shown(page)
            press(page, key)
            intended[group] = meaning[key]
            if n in (9, 19):  # undo twice: back over the last two decisions, change the earlier one
                page.keyboard.press("u")
                page.wait_for_function(f"document.body.dataset.groupId === '{group}'")
                assert "Your decision: " + meaning[key] in page.inner_text("#my-decision")
                page.keyboard.press("u")
                page.wait_for_function(f"document.body.dataset.groupId !== '{group}'")
                back = shown(page)
                new = "include" if intended[back] != "include" else "exclude"
                press(page, new[0])
                intended[back] = new
                if n == 19:
                    screenshot(page, "screen-after-undo")
        assert page.errors == []
        assert page.locator("#done").is_hidden()
        screenshot(page, "screen-thirty-keys")
    assert in_force_of(path, "alice") == intended
    with Project(path) as project:
        events = project.label_events()
        assert len(events) == 32 and set(events["reviewer"]) == {"alice"}
        assert team.exclusion_reason_counts(project.con)[team.DEFAULT_REASONS[0]] >= 1


def test_blind_dual_screening_conflicts_adjudicated_and_kappa(browser, tmp_path):
    path = make_project(tmp_path, n=30)
    with Project(path) as project:
        team.save_settings(project, mode="dual", adjudicator="carol")
    # by position in alice's sequence: both include 3, alice only 2, bob only 1, both exclude 6
    alice_keys = list("iiiiieeeeeee")
    bob_keys = list("iiieeieeeeee")
    with serving(path, retrain=False) as served:
        alice = open_page(browser, served.url + "?reviewer=alice")
        order = []
        for key in alice_keys:
            order.append(shown(alice))
            press(alice, key)
        bob = open_page(browser, served.url + "?reviewer=bob")
        for _ in bob_keys:
            group = shown(bob)
            assert group in order  # alice's records wait for their second reviewer first
            # blind: nothing of alice's decision on the record before bob decides it
            assert "alice" not in bob.inner_text("#record") and bob.locator("#my-decision").is_hidden()
            assert bob.locator("#banner").is_hidden()
            press(bob, bob_keys[order.index(group)])
        bob.wait_for_function("document.querySelector('#agreement tbody tr td:nth-child(2)')?.textContent === '12'")
        screenshot(bob, "dual-bob-agreement")
        kappa_cell = bob.locator("#agreement tbody tr td").nth(2).inner_text()
        # hand: n = 12, p_o = 9/12, p_A = 5/12, p_B = 4/12, p_e = (20 + 56) / 144, kappa = 32/68
        assert kappa_cell == f"{32 / 68:.2f}"

        carol = open_page(browser, served.url + "?reviewer=carol")
        carol.keyboard.press("c")
        carol.wait_for_selector("#banner:not([hidden])")
        assert "alice says" in carol.inner_text("#banner") and "bob says" in carol.inner_text("#banner")
        screenshot(carol, "dual-carol-conflict")
        settled = []
        for _ in range(3):
            settled.append(shown(carol))
            press(carol, "i")
        carol.wait_for_selector("#done:not([hidden])")
        assert carol.inner_text("#done") == "No open conflicts."
    with Project(path) as project:
        assert team.conflicts(project.con) == []
        (pair,) = team.agreement(project.con)
        assert (pair.n, pair.both_include, pair.a_only_include, pair.b_only_include, pair.both_exclude) == (12, 3, 2, 1, 6)
        assert pair.kappa == pytest.approx(32 / 68)
        events = project.label_events()
        assert len(events) == 27 and (events["reviewer"] == "carol").sum() == 3
        decisions = project.group_decisions()
        assert all(decisions[g] == "include" for g in settled)
    status = subprocess.run([sys.executable, "-m", "prioritiser", "status", str(path), "--json"],
                            capture_output=True, text=True, check=True)
    (row,) = json.loads(status.stdout)["team"]["agreement"]
    assert row["kappa"] == pytest.approx(32 / 68) and row["ac1"] is not None and row["pabak"] == pytest.approx(0.5)


def test_hostile_record_text_shows_as_text(browser, tmp_path):
    title = '<img src=x onerror="window.__pwned = 1">Virus <b>metagenomics</b>'
    abstract = '<script>window.__pwned = 2</script> Pigs and "quotes" & <a href="javascript:alert(1)">link</a>'
    frame = pd.DataFrame({"title": [title, "Plain second record"], "abstract": [abstract, "Nothing here."],
                          "doi": ["10.1234/javascript:alert(1)&x='y'", ""]})
    frame.to_csv(tmp_path / "hostile.csv", index=False)
    project, _ = create_project(tmp_path / "hostile", [tmp_path / "hostile.csv"])
    team.set_highlight_term(project, "script", "exclude", "alice", True)
    team.set_highlight_term(project, "metagenomics", "include", "alice", True)
    project.close()
    with serving(tmp_path / "hostile", retrain=False) as served:
        page = open_page(browser, served.url + "?reviewer=alice")
        assert page.inner_text("#title") == title
        assert page.inner_text("#abstract") == abstract
        assert page.locator("#record img, #record script, #record b, #abstract a").count() == 0
        assert page.locator("#title mark.inc").inner_text().lower() == "metagenomics"
        assert page.locator("#abstract mark.exc").count() == 2
        page.hover("#doi")
        assert page.evaluate("window.__pwned") is None
        assert page.get_attribute("#doi", "href").startswith("https://doi.org/10.1234/javascript:")
        screenshot(page, "hostile-record")
        assert page.errors == []


def test_page_and_label_command_write_at_the_same_time(browser, tmp_path):
    path = make_project(tmp_path, n=60)
    files = []
    for k in range(3):  # three CLI imports of 10 decisions each, on records 21..50 (ahead of the page)
        ids = list(range(21 + 10 * k, 31 + 10 * k))
        pd.DataFrame({"record_id": ids, "label": ["exclude"] * 10}).to_csv(tmp_path / f"cli{k}.csv", index=False)
        files.append(tmp_path / f"cli{k}.csv")
    with serving(path, retrain=False) as served:
        page = open_page(browser, served.url + "?reviewer=alice")
        script = "; ".join(f"{sys.executable} -m prioritiser label {path} {f} --reviewer cli" for f in files)
        cli = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        decided = []
        while cli.poll() is None and len(decided) < 20:  # the page writes while the command does
            decided.append(shown(page))
            press(page, "e")
            page.wait_for_timeout(150)
        _, err = cli.communicate(timeout=120)
        assert cli.returncode == 0, err
        for _ in range(5):  # from now on the page knows the command's decisions: none of its records comes up
            decided.append(shown(page))
            after = press(page, "i")
            assert not 21 <= after <= 50
        assert "not saved" not in page.inner_text("#status-line").lower()
        screenshot(page, "page-with-cli")
    assert sorted(in_force_of(path, "alice")) == sorted(set(decided)) and len(set(decided)) == len(decided)
    assert len(in_force_of(path, "cli")) == 30
