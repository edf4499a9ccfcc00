"""Stop signals and restarts of `newsbite serve`, the real command in a subprocess.

One scenario, two bot processes (starting one costs seconds):

1. a question sent while the bot was down is answered;
2. SIGTERM arrives while an answer is on its way (the fake Bot API holds the sendMessage for a
   moment): the answer is still delivered, the query log row is written, the log ends with
   "stopped", exit code 0 within 10 s, every update confirmed;
3. the restarted bot answers the question sent while it was down and nothing it answered
   before, and does not rebuild the unchanged index (the store's generation stamp is the same);
4. SIGINT stops it the same way.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlite_utils
from fake_bot_api import FakeBotApi, Fault, message_json, private_chat

from bot.telegram_html import check_message
from retrieval.engine import stored_generation

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bot"
TOKEN = "13579:AAG-shutdown-test-secret"
STOP_DEADLINE_SECONDS = 10
# Chats, one per question, so that answers are told apart by chat.
BEFORE_START, IN_FLIGHT, WHILE_DOWN = 301, 302, 303


def start_bot(api: FakeBotApi, corpus: Path, db: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBITE_")}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, PYTHONUNBUFFERED="1")
    command = [sys.executable, "-m", "bot.cli", "serve", "--api-url", api.base_url]
    command += ["--corpus", str(corpus), "--db", str(db)]
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stop_bot(bot: subprocess.Popen[str], stop_signal: int) -> tuple[float, str]:
    """Send ``stop_signal``; the seconds until exit and everything the bot wrote."""
    stopping = time.monotonic()
    bot.send_signal(stop_signal)
    try:
        out, err = bot.communicate(timeout=STOP_DEADLINE_SECONDS + 5)
    except subprocess.TimeoutExpired:
        bot.kill()
        out, err = bot.communicate()
        pytest.fail(f"no exit after {stop_signal!r}; stderr:\n{err[-3000:]}")
    return time.monotonic() - stopping, out + err


def ask(api: FakeBotApi, chat_id: int, question: str) -> None:
    api.add_update({"message": message_json(private_chat(chat_id), chat_id, question)})


def wait_until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.02)


def run_until_stopped(bot: subprocess.Popen[str], scenario, stop_signal: int) -> tuple[float, str]:
    """Run ``scenario``, then stop the bot; a scenario failure shows the bot's stderr."""
    try:
        scenario()
    except (AssertionError, TimeoutError) as error:
        _, output = stop_bot(bot, signal.SIGKILL)
        pytest.fail(f"{error!r}\n--- bot output ---\n{output[-5000:]}")
    return stop_bot(bot, stop_signal)


def test_stop_signals_and_restart(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "seeds", corpus)
    shutil.copy(FIXTURES / "lighthouse.txt", corpus / "lighthouse.txt")
    db = tmp_path / "index.db"
    with FakeBotApi(TOKEN) as api:
        ask(api, BEFORE_START, "Who was the last keeper of the lighthouse?")
        first = start_bot(api, corpus, db)

        def answer_then_stop_while_sending() -> None:
            api.wait_for_sent(lambda m: m["chat_id"] == BEFORE_START, timeout=30)
            api.inject("sendMessage", Fault.delay(1.5))
            ask(api, IN_FLIGHT, "When was the lighthouse built?")
            wait_until(lambda: api.pending_faults("sendMessage") == 0)  # the answer is held

        stopped_in, first_output = run_until_stopped(
            first, answer_then_stop_while_sending, signal.SIGTERM
        )
        assert first.returncode == 0, first_output[-3000:]
        assert stopped_in < STOP_DEADLINE_SECONDS
        assert len(api.sent_to(IN_FLIGHT)) == 1  # the in-flight answer was delivered
        assert api.unconfirmed_updates() == []
        assert first_output.rstrip().endswith("stopped")  # the log got to its last line
        logged = [row["chat_id"] for row in sqlite_utils.Database(db)["queries"].rows]
        assert sorted(logged) == [BEFORE_START, IN_FLIGHT]  # query log flushed at exit
        generation = stored_generation(db)

        ask(api, WHILE_DOWN, "When was the lighthouse built?")
        second = start_bot(api, corpus, db)

        def answer_what_came_meanwhile() -> None:
            api.wait_for_sent(lambda m: m["chat_id"] == WHILE_DOWN, timeout=30)

        stopped_in, second_output = run_until_stopped(
            second, answer_what_came_meanwhile, signal.SIGINT
        )
    assert second.returncode == 0, second_output[-3000:]
    assert stopped_in < STOP_DEADLINE_SECONDS
    assert [len(api.sent_to(chat)) for chat in (BEFORE_START, IN_FLIGHT, WHILE_DOWN)] == [1, 1, 1]
    assert stored_generation(db) == generation  # the unchanged index was not rebuilt
    for sent in api.sent:
        check_message(sent["text"])
    for output in (first_output, second_output):
        assert TOKEN not in output and TOKEN.split(":")[1] not in output
