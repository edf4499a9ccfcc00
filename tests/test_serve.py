"""`newsbite serve` start-up failures: one clear line on stderr, the right exit code, no token."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from fake_bot_api import FakeBotApi

from bot import serve

TOKEN = "555:AAF-serve-test-token"


def serve_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--db", type=Path, default=None)
    serve.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture(autouse=True)
def _restore_logging(restore_logging):
    """serve.main configures the root logger: every test here gets it back as it was."""


def run_serve(
    monkeypatch: pytest.MonkeyPatch, token: str, api: FakeBotApi, corpus: Path, db: Path
) -> int:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    for name in ("NEWSBITE_CONFIG", "NEWSBITE_API_URL", "NEWSBITE_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    args = serve_args("--api-url", api.base_url, "--corpus", str(corpus), "--db", str(db))
    return serve.main(args)


def test_a_rejected_token_exits_1_without_showing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "555:AAF-wrong-token"
    with FakeBotApi(TOKEN) as api:
        code = run_serve(monkeypatch, wrong, api, tmp_path, tmp_path / "index.db")
    assert code == 1
    err = capsys.readouterr().err
    assert "newsbite: the Bot API rejected TELEGRAM_BOT_TOKEN" in err
    assert wrong not in err and "wrong-token" not in err


def test_a_missing_corpus_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeBotApi(TOKEN) as api:
        code = run_serve(monkeypatch, TOKEN, api, tmp_path / "nowhere", tmp_path / "index.db")
    assert code == 2
    err = capsys.readouterr().err
    assert "newsbite: no corpus folder at " in err.splitlines()[-1]
    assert TOKEN not in err
