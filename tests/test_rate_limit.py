"""The per-user sliding-window question limit, on a fake clock."""

from __future__ import annotations

from bot.rate_limit import RateDecision, SlidingWindowLimiter

ALLOWED = RateDecision(allowed=True, notify=False)
NOTE = RateDecision(allowed=False, notify=True)
SILENT = RateDecision(allowed=False, notify=False)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_per_user_with_one_note_per_window() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(2, window=60, clock=clock)
    assert [limiter.check(1) for _ in range(5)] == [ALLOWED, ALLOWED, NOTE, SILENT, SILENT]
    assert limiter.check(2) == ALLOWED  # other users are not affected


def test_the_window_slides() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(2, window=60, clock=clock)
    limiter.check(1)
    clock.now += 30
    limiter.check(1)
    assert limiter.check(1) == NOTE
    clock.now += 30.5  # the first question has left the window, the second has not
    assert limiter.check(1) == ALLOWED
    assert limiter.check(1) == SILENT  # still within a minute of the note
    clock.now += 60
    assert [limiter.check(1), limiter.check(1), limiter.check(1)] == [ALLOWED, ALLOWED, NOTE]


def test_refused_questions_do_not_extend_the_wait() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(1, window=60, clock=clock)
    limiter.check(1)
    for _ in range(10):
        clock.now += 5
        limiter.check(1)
    clock.now += 10.5  # 60.5 s after the one allowed question
    assert limiter.check(1) == ALLOWED


def test_zero_means_no_limit() -> None:
    limiter = SlidingWindowLimiter(0)
    assert all(limiter.check(1) == ALLOWED for _ in range(1000))
    assert limiter.tracked_users() == 0


def test_idle_users_are_forgotten() -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(3, window=60, clock=clock)
    for user in range(100):
        limiter.check(user)
    assert limiter.tracked_users() == 100
    clock.now += 61
    limiter.check(1000)
    assert limiter.tracked_users() == 1
