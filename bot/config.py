"""Settings of ``newsbite serve``: built-in defaults < config file < environment < flags.

The config file is TOML with top-level keys named like the settings (see
config/newsbite.example.toml); the environment variable of a setting is ``NEWSBITE_`` + its name
in upper case. An empty environment variable counts as unset. The bot token is deliberately not
a setting: it comes from TELEGRAM_BOT_TOKEN only, so it is never in a file or a process list.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bot.cli import ANSWER_DEPTH, DEFAULT_CORPUS, DEFAULT_DB

TOKEN_VARIABLE = "TELEGRAM_BOT_TOKEN"
CONFIG_VARIABLE = "NEWSBITE_CONFIG"
ENV_PREFIX = "NEWSBITE_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_EXAMPLES = (
    "How many people did the chemical attack in Syria kill?",
    "What did Putin say about trust between Russia and the US?",
)


class ConfigError(Exception):
    """A setting has a bad value; the message names where it came from."""


@dataclass(frozen=True, slots=True)
class Settings:
    corpus: Path = DEFAULT_CORPUS
    db: Path = DEFAULT_DB
    api_url: str | None = None  # Bot API base URL, ".../bot"; None = api.telegram.org
    admins: frozenset[int] = frozenset()
    log_queries: bool = True
    rate_limit: int = 20  # questions per user per minute; 0 = no limit and no flood control
    answer_k: int = 3  # answers asked of the engine: the best one and up to two others
    answer_depth: int = ANSWER_DEPTH  # passages the answerer reads per question
    no_answer_threshold: float | None = None  # None = the engine's measured default
    log_level: str = "INFO"
    examples: tuple[str, ...] = DEFAULT_EXAMPLES  # example questions shown by /help

    @property
    def api_file_url(self) -> str | None:
        """The matching file download URL: ``http://host/bot`` → ``http://host/file/bot``."""
        if self.api_url is None:
            return None
        return self.api_url.removesuffix("/bot") + "/file/bot"


# -- value parsers: each takes a string (environment, flag) or a TOML value -----------------


def _path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a path")
    return Path(value).expanduser()


def _api_url(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ValueError("expected an http:// or https:// URL such as http://127.0.0.1:8081/bot")
    url = value.strip().rstrip("/")
    return url if url.endswith("/bot") else f"{url}/bot"


def _admins(value: Any) -> frozenset[int]:
    if isinstance(value, str):
        items: list[Any] = [item.strip() for item in value.split(",") if item.strip()]
    elif isinstance(value, list):
        items = value
    elif isinstance(value, int) and not isinstance(value, bool):
        items = [value]
    else:
        raise ValueError("expected numeric Telegram user ids, e.g. 12345,67890")
    admins: set[int] = set()
    for item in items:
        is_number = (isinstance(item, int) and not isinstance(item, bool)) or (
            isinstance(item, str) and item.isdigit()
        )
        if not is_number or int(item) <= 0:
            raise ValueError(f"{item!r} is not a numeric Telegram user id")
        admins.add(int(item))
    return frozenset(admins)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
    raise ValueError("expected true or false")


def _int_at_least(minimum: int, maximum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError("expected a whole number")
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if not isinstance(value, int) or not minimum <= value <= maximum:
            raise ValueError(f"expected a whole number from {minimum} to {maximum}")
        return value

    return parse


def _optional_float(value: Any) -> float | None:
    if isinstance(value, str) and value.strip().lower() in {"none", "default"}:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("expected a number (or 'default')") from None
    if isinstance(value, bool) or number != number or number in (float("inf"), float("-inf")):
        raise ValueError("expected a finite number")
    return number


def _log_level(value: Any) -> str:
    if not isinstance(value, str) or value.strip().upper() not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return value.strip().upper()


def _examples(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [item.strip() for item in value.split("|")]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = [item.strip() for item in value]
    else:
        raise ValueError("expected a list of questions")
    return tuple(item for item in items if item)


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "corpus": _path,
    "db": _path,
    "api_url": _api_url,
    "admins": _admins,
    "log_queries": _bool,
    "rate_limit": _int_at_least(0, 10_000),
    "answer_k": _int_at_least(1, 10),
    "answer_depth": _int_at_least(1, 50),
    "no_answer_threshold": _optional_float,
    "log_level": _log_level,
    "examples": _examples,
}
assert set(_PARSERS) == {f.name for f in fields(Settings)}, "every setting needs a parser"


def _parse(name: str, value: Any, origin: str) -> Any:
    try:
        return _PARSERS[name](value)
    except ValueError as error:
        raise ConfigError(f"{origin}: {error} (got {value!r})") from None


# -- the layers ---------------------------------------------------------------------------


def read_config_file(path: Path) -> dict[str, Any]:
    """The settings in a TOML file; relative paths in it are relative to the file."""
    try:
        with path.open("rb") as file:
            raw = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    settings: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _PARSERS:
            known = ", ".join(_PARSERS)
            raise ConfigError(f"config file {path}: unknown setting {key!r} (known: {known})")
        parsed = _parse(key, value, f"config file {path}: {key}")
        if isinstance(parsed, Path) and not parsed.is_absolute():
            parsed = path.parent / parsed
        settings[key] = parsed
    return settings


def read_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for name in _PARSERS:
        variable = ENV_PREFIX + name.upper()
        value = environ.get(variable, "")
        if value.strip():
            settings[name] = _parse(name, value, f"environment variable {variable}")
    return settings


def read_flags(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for name, flag in (
        ("corpus", "--corpus"),
        ("db", "--db"),
        ("api_url", "--api-url"),
        ("admins", "--admins"),
    ):
        value = getattr(args, name, None)
        if value is not None:
            settings[name] = _parse(name, value, flag)
    return settings


def load_settings(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the config file (``--config`` or NEWSBITE_CONFIG), then the environment,
    then the flags, each overriding the one before. Raises ConfigError."""
    environ = os.environ if environ is None else environ
    config_path = getattr(args, "config", None) or environ.get(CONFIG_VARIABLE) or None
    layered: dict[str, Any] = {}
    if config_path:
        layered.update(read_config_file(Path(config_path).expanduser()))
    layered.update(read_environment(environ))
    layered.update(read_flags(args))
    return Settings(**layered)


def read_token(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    token = environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise ConfigError(
            f"set {TOKEN_VARIABLE} to the bot token from @BotFather (it is never read from a flag)"
        )
    if any(char.isspace() for char in token) or "/" in token:
        raise ConfigError(f"{TOKEN_VARIABLE} does not look like a bot token")
    return token


def secret_variants(secrets: Iterable[str]) -> tuple[str, ...]:
    """Each secret, and for a bot token ("123:ABC…") also the part after the colon, which is
    the actual secret; longest first, so the whole token is replaced before its part."""
    variants: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        variants.add(secret)
        _, colon, key = secret.partition(":")
        if colon and len(key) >= 8:
            variants.add(key)
    return tuple(sorted(variants, key=len, reverse=True))
