"""Request checks of the screening page: who may reach it and which requests may change the project.

- Bound to a loopback address (the default, 127.0.0.1), the page answers only requests whose
  ``Host`` names the loopback address and port, so a web site cannot reach it by pointing a
  name of its own at 127.0.0.1 (DNS rebinding).
- Bound to any other address, every request needs the server's token: opened once as
  ``/?token=...`` (the address ``prioritiser screen`` prints), it is kept in an HttpOnly,
  SameSite=Strict cookie.
- Requests that change the project (POST) must carry the page's CSRF token in an
  ``X-CSRF-Token`` header, be JSON, and come from the page's own origin when the browser says
  where from. Another site can neither read the token nor send that header without a CORS
  preflight, which the page never grants.
- Every answer forbids framing, MIME sniffing and referrers; the page itself runs only its own
  script file (Content-Security-Policy without 'unsafe-inline'), so markup inside record text
  could not run even if it were ever inserted as HTML (the page inserts it as text).
"""

from __future__ import annotations

import hmac
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse

TOKEN_COOKIE = "prioritiser_token"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
     b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


class Guard:
    """ASGI middleware applying the checks above to every HTTP request."""

    def __init__(self, app, *, host: str, port: int, csrf: str, token: str | None):
        self.app = app
        self.csrf = csrf
        self.token = token
        self.allowed_hosts = None
        if is_loopback(host):
            names = {host, "127.0.0.1", "localhost", "[::1]"}
            self.allowed_hosts = {f"{name}:{port}" for name in names} | ({"localhost", "127.0.0.1"} if port == 80 else set())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        response = self.refuse(request)
        if response is None and self.token and request.query_params.get("token"):
            response = self.accept_token(request)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + HEADERS
            await send(message)

        await (response or self.app)(scope, receive, send_with_headers)

    def refuse(self, request: Request):
        host = request.headers.get("host", "")
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            return PlainTextResponse(f"refused: unexpected Host {host!r}", status_code=403)
        if self.token and not self._has_token(request):
            return PlainTextResponse("refused: open the address with ?token=... that 'prioritiser screen' printed",
                                     status_code=403)
        if request.method not in ("GET", "HEAD"):
            if not hmac.compare_digest(request.headers.get("x-csrf-token", ""), self.csrf):
                return PlainTextResponse("refused: missing or wrong CSRF token", status_code=403)
            origin = request.headers.get("origin")
            if origin is not None and origin != f"{request.url.scheme}://{host}":
                return PlainTextResponse(f"refused: cross-site request from {origin!r}", status_code=403)
            if not request.headers.get("content-type", "").startswith("application/json"):
                return PlainTextResponse("refused: expected JSON", status_code=415)
        return None

    def _has_token(self, request: Request) -> bool:
        given = request.cookies.get(TOKEN_COOKIE) or request.query_params.get("token") or ""
        return hmac.compare_digest(given, self.token)

    def accept_token(self, request: Request):
        """Keep the token in a cookie and reload the address without it."""
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        response = RedirectResponse(request.url.path + ("?" + urlencode(rest) if rest else ""), status_code=303)
        response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
        return response
