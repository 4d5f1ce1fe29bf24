"""The screening page's server: Starlette routes over one project connection.

Why Starlette (with uvicorn): it is a small, maintained ASGI framework with no template or ORM
layer to carry, and its async handlers all run on one event-loop thread, so one SQLite
connection serves every request in order (the handlers' work is a few milliseconds of SQLite)
while retraining runs in another process. uvicorn is its usual pure-Python server and can be
started and stopped from Python, which the browser tests do.

Every decision is committed (an append-only label event, WAL with ``synchronous=FULL``, the
same write lock and waiting as the CLI) before the answer that carries the next record, so a
restart or a kill loses no decision the reviewer saw accepted. Record text is sent as JSON and
the page inserts it as text, never as HTML.
"""

from __future__ import annotations

import html
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlencode

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from prioritiser.errors import UserError
from prioritiser.status import forecast_text
from prioritiser.store import Project
from prioritiser.store import team
from prioritiser.web.queue import ScreeningQueue
from prioritiser.web.retrain import BackgroundRetrainer
from prioritiser.web.security import Guard, is_loopback

STATIC = files("prioritiser.web") / "static"
DECISIONS = ("include", "exclude", "maybe")
#: Seconds agreement and conflict counts may lag behind the newest decision on the page.
TEAM_FIGURES_MAX_AGE_S = 2.0


def question_terms(question: str) -> list[str]:
    """The research question's content words (three letters or more, English stop words left out)."""
    words = re.findall(r"[^\W\d_]{3,}", question.lower())
    return sorted({w for w in words if w not in ENGLISH_STOP_WORDS})


class ScreeningServer:
    """State shared by the page's requests: the project, the queue, the latest background report."""

    def __init__(self, path: Path, reviewer: str = "", model: str = "default", retrain: bool = True):
        self.project = Project(path)
        team.ensure_team_tables(self.project)
        self.settings = team.settings(self.project.con)
        self.reviewer = reviewer
        self.csrf = secrets.token_urlsafe(32)
        self.queue = ScreeningQueue(self.project, self.settings["mode"], self.settings["share"],
                                    self.settings["share_seed"])
        self.report: dict | None = None
        self.why: dict[int, dict] = {}
        self.error = ""
        self.report_event = 0
        self._team_figures = (-1, float("-inf"), {})
        self.retrainer = None
        if retrain:
            self.retrainer = BackgroundRetrainer(path, model, self.settings["question"], self._on_report, self._on_error)
            self.request_retrain()

    def close(self) -> None:
        if self.retrainer is not None:
            self.retrainer.close()
        self.project.close()

    # ------------------------------------------------------------------ background
    def request_retrain(self) -> None:
        self.report_event = self.queue.last_event
        self.retrainer.request()

    def maybe_retrain(self) -> None:
        if self.retrainer is not None and self.queue.last_event - self.report_event >= self.settings["retrain_every"]:
            self.request_retrain()

    def _on_report(self, report: dict) -> None:
        self.report, self.why, self.error = report, report["why"], ""

    def _on_error(self, message: str) -> None:
        self.error = message

    # ------------------------------------------------------------------ records
    def record(self, group_id: int, reviewer: str) -> dict:
        record = self.project.record_detail(group_id)
        if record is None:
            raise UserError(f"record {group_id}: no such record")
        record["rank"] = self.queue.rank_of(group_id, reviewer)
        record["my_decision"] = self.queue.own_decision(group_id, reviewer)
        record["why"] = self.why.get(group_id)
        return record

    def next_record(self, reviewer: str) -> dict | None:
        self.queue.refresh()
        group = self.queue.next_group(reviewer)
        return None if group is None else self.record(group, reviewer)

    def progress(self, reviewer: str) -> dict:
        self.queue.refresh()
        progress = self.queue.progress(reviewer, self.settings["retrain_every"])
        report = self.report or {}
        stopping = (report.get("status") or {}).get("stopping") or {}
        progress.update({
            "estimate": stopping.get("estimate"),
            "estimate_text": stopping.get("estimate_text", ""),
            "default_rule": ({"rule": stopping["rule"], "stop": stopping["rule_stop"],
                              "assumption": stopping["assumption"]} if stopping else None),
            "forecast": " ".join(forecast_text(stopping.get("forecast"), str(self.project.path))),
            "as_of_event": report.get("last_event_id"),
            "note": report.get("note", ""),
            "retraining": bool(self.retrainer and self.retrainer.running),
            "error": self.error,
            **self.team_figures(),
        })
        return progress

    def team_figures(self) -> dict:
        """Agreement per reviewer pair and open conflicts; recomputed (a pass over every label
        event) when there are new events and the last pass is over :data:`TEAM_FIGURES_MAX_AGE_S`
        old, so that polling never holds up a decision on a large project."""
        cached_event, cached_at, figures = self._team_figures
        if cached_event != self.queue.last_event and time.monotonic() - cached_at > TEAM_FIGURES_MAX_AGE_S:
            figures = {"agreement": [pair.as_dict() for pair in team.agreement(self.project.con)],
                       "open_conflicts": len(team.conflicts(self.project.con))}
            self._team_figures = (self.queue.last_event, time.monotonic(), figures)
        return figures


def build_app(server: ScreeningServer, host: str, port: int, token: str | None) -> Starlette:
    """The page and its JSON API, behind :class:`~prioritiser.web.security.Guard`."""

    def reviewer_of(request: Request, body: dict | None = None) -> str:
        name = ((body or {}).get("reviewer") or request.query_params.get("reviewer") or server.reviewer or "").strip()
        if not name or len(name) > 60 or name == "import":
            raise UserError("a reviewer name (1 to 60 characters, not 'import') is needed")
        return name

    def api(handler):
        async def endpoint(request: Request):
            try:
                body = await request.json() if request.method == "POST" else None
                return JSONResponse(handler(request, body))
            except UserError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except (ValueError, TypeError, AttributeError):
                return JSONResponse({"error": "malformed request"}, status_code=400)
        return endpoint

    async def page(request: Request):
        text = (STATIC / "index.html").read_text(encoding="utf-8")
        text = text.replace("{{CSRF}}", server.csrf).replace("{{REVIEWER}}", html.escape(server.reviewer, quote=True))
        return HTMLResponse(text)

    def state(request, _):
        reviewer = reviewer_of(request)
        return {
            "reviewer": reviewer, "mode": server.settings["mode"], "reasons": server.settings["reasons"],
            "adjudicator": server.settings["adjudicator"],
            "is_adjudicator": reviewer == server.settings["adjudicator"],
            "retrain_every": server.settings["retrain_every"],
            "terms": team.highlight_terms(server.project.con),
            "question": server.settings["question"], "question_terms": question_terms(server.settings["question"]),
        }

    def next_(request, _):
        return {"record": server.next_record(reviewer_of(request))}

    def record(request, _):
        return {"record": server.record(int(request.path_params["group_id"]), reviewer_of(request))}

    def decide(request, body):
        reviewer = reviewer_of(request, body)
        decision, group = body.get("decision"), int(body.get("group_id"))
        if decision not in DECISIONS:
            raise UserError(f"decision {decision!r}: expected include, exclude or maybe")
        started = time.perf_counter()
        event = team.record_decision(server.project, group, decision, reviewer, reason=str(body.get("reason") or ""))
        saved_ms = (time.perf_counter() - started) * 1000
        nxt = server.next_record(reviewer)
        server.maybe_retrain()
        return {"event_id": event, "saved_ms": round(saved_ms, 2), "record": nxt}

    def conflicts(request, _):
        reviewer = reviewer_of(request)
        if reviewer != server.settings["adjudicator"]:
            raise UserError(f"{reviewer} is not this project's adjudicator")
        server.queue.release(reviewer)  # whatever they had on screen is free for others meanwhile
        rows = team.conflicts(server.project.con)
        return {"conflicts": [{**row, "record": server.record(row["group_id"], reviewer)} for row in rows[:1]],
                "open": len(rows)}

    def adjudicate(request, body):
        reviewer = reviewer_of(request, body)
        if reviewer != server.settings["adjudicator"]:
            raise UserError(f"{reviewer} is not this project's adjudicator")
        decision, group = body.get("decision"), int(body.get("group_id"))
        if group not in {row["group_id"] for row in team.conflicts(server.project.con)}:
            raise UserError(f"record {group} has no open conflict")
        event = team.record_decision(server.project, group, decision, reviewer, adjudication=True)
        server.queue.refresh()
        return {"event_id": event}

    def progress(request, _):
        return server.progress(reviewer_of(request))

    def terms(request, body):
        team.set_highlight_term(server.project, str(body.get("term", "")), str(body.get("kind", "")),
                                reviewer_of(request, body), bool(body.get("present", True)))
        return {"terms": team.highlight_terms(server.project.con)}

    routes = [
        Route("/", page),
        Route("/api/state", api(state)),
        Route("/api/next", api(next_)),
        Route("/api/record/{group_id:int}", api(record)),
        Route("/api/decide", api(decide), methods=["POST"]),
        Route("/api/conflicts", api(conflicts)),
        Route("/api/adjudicate", api(adjudicate), methods=["POST"]),
        Route("/api/progress", api(progress)),
        Route("/api/terms", api(terms), methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    app = Starlette(routes=routes)
    return Guard(app, host=host, port=port, csrf=server.csrf, token=token)


def make_token(host: str) -> str | None:
    """A fresh access token when ``host`` is not a loopback address, else ``None``."""
    return None if is_loopback(host) else secrets.token_urlsafe(24)


def page_address(host: str, port: int, token: str | None, reviewer: str = "") -> str:
    """The address to open: with the token (when one is needed) and the reviewer's name."""
    shown = f"[{host}]" if ":" in host else host
    query = {"token": token} if token else {}
    if reviewer:
        query["reviewer"] = reviewer
    return f"http://{shown}:{port}/" + ("?" + urlencode(query) if query else "")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _uvicorn_server(app, host: str, port: int):
    import uvicorn

    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))


def serve(path: Path, reviewer: str = "", host: str = "127.0.0.1", port: int = 8765, model: str = "default",
          on_ready=print) -> None:
    """Serve the page until Ctrl-C; ``on_ready`` gets the address to open."""
    server = ScreeningServer(path, reviewer=reviewer, model=model)
    token = make_token(host)
    try:
        uv = _uvicorn_server(build_app(server, host, port, token), host, port)
        on_ready(page_address(host, port, token, reviewer))
        uv.run()
    finally:
        server.close()


@dataclass
class Served:
    """A page served from a background thread: its address (with the token when one is needed)."""

    url: str
    host: str
    port: int
    token: str | None


@contextmanager
def serving(path: Path, reviewer: str = "", host: str = "127.0.0.1", port: int = 0, model: str = "default",
            retrain: bool = True) -> Iterator[Served]:
    """Serve the page from a background thread while the block runs (tests, benchmarks,
    embedding); ``port`` 0 picks a free one. The server's project connection is opened and
    used in that thread only."""
    port = port or free_port(host)
    token = make_token(host)
    box: dict = {}

    def run():
        try:
            server = ScreeningServer(path, reviewer=reviewer, model=model, retrain=retrain)
        except BaseException as exc:
            box["error"] = exc
            return
        try:
            box["uvicorn"] = _uvicorn_server(build_app(server, host, port, token), host, port)
            box["uvicorn"].run()
        finally:
            server.close()

    thread = threading.Thread(target=run, name="prioritiser-page", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not (box.get("uvicorn") and box["uvicorn"].started):
        if "error" in box:
            raise box["error"]
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the screening page did not start")
        time.sleep(0.02)
    try:
        yield Served(page_address(host, port, token, reviewer), host, port, token)
    finally:
        box["uvicorn"].should_exit = True
        thread.join(30)
