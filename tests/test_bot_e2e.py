"""`newsbite serve` end to end: the real command in a subprocess, long-polling a fake Bot API.

One scenario (starting the bot costs seconds, so it is started once): a private question sent
while the bot was down, a 429 from the API survived, a group mention, a reply to the bot,
/ask@botname, group chatter left alone, /reload refused for a non-admin and done for an admin
after a new article is added; every sent message is valid Telegram HTML, the token is nowhere
in the output, SIGTERM → exit 0 within 10 s with every update confirmed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from fake_bot_api import (
    BOT_USERNAME,
    FakeBotApi,
    Fault,
    group_chat,
    message_json,
    private_chat,
)

from bot.telegram_html import check_message

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "bot"
TOKEN = "987654321:AAH-e2e-secret-token_XYZ"
ADMIN = 111
USER = 222
GROUP = -100333


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(REPO / "seeds", folder)
    shutil.copy(FIXTURES / "lighthouse.txt", folder / "lighthouse.txt")
    return folder


def start_bot(api: FakeBotApi, corpus: Path, db: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBITE_")}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, NEWSBITE_LOG_LEVEL="DEBUG", PYTHONUNBUFFERED="1")
    command = [
        *(
            [shutil.which("newsbite")]
            if shutil.which("newsbite")
            else [sys.executable, "-m", "bot.cli"]
        ),
        "serve",
        "--api-url",
        api.base_url,
        "--corpus",
        str(corpus),
        "--db",
        str(db),
        "--admins",
        str(ADMIN),
    ]
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def replying_to(message: dict[str, Any]) -> Any:
    return lambda sent: sent.get("reply_parameters", {}).get("message_id") == message["message_id"]


def test_serve_end_to_end(corpus: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.db"
    with FakeBotApi(TOKEN) as api:
        # Sent while the bot is down: it must be answered once the bot is up.
        question = "How many people did the chemical attack kill?"
        api.add_update({"message": message_json(private_chat(USER), USER, question)})
        api.inject("sendMessage", Fault.retry_after(1))
        bot = start_bot(api, corpus, db)
        failure: BaseException | None = None
        try:
            run_scenario(api, corpus)
        except (AssertionError, TimeoutError) as error:
            failure = error
        stopping = time.monotonic()
        bot.send_signal(signal.SIGTERM)
        try:
            out, err = bot.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            bot.kill()
            out, err = bot.communicate()
            pytest.fail(f"no exit within 10 s of SIGTERM; stderr:\n{err[-3000:]}")
        stopped_in = time.monotonic() - stopping
    if failure is not None:
        pytest.fail(f"{failure!r}\n--- bot stderr ---\n{err[-5000:]}")
    assert bot.returncode == 0, err[-3000:]
    assert stopped_in < 10
    assert api.unconfirmed_updates() == []  # a restart will not answer anything twice
    assert TOKEN not in out + err
    assert TOKEN.split(":")[1] not in out + err
    assert "/bot<token>" in err  # PTB's DEBUG lines show the API URL, redacted
    for sent in api.sent:
        check_message(sent["text"])
    # The query log has a row per question, in the engine's database.
    questions = [row["question"] for row in sqlite_utils.Database(db)["queries"].rows]
    assert "How many people did the chemical attack kill?" in questions


def run_scenario(api: FakeBotApi, corpus: Path) -> None:
    api.wait_for_call("getUpdates", timeout=15)
    commands = api.wait_for_call("setMyCommands").params["commands"]
    assert "ask" in [command["command"] for command in commands]
    group = group_chat(GROUP, supergroup=True)

    # The private question sent before the bot started; the first send of its answer gets a
    # 429 and is retried after 1 s.
    private = api.wait_for_sent(lambda m: m["chat_id"] == USER)
    assert "87" in private["text"] and "bromance" in private["text"].lower()

    chatter = message_json(group, USER, "Lovely weather for a museum trip today")
    api.add_update({"message": chatter})

    mention = message_json(
        group, USER, f"@{BOT_USERNAME} who was the last keeper of the lighthouse?"
    )
    api.add_update({"message": mention})
    answer = api.wait_for_sent(replying_to(mention))
    assert "Margaret Ellery" in answer["text"]

    bot_message = {
        "message_id": answer["message_id"],
        "date": int(time.time()),
        "chat": group,
        "from": api.bot_user,
        "text": check_message(answer["text"]).visible_text,
    }
    follow_up = message_json(group, USER, "When was the lighthouse built?", reply_to=bot_message)
    api.add_update({"message": follow_up})
    assert "1871" in api.wait_for_sent(replying_to(follow_up))["text"]

    ask = message_json(
        group,
        USER,
        f"/ask@{BOT_USERNAME} How many chemical weapons attacks did Syria's government commit?",
    )
    api.add_update({"message": ask})
    assert "more than 50 attacks" in api.wait_for_sent(replying_to(ask))["text"]

    refused = message_json(group, USER, f"/reload@{BOT_USERNAME}")
    api.add_update({"message": refused})
    assert "only the bot's admins" in api.wait_for_sent(replying_to(refused))["text"]

    shutil.copy(FIXTURES / "volcano.txt", corpus / "volcano.txt")
    reload = message_json(private_chat(ADMIN), ADMIN, "/reload")
    api.add_update({"message": reload})
    summary = api.wait_for_sent(
        lambda m: m["chat_id"] == ADMIN and m["text"].startswith("Reloaded"), timeout=15
    )
    assert "1 added" in summary["text"]

    volcano = message_json(group, USER, f"@{BOT_USERNAME} how many residents were evacuated?")
    api.add_update({"message": volcano})
    volcano_answer = api.wait_for_sent(replying_to(volcano))
    assert "1,300" in volcano_answer["text"] and "Volcano erupts" in volcano_answer["text"]

    # By now the chatter has long been handled: nothing answered it.
    assert not [m for m in api.sent if replying_to(chatter)(m)]
