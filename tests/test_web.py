"""The screening page's server over HTTP (no browser): decisions, team modes, safety, restart."""

import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from prioritiser.importing import create_project
from prioritiser.package_data import data_dir
from prioritiser.screening import explain_iteration
from prioritiser.stopping import DEFAULT_RULE
from prioritiser.store import Project, team
from prioritiser.web.app import free_port, serving
from prioritiser.web.queue import ScreeningQueue

DATA = data_dir() / "example.csv"


def make_project(tmp_path: Path, n: int = 40, name: str = "proj") -> Path:
    """A project of the first ``n`` example records, without labels."""
    frame = pd.read_csv(DATA).head(n).drop(columns=["label_included"])
    frame.to_csv(tmp_path / f"{name}.csv", index=False)
    project, _ = create_project(tmp_path / name, [tmp_path / f"{name}.csv"])
    project.close()
    return tmp_path / name


class Client:
    """Requests to a served page as its own script makes them."""

    def __init__(self, served, reviewer: str, host_header: str | None = None):
        self.base = f"http://127.0.0.1:{served.port}"
        self.reviewer = reviewer
        self.host_header = host_header
        page = self.request("GET", "/").decode()
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None) -> bytes:
        request = urllib.request.Request(self.base + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers=headers or {})
        if self.host_header:
            request.add_unredirected_header("Host", self.host_header)
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def get(self, path: str) -> dict:
        sep = "&" if "?" in path else "?"
        return json.loads(self.request("GET", f"{path}{sep}reviewer={self.reviewer}"))

    def post(self, path: str, body: dict) -> dict:
        headers = {"Content-Type": "application/json", "X-CSRF-Token": self.csrf}
        return json.loads(self.request("POST", path, {**body, "reviewer": self.reviewer}, headers))

    def decide(self, group: int, decision: str, reason: str = "") -> dict:
        return self.post("/api/decide", {"group_id": group, "decision": decision, "reason": reason})


def status_code(call) -> int:
    try:
        call()
    except urllib.error.HTTPError as exc:
        return exc.code
    return 200


def test_decisions_are_events_with_reviewer_and_survive_a_restart(tmp_path):
    path = make_project(tmp_path)
    with serving(path, retrain=False) as served:
        alice = Client(served, "alice")
        first = alice.get("/api/next")["record"]["group_id"]
        answer = alice.decide(first, "exclude", reason="wrong outcome")
        second = answer["record"]["group_id"]
        alice.decide(second, "include")
    with Project(path) as project:
        events = project.label_events()
        assert events[["record_id", "decision", "reviewer"]].values.tolist() == [
            [first, "exclude", "alice"], [second, "include", "alice"]]
        assert team.exclusion_reason_counts(project.con) == {"wrong outcome": 1}
    with serving(path, retrain=False) as served:  # a new server: nothing decided comes back
        nxt = Client(served, "alice").get("/api/next")["record"]["group_id"]
        assert nxt not in (first, second)


def test_background_retraining_ranks_reports_and_explains(tmp_path):
    path = make_project(tmp_path, n=60)
    labels = pd.read_csv(DATA).head(60)["label_included"].tolist()
    with serving(path) as served:  # retrains after every 10 decisions (the default)
        alice = Client(served, "alice")
        record = alice.get("/api/next")["record"]
        for n in range(12):  # the example's own labels, but at least one include among the first 10
            group = record["group_id"]
            decision = "include" if labels[group - 1] or n == 0 else "exclude"
            record = alice.decide(group, decision)["record"]
        deadline = time.monotonic() + 120
        while (progress := alice.get("/api/progress"))["estimate"] is None or progress["iteration_id"] is None:
            assert time.monotonic() < deadline and not progress["error"], progress
            time.sleep(0.5)
        assert progress["estimate"]["screened"] >= 10 and progress["default_rule"]["rule"] == DEFAULT_RULE
        assert progress["estimate_text"] and progress["default_rule"]["assumption"]
        assert 0 <= progress["estimate"]["recall_lower_95"] <= 1
        nxt = alice.get("/api/next")["record"]
        assert nxt["rank"] == 1 and nxt["why"]["similar"]["group_id"] != nxt["group_id"]
    with Project(path) as project:
        latest = project.latest_iteration()
        assert latest.kind == "rank" and latest.n_labelled >= 10
        expected = explain_iteration(project, latest, limit=1, progress=False).iloc[0]
    assert nxt["why"]["terms"] == expected.top_terms and nxt["why"]["similar"]["group_id"] == expected.similar_include_id
    assert not (path / "batches").exists()  # the page shows its ranking record by record: no batch files


def test_state_changing_requests_need_the_csrf_token_and_the_own_host(tmp_path):
    path = make_project(tmp_path, n=5)
    with serving(path, retrain=False) as served:
        alice = Client(served, "alice")
        body = {"group_id": 1, "decision": "include", "reviewer": "alice"}
        no_token = lambda: alice.request("POST", "/api/decide", body, {"Content-Type": "application/json"})  # noqa: E731
        cross_site = lambda: alice.request("POST", "/api/decide", body, {  # noqa: E731
            "Content-Type": "application/json", "X-CSRF-Token": alice.csrf, "Origin": "http://evil.example"})
        assert status_code(no_token) == 403
        assert status_code(cross_site) == 403
        rebinding = Client.__new__(Client)
        rebinding.base, rebinding.host_header = alice.base, f"evil.example:{served.port}"
        assert status_code(lambda: rebinding.request("GET", "/")) == 403
        with Project(path) as project:
            assert project.last_event_id() == 0


def test_another_host_needs_the_token(tmp_path):
    path = make_project(tmp_path, n=5)
    with serving(path, host="0.0.0.0", retrain=False) as served:
        assert served.token and f"token={served.token}" in served.url
        url = f"http://127.0.0.1:{served.port}/"
        assert status_code(lambda: urllib.request.urlopen(url, timeout=10)) == 403
        assert status_code(lambda: urllib.request.urlopen(url + "?token=wrong", timeout=10)) == 403
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(url + f"?token={served.token}", timeout=10) as response:  # cookie set, token dropped
            assert response.status == 200 and "token" not in response.url
        with browser.open(url + "api/state?reviewer=alice", timeout=10) as response:  # the cookie suffices
            assert json.loads(response.read())["reviewer"] == "alice"


def test_dual_share_asks_a_second_reviewer_for_includes_and_the_share(tmp_path):
    path = make_project(tmp_path, n=30)
    with Project(path) as project:
        team.save_settings(project, mode="dual-share", share=0.2, share_seed=3)
        queue = ScreeningQueue(project, "dual-share", 0.2, 3)
        outside = [g for g in queue.all_groups.tolist() if g not in queue.share]
        inc, exc = outside[0], outside[1]
        team.record_decision(project, inc, "include", "alice")
        team.record_decision(project, exc, "exclude", "alice")
        shared = sorted(queue.share)[0]
        team.record_decision(project, shared, "exclude", "alice")
        queue.refresh()
        assert queue.needs(inc, "bob") and queue.needs(shared, "bob")
        assert not queue.needs(exc, "bob") and not queue.needs(inc, "alice")
        # bob is offered alice's include and the calibration record before unscreened ones
        offered = {queue.next_group("bob")}
        team.record_decision(project, queue.showing["bob"], "include", "bob")
        queue.refresh()
        offered.add(queue.next_group("bob"))
        assert offered == {inc, shared}


def test_conflicts_are_settled_by_a_new_adjudication_event(tmp_path):
    path = make_project(tmp_path, n=10)
    with Project(path) as project:
        team.record_decision(project, 1, "include", "alice")
        team.record_decision(project, 1, "exclude", "bob")
        team.record_decision(project, 2, "include", "alice")
        team.record_decision(project, 2, "include", "bob")
        assert [c["group_id"] for c in team.conflicts(project.con)] == [1]
        team.record_decision(project, 1, "include", "carol", adjudication=True)
        assert team.conflicts(project.con) == []
        assert project.group_decisions()[1] == "include"
        assert len(project.label_events()) == 5  # nothing overwritten
        (pair,) = team.agreement(project.con)  # the adjudicator is no rater
        assert (pair.reviewer_a, pair.reviewer_b, pair.n, pair.b_only_include) == ("alice", "bob", 2, 0)
        assert pair.a_only_include == 1
        bob_changes = team.record_decision(project, 1, "maybe", "bob")  # a later review reopens it
        assert bob_changes and [c["group_id"] for c in team.conflicts(project.con)] == [1]


def test_reporting_reads_a_project_without_team_tables_without_writing(tmp_path):
    path = make_project(tmp_path, n=5)
    with Project(path) as project:
        before = project.con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0]
        assert team.team_prisma(project.con)["reviewers"] == []
        assert team.highlight_terms(project.con) == {"include": [], "exclude": []}
        assert project.con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == before


def test_bad_settings_are_one_line_user_errors(tmp_path):
    from prioritiser.errors import UserError

    path = make_project(tmp_path, n=5)
    with Project(path) as project:
        with pytest.raises(UserError, match="--mode 'triple'"):
            team.save_settings(project, mode="triple")
        with pytest.raises(UserError, match="--share"):
            team.save_settings(project, share=1.5)


def test_status_and_audit_report_reviewers_reasons_and_agreement(tmp_path):
    from prioritiser.audit import write_audit
    from prioritiser.screening import rank_project
    from prioritiser.status import project_status

    path = make_project(tmp_path, n=40)
    pairs = {1: ("include", "include"), 2: ("exclude", "include"), 3: ("exclude", "exclude"), 4: ("exclude", "exclude")}
    with Project(path) as project:
        team.save_settings(project, mode="dual", adjudicator="carol")
        for group, (a, b) in pairs.items():
            team.record_decision(project, group, a, "alice", reason="wrong outcome" if a == "exclude" else "")
            team.record_decision(project, group, b, "bob")
        team.record_decision(project, 2, "exclude", "carol", adjudication=True)
        rank_project(project, batch=5, progress=False)
        status = project_status(project)
        write_audit(project, tmp_path / "audit")
    assert status["conflicts"] == 0 and status["team"]["open_conflicts"] == 0
    (pair,) = status["team"]["agreement"]
    # a=1, b=1 (alice only), c=0, d=2: p_o = 3/4, p_A = 1/2, p_B = 1/4; p_e = 1/8 + 3/8; kappa = 0.25/0.5
    assert pair["kappa"] == pytest.approx(0.5) and pair["pabak"] == pytest.approx(0.5)
    screening = json.loads((tmp_path / "audit" / "prisma.json").read_text())["screening"]
    assert screening["groups_by_number_of_reviewers"] == {"2": 4} and screening["independent"]
    assert screening["adjudications"] == 1
    assert screening["exclusion_reasons"] == {"wrong outcome": 3}
    report = (tmp_path / "audit" / "report.html").read_text()
    assert "Cohen&#x27;s kappa" in report or "Cohen's kappa" in report
    assert "excluded: wrong outcome" in report


def test_screen_command_serves_stops_on_ctrl_c_and_a_kill_loses_no_decision(tmp_path):
    path = make_project(tmp_path, n=20)

    def start():
        port = free_port()
        child = subprocess.Popen([sys.executable, "-m", "prioritiser", "screen", str(path), "--reviewer", "alice",
                                  "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        url = re.search(r"http://\S+", child.stdout.readline()).group(0)
        assert url == f"http://127.0.0.1:{port}/?reviewer=alice"  # loopback: no token
        for _ in range(100):  # uvicorn binds just after the address is printed
            try:
                return child, Client(SimpleNamespace(port=port), "alice")
            except urllib.error.URLError:
                time.sleep(0.1)
        raise AssertionError("the page did not come up")

    child, alice = start()
    decided = []
    record = alice.get("/api/next")["record"]
    for _ in range(5):
        decided.append(record["group_id"])
        record = alice.decide(record["group_id"], "exclude")["record"]
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    with Project(path) as project:
        assert sorted(project.group_decisions()) == sorted(decided)

    child, alice = start()
    assert alice.get("/api/next")["record"]["group_id"] not in decided
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0 and "Traceback" not in err, err
    assert "every decision was saved" in out
