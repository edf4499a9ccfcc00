"""Per-user question rate limit: a sliding window of recent question times.

Only questions that are answered count, so someone who keeps asking while limited is not locked
out for longer. The "slow down" note is sent at most once per window per user, so the bot
cannot be used to spam a group with notes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    notify: bool  # refused, and the user has not been told in this window yet


class SlidingWindowLimiter:
    """At most ``limit`` questions per user in any ``window`` seconds; ``limit`` 0 = no limit.

    Used from the event loop only (no locking needed).
    """

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._recent: dict[int, deque[float]] = {}
        self._last_note: dict[int, float] = {}
        self._next_sweep = clock() + window

    def check(self, user_id: int) -> RateDecision:
        """Count a question by ``user_id`` if it is allowed now."""
        if self.limit <= 0:
            return RateDecision(allowed=True, notify=False)
        now = self._clock()
        self._sweep(now)
        recent = self._recent.setdefault(user_id, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(recent) < self.limit:
            recent.append(now)
            return RateDecision(allowed=True, notify=False)
        last_note = self._last_note.get(user_id)
        if last_note is not None and now - last_note < self.window:
            return RateDecision(allowed=False, notify=False)
        self._last_note[user_id] = now
        return RateDecision(allowed=False, notify=True)

    def tracked_users(self) -> int:
        return len(self._recent)

    def _sweep(self, now: float) -> None:
        """Forget users with nothing in the window, so memory does not grow with every user
        the bot has ever seen."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.window
        cutoff = now - self.window
        for user_id in [u for u, times in self._recent.items() if not times or times[-1] <= cutoff]:
            del self._recent[user_id]
        for user_id in [u for u, noted in self._last_note.items() if noted <= cutoff]:
            del self._last_note[user_id]
