"""Failed sign-ins at the door, counted per (account, client address) and per client address, so that
guesses from one address slow that address down and never lock the owner out from another.

Kept in the web server's memory (one server process answers every sign-in): a restart forgets the counts,
which costs an attacker nothing they could not get by waiting out the window. A throttled attempt is
refused before any password is checked (no argon2 work), with one message whether or not the name exists.
An address that signed in to an account successfully (within `KNOWN_S`) is held only to that pair's own
count, so a stranger spraying guesses from a classroom's shared address does not keep its students out.

The account-wide lock of `auth.log_in` still guards the in-notebook sign-in (JupyterLab, Colab), where
the kernel is the person's own."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Callable

SLOW_DOWN = "Too many failed sign-ins from your network. Please wait {wait} and try again."
MAX_KEYS = 50_000  # the counts kept; the least recently failed are dropped first
KNOWN_S = 86_400.0  # how long a successful (account, address) pair is exempt from its address's count


class Throttle:
    def __init__(self, per_account_address: int = 5, per_address: int = 100, window_s: float = 900.0,
                 base_s: float = 30.0, max_s: float = 900.0, clock: Callable[[], float] = time.time):
        self.limits = {"pair": per_account_address, "address": per_address}
        self.window_s, self.base_s, self.max_s, self.clock = window_s, base_s, max_s, clock
        self._failures: OrderedDict[tuple, list[float]] = OrderedDict()
        self._known: OrderedDict[tuple, float] = OrderedDict()
        self._lock = threading.Lock()

    def _keys(self, account: str, address: str) -> dict[str, tuple]:
        return {"pair": ("pair", account, address), "address": ("address", address)}

    def wait_s(self, account: str, address: str) -> float:
        """Seconds this address must wait before trying `account` again (0: it may try now)."""
        now = self.clock()
        with self._lock:
            wait = 0.0
            known = now - self._known.get((account, address), -KNOWN_S) < KNOWN_S
            for kind, key in self._keys(account, address).items():
                if kind == "address" and known:
                    continue
                failures = [t for t in self._failures.get(key, []) if now - t < self.window_s]
                extra = len(failures) - self.limits[kind]
                if extra >= 0:
                    delay = min(self.base_s * 2 ** extra, self.max_s)
                    wait = max(wait, failures[-1] + delay - now)
            return max(wait, 0.0)

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            for key in self._keys(account, address).values():
                failures = [t for t in self._failures.pop(key, []) if now - t < self.window_s] + [now]
                self._failures[key] = failures  # moved to the end: the most recently failed
            while len(self._failures) > MAX_KEYS:
                self._failures.popitem(last=False)

    def succeeded(self, account: str, address: str) -> None:
        """The right password: this address's guesses at this account are forgotten."""
        with self._lock:
            self._failures.pop(("pair", account, address), None)
            self._known.pop((account, address), None)
            self._known[(account, address)] = self.clock()
            while len(self._known) > MAX_KEYS:
                self._known.popitem(last=False)


def wait_text(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{math.ceil(seconds)} seconds" if seconds < 90 else f"{minutes} minutes"
