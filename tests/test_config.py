"""Settings of `newsbite serve`: layering, validation, the token, and logging that hides it."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

from bot import serve
from bot.config import (
    DEFAULT_EXAMPLES,
    ConfigError,
    Settings,
    load_settings,
    read_config_file,
    read_token,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "newsbite.example.toml"
TOKEN = "123456789:AAE-secret-token-for-tests_0123456789"


def parse_flags(*argv: str) -> argparse.Namespace:
    """The serve subcommand as bot/cli.py builds it: --corpus/--db, then serve's own flags."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--db", type=Path, default=None)
    serve.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults() -> None:
    settings = load_settings(parse_flags(), environ={})
    assert settings == Settings()
    assert settings.log_queries is True
    assert settings.rate_limit == 20
    assert settings.admins == frozenset()
    assert settings.api_url is None and settings.api_file_url is None
    assert settings.examples == DEFAULT_EXAMPLES


def test_the_example_config_documents_every_setting_and_loads(tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for name in Settings.__dataclass_fields__:
        assert f"{name} =" in text, f"{name} is not in the example config"
        assert f"NEWSBITE_{name.upper()}" in text or name in text
    settings = load_settings(parse_flags("--config", str(EXAMPLE)), environ={})
    assert settings.corpus.resolve() == (REPO / "seeds").resolve()
    assert settings.no_answer_threshold is None
    assert settings.rate_limit == 20


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(
        'corpus = "articles"\n'
        'db = "/data/file.db"\n'
        "admins = [1, 2]\n"
        "rate_limit = 5\n"
        "log_queries = false\n"
        'api_url = "http://file.example:8081/bot"\n'
        "answer_k = 2\n"
        "answer_depth = 8\n",
        encoding="utf-8",
    )
    environ = {
        "NEWSBITE_CONFIG": str(config),
        "NEWSBITE_DB": "/data/env.db",
        "NEWSBITE_ADMINS": "3",
        "NEWSBITE_RATE_LIMIT": "0",
        "NEWSBITE_API_URL": "",  # empty = unset
        "NEWSBITE_NO_ANSWER_THRESHOLD": "0.25",
        "NEWSBITE_LOG_LEVEL": "debug",
        "NEWSBITE_ANSWER_DEPTH": "12",
    }
    settings = load_settings(parse_flags("--admins", "4, 5", "--db", "flag.db"), environ)
    assert settings.corpus == tmp_path / "articles"  # relative to the config file
    assert settings.db == Path("flag.db")  # flag beats environment beats file
    assert settings.admins == {4, 5}
    assert settings.rate_limit == 0  # environment beats file
    assert settings.log_queries is False  # file beats default
    assert settings.api_url == "http://file.example:8081/bot"
    assert settings.answer_k == 2
    assert settings.answer_depth == 12
    assert settings.no_answer_threshold == 0.25
    assert settings.log_level == "DEBUG"


def test_config_flag_beats_config_variable(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen.toml"
    chosen.write_text("rate_limit = 7\n", encoding="utf-8")
    environ = {"NEWSBITE_CONFIG": str(tmp_path / "missing.toml")}
    assert load_settings(parse_flags("--config", str(chosen)), environ).rate_limit == 7


@pytest.mark.parametrize(
    "given, base, files",
    [
        (
            "http://127.0.0.1:8081/bot",
            "http://127.0.0.1:8081/bot",
            "http://127.0.0.1:8081/file/bot",
        ),
        ("http://127.0.0.1:8081/", "http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot"),
        (
            "https://api.example.org/tg/bot/",
            "https://api.example.org/tg/bot",
            "https://api.example.org/tg/file/bot",
        ),
    ],
)
def test_api_url_and_matching_file_url(given: str, base: str, files: str) -> None:
    settings = load_settings(parse_flags("--api-url", given), environ={})
    assert (settings.api_url, settings.api_file_url) == (base, files)


@pytest.mark.parametrize(
    "argv, environ, config_text, fragment",
    [
        (["--admins", "12,abc"], {}, None, "--admins"),
        (["--admins", "-5"], {}, None, "not a numeric Telegram user id"),
        (["--api-url", "127.0.0.1:8081"], {}, None, "--api-url"),
        ([], {"NEWSBITE_RATE_LIMIT": "lots"}, None, "NEWSBITE_RATE_LIMIT"),
        ([], {"NEWSBITE_RATE_LIMIT": "-1"}, None, "NEWSBITE_RATE_LIMIT"),
        ([], {"NEWSBITE_ANSWER_K": "0"}, None, "NEWSBITE_ANSWER_K"),
        ([], {"NEWSBITE_LOG_QUERIES": "maybe"}, None, "true or false"),
        ([], {"NEWSBITE_LOG_LEVEL": "LOUD"}, None, "DEBUG, INFO"),
        ([], {"NEWSBITE_NO_ANSWER_THRESHOLD": "nan"}, None, "finite"),
        ([], {}, "rate_limt = 3\n", "unknown setting 'rate_limt'"),
        ([], {}, "rate_limit = true\n", "rate_limit"),
        ([], {}, "admins = [1, true]\n", "admins"),
        ([], {}, "rate_limit = \n", "not valid TOML"),
    ],
)
def test_bad_settings_say_where_they_came_from(
    tmp_path: Path, argv: list[str], environ: dict[str, str], config_text: str | None, fragment: str
) -> None:
    if config_text is not None:
        config = tmp_path / "bad.toml"
        config.write_text(config_text, encoding="utf-8")
        argv = [*argv, "--config", str(config)]
    with pytest.raises(ConfigError) as error:
        load_settings(parse_flags(*argv), environ)
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        read_config_file(tmp_path / "nope.toml")


def test_token_comes_from_the_environment_only() -> None:
    assert read_token({"TELEGRAM_BOT_TOKEN": f" {TOKEN}\n"}) == TOKEN
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        read_token({})
    with pytest.raises(ConfigError) as error:
        read_token({"TELEGRAM_BOT_TOKEN": "has spaces in it"})
    assert "has spaces" not in str(error.value)  # a wrong token is not echoed either


def test_serve_exits_2_with_one_line_for_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("NEWSBITE_RATE_LIMIT", "fast")
    assert serve.main(parse_flags()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("newsbite: ") and "NEWSBITE_RATE_LIMIT" in err


def test_serve_exits_2_without_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert serve.main(parse_flags()) == 2
    assert "TELEGRAM_BOT_TOKEN" in capsys.readouterr().err


def test_logging_hides_the_token_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        serve.configure_logging("INFO", TOKEN)
        assert logging.getLogger("httpx").level == logging.WARNING
        assert logging.getLogger("httpcore").level == logging.WARNING
        log = logging.getLogger("some.library")
        log.info("POST https://api.telegram.org/bot%s/getMe", TOKEN)
        log.warning(f"plain message with {TOKEN} inside")
        try:
            raise RuntimeError(f"failed: https://api.telegram.org/bot{TOKEN}/sendMessage")
        except RuntimeError:
            log.exception("request failed")
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert "bot<token>/getMe" in err and "with <token> inside" in err
    assert "bot<token>/sendMessage" in err and "Traceback" in err
