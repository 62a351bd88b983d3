"""Who may use the console: the sign-in check, the session cookie and the lockout.

Theory of operation:

* Credential: the console accepts exactly the access keys the JSON API accepts
  (`Signing.secrets`, access key id -> secret). The secret is compared with
  `hmac.compare_digest`, and an unknown key id is compared against a dummy secret, so
  the time taken does not tell which key ids exist. With `--insecure-no-auth` there is
  no credential at all: the console stays closed rather than open to anyone.
* Session: a cookie `authflow-console` (Path `/console/`, HttpOnly, SameSite=Lax,
  Secure over https) holding a value signed by `security.sign_value` under
  `derived_key(kek, "console-session")`: the key id, a random session id, and a short
  fingerprint of the secret, so that changing or removing a key ends its sessions. It
  lasts `SESSION_LIFETIME`. Signing out forgets the session id in this process
  (`Sessions.end`) as well as clearing the cookie, so a copied cookie is worthless
  after sign-out until this process restarts (it then still expires on time).
* Lockout: `LOCKOUT_FAILURES` wrong secrets within `LOCKOUT_WINDOW`, counted per source
  IP and per key id (known or not), lock both for `LOCKOUT_WINDOW` from the failure
  that reached the limit. While locked every attempt is refused without looking at
  the secret, and is not counted; a correct secret clears both counters. The counters
  live in this process (one server process is what the console is for; several
  processes each count on their own), bounded in size.
* Time is the clock API signatures are checked against (`Signing.clock`, or the
  engine's), never the wall clock read directly.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as _secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from authflow.web.security import derived_key, open_value, sign_value

SESSION_COOKIE = "authflow-console"
COOKIE_PATH = "/console/"
SESSION_LIFETIME = timedelta(hours=8)
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
#: How many sources and key ids the lockout remembers (the oldest are forgotten first).
MAX_TRACKED = 10_000
_DUMMY_SECRET = "authflow-console-no-such-key-0000000000"


def fingerprint(secret: str) -> str:
    """A short tag of a secret: a session names it, so a changed secret ends it."""
    return hashlib.sha256(b"authflow-console:" + secret.encode("utf-8")).hexdigest()[:16]


def check_secret(known: Mapping[str, str], key_id: str, secret: str) -> bool:
    """Whether `secret` is the secret of `key_id`, in time independent of either."""
    expected = known.get(key_id)
    matches = hmac.compare_digest((expected or _DUMMY_SECRET).encode("utf-8"), secret.encode("utf-8"))
    return matches and expected is not None


@dataclass
class Lockout:
    """Wrong-secret counters per source and per key id (see the module's doc)."""

    failures: OrderedDict[str, list[datetime]] = field(default_factory=OrderedDict)
    locked: dict[str, datetime] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @staticmethod
    def keys(ip: str, key_id: str) -> tuple[str, str]:
        return f"ip:{ip}", f"key:{key_id}"

    def locked_until(self, now: datetime, *names: str) -> datetime | None:
        """When the latest lock on any of `names` ends, or None when none is locked."""
        with self.lock:
            ends = [self.locked[n] for n in names if n in self.locked and self.locked[n] > now]
            for n in names:
                if n in self.locked and self.locked[n] <= now:
                    del self.locked[n]
            return max(ends) if ends else None

    def fail(self, now: datetime, *names: str) -> None:
        with self.lock:
            for name in names:
                recent = [t for t in self.failures.pop(name, []) if now - t < LOCKOUT_WINDOW]
                recent.append(now)
                if len(recent) >= LOCKOUT_FAILURES:
                    self.locked[name] = now + LOCKOUT_WINDOW
                    recent = []
                self.failures[name] = recent
                while len(self.failures) > MAX_TRACKED:
                    self.failures.popitem(last=False)
            if len(self.locked) > MAX_TRACKED:
                self.locked = {n: end for n, end in self.locked.items() if end > now}

    def succeed(self, *names: str) -> None:
        with self.lock:
            for name in names:
                self.failures.pop(name, None)


@dataclass
class Sessions:
    """Signs and opens console session cookies; remembers the ones signed out."""

    key: bytes
    ended: dict[str, int] = field(default_factory=dict)  # session id -> its expiry (epoch s)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def for_kek(cls, kek: bytes) -> Sessions:
        return cls(key=derived_key(kek, "console-session"))

    def start(self, key_id: str, secret: str, now: datetime) -> str:
        payload = {"k": key_id, "s": _secrets.token_urlsafe(16), "f": fingerprint(secret)}
        return sign_value(self.key, payload, expires=now + SESSION_LIFETIME)

    def open(self, value: str | None, known: Mapping[str, str], now: datetime) -> dict | None:
        """The session's payload, or None when absent, forged, expired, signed out, or
        its key was removed or changed since."""
        payload = open_value(self.key, value, now=now)
        if payload is None:
            return None
        key_id, sid, tag = payload.get("k"), payload.get("s"), payload.get("f")
        if not isinstance(key_id, str) or not isinstance(sid, str) or not isinstance(tag, str):
            return None
        secret = known.get(key_id)
        if secret is None or not hmac.compare_digest(tag, fingerprint(secret)):
            return None
        with self.lock:
            if sid in self.ended:
                return None
        return payload

    def end(self, payload: Mapping, now: datetime) -> None:
        with self.lock:
            self.ended = {sid: exp for sid, exp in self.ended.items() if exp > now.timestamp()}
            self.ended[str(payload["s"])] = int(payload["exp"])
