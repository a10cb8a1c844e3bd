"""Credentials for the Schemathesis run (scripts/schemathesis.sh loads this module).

Operations that end the session they are called with (refresh, logout, logout-all, revoking a
session, the legacy user's logout) would answer 401 to every test case after the first one if
they shared a session. Each of their test cases therefore gets a session of its own:

- wallet sessions come from a pool of real sign-ins made before the run (one bearer token per
  line in $WA_SESSION_POOL, each from its own wallet), taken one per test case;
- user sessions are made by logging the user $WA_USER in (password $WA_PASSWORD) per test case,
  which also yields the CSRF token that cookie-authenticated writes need.

When the wallet pool runs dry the last token is reused (those cases then answer 401, which the
run's summary by route shows). `POST /auth/token`, limited per session and minute, also gets a
fresh wallet session per test case. Positive test cases of `DELETE /auth/sessions/{sessionId}`
name the test case's own session (otherwise every one would be an unknown id), and half of the
positive cases of `POST /auth/user/login` carry the real user's credentials.
"""

import json
import os
import threading
import time
import urllib.error
import urllib.request

import schemathesis

_ENDING = r"^/auth/(refresh|logout|logout-all|token|sessions/\{[^}]+\})$"
_USER = r"^/(auth/user/logout|api/user/me)$"

_lock = threading.Lock()
_pool: list[str] = []
_last: list[str] = []


def _load_pool() -> None:
    path = os.environ.get("WA_SESSION_POOL")
    if path and not _pool and not _last:
        with open(path, encoding="ascii") as f:
            _pool.extend(line.strip() for line in f if line.strip())
        _pool.reverse()


def _positive(case) -> bool:
    meta = getattr(case, "meta", None)
    mode = getattr(getattr(meta, "generation", None), "mode", None)
    return str(getattr(mode, "value", mode)) == "positive"


def _next_token() -> str:
    with _lock:
        _load_pool()
        if _pool:
            _last[:] = [_pool.pop()]
        return _last[0] if _last else ""


@schemathesis.auth(refresh_interval=None, retry_on=[]).apply_to(path_regex=_ENDING)
class FreshWalletSession:
    """A wallet session nobody else has used, for each test case."""

    def get(self, case, ctx):
        return _next_token()

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
        case.headers["User-Agent"] = os.environ.get("WA_SIGNIN_UA", "")
        parts = data.split(".")
        if "sessionId" in (case.path_parameters or {}) and len(parts) == 3 and _positive(case):
            # A token is `<wallet tag>.<session id>.<secret>`.
            case.path_parameters["sessionId"] = parts[1]


def _credentials() -> dict:
    return {"username": os.environ["WA_USER"], "password": os.environ["WA_PASSWORD"]}


@schemathesis.auth(refresh_interval=None, retry_on=[]).apply_to(path_regex=_USER)
class FreshUserSession:
    """A user session (cookie and CSRF token) logged in for each test case."""

    def get(self, case, ctx):
        base = os.environ["WA_BASE"]
        body = json.dumps(_credentials()).encode()
        for attempt in range(50):
            req = urllib.request.Request(
                f"{base}/auth/user/login",
                data=body,
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    csrf = json.loads(r.read())["csrfToken"]
                    cookies = [
                        c.split(";", 1)[0] for c in r.headers.get_all("Set-Cookie") or []
                    ]
                return {"cookie": "; ".join(cookies), "csrf": csrf}
            except urllib.error.HTTPError as e:
                # Password checks are bounded per client; the fuzzer's own logins share them.
                if e.code != 429 or attempt == 49:
                    raise
                time.sleep(0.1)
        raise AssertionError("unreachable")

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Cookie"] = data["cookie"]
        case.headers["X-CSRF-Token"] = data["csrf"]


_logins = [0]


@schemathesis.hook
def map_body(ctx, body):
    """Half of the positive login cases use the real user's credentials."""
    op = getattr(ctx, "operation", None)
    if getattr(op, "path", None) != "/auth/user/login" or not isinstance(body, dict):
        return body
    with _lock:
        _logins[0] += 1
        real = _logins[0] % 2 == 0
    if real and isinstance(body.get("username"), str) and isinstance(body.get("password"), str):
        return {**body, **_credentials()}
    return body
