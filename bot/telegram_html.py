"""A strict checker for the HTML subset Telegram accepts with ``parse_mode=HTML``.

Telegram rejects a whole message ("can't parse entities") when its HTML is off by one character,
and it only finds out on the server. This checker is stricter than Telegram: anything it accepts,
Telegram accepts too. The formatter runs it on every message it builds, and the tests run it on
everything the bot sends.

Rules (https://core.telegram.org/bots/api#html-style): only the tags below, properly nested and
closed; ``<``, ``>`` and ``&`` in text must be entities; the only named entities are ``&lt;``
``&gt;`` ``&amp;`` ``&quot;``, numeric ones are fine. Length limits count the *visible* text, the
message after entity parsing, in UTF-16 code units (how Telegram counts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_MESSAGE_LENGTH = 4096  # Bot API limit for sendMessage / editMessageText text

# tag -> attributes it may carry (values are checked separately below)
_ALLOWED_TAGS: dict[str, frozenset[str]] = {
    "b": frozenset(),
    "strong": frozenset(),
    "i": frozenset(),
    "em": frozenset(),
    "u": frozenset(),
    "ins": frozenset(),
    "s": frozenset(),
    "strike": frozenset(),
    "del": frozenset(),
    "span": frozenset({"class"}),
    "tg-spoiler": frozenset(),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
    "tg-emoji": frozenset({"emoji-id"}),
}
# Telegram cannot nest an entity of these kinds inside itself (and nothing inside pre/code
# except code-in-pre).
_NO_SELF_NESTING = frozenset({"a", "blockquote", "pre", "code"})
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

_ATTRIBUTE_PATTERN = r"[a-z][a-z-]*(?:=(?:\"[^\"<]*\"|'[^'<]*'))?"
_OPEN_TAG_RE = re.compile(rf"<([a-z][a-z-]*)((?:\s+{_ATTRIBUTE_PATTERN})*)\s*>")
_CLOSE_TAG_RE = re.compile(r"</([a-z][a-z-]*)\s*>")
_ATTRIBUTE_RE = re.compile(r"([a-z][a-z-]*)(?:=(?:\"([^\"<]*)\"|'([^'<]*)'))?")
_ENTITY_RE = re.compile(r"&(?:([a-z]+)|#([0-9]{1,7})|#x([0-9a-fA-F]{1,6}));")


class TelegramHTMLError(ValueError):
    """The text is not HTML that Telegram would accept."""


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    visible_text: str  # the message as the user sees it
    links: tuple[str, ...]  # href values, entities decoded


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units (an emoji may count 2)."""
    return len(text.encode("utf-16-le")) // 2


def parse_telegram_html(html_text: str) -> ParsedMessage:
    """The visible text and links of ``html_text``; raises TelegramHTMLError if Telegram would
    reject it."""
    visible: list[str] = []
    links: list[str] = []
    open_tags: list[str] = []
    position = 0
    length = len(html_text)
    while position < length:
        char = html_text[position]
        if char == "<":
            position = _read_tag(html_text, position, open_tags, links)
        elif char == "&":
            decoded, position = _read_entity(html_text, position)
            visible.append(decoded)
        elif char == ">":
            raise TelegramHTMLError(f"unescaped '>' at offset {position}")
        else:
            next_special = _next_special(html_text, position)
            visible.append(html_text[position:next_special])
            position = next_special
    if open_tags:
        raise TelegramHTMLError(f"unclosed <{open_tags[-1]}> at end of text")
    return ParsedMessage("".join(visible), tuple(links))


def check_message(html_text: str, limit: int = MAX_MESSAGE_LENGTH) -> ParsedMessage:
    """Like parse_telegram_html, and also rejects an empty message or one over ``limit``
    (visible text in UTF-16 units, and the raw HTML too, which some clients choke on)."""
    parsed = parse_telegram_html(html_text)
    if not parsed.visible_text.strip():
        raise TelegramHTMLError("the message has no visible text")
    if utf16_length(parsed.visible_text) > limit:
        raise TelegramHTMLError(
            f"visible text is {utf16_length(parsed.visible_text)} UTF-16 units (> {limit})"
        )
    if utf16_length(html_text) > limit:
        raise TelegramHTMLError(f"raw HTML is {utf16_length(html_text)} UTF-16 units (> {limit})")
    return parsed


def is_valid_message(html_text: str, limit: int = MAX_MESSAGE_LENGTH) -> bool:
    try:
        check_message(html_text, limit)
    except TelegramHTMLError:
        return False
    return True


def _next_special(text: str, start: int) -> int:
    positions = [p for p in (text.find(c, start) for c in "<&>") if p != -1]
    return min(positions, default=len(text))


def _read_entity(text: str, position: int) -> tuple[str, int]:
    match = _ENTITY_RE.match(text, position)
    if not match:
        raise TelegramHTMLError(f"unescaped '&' at offset {position}")
    name, decimal, hexadecimal = match.groups()
    if name is not None:
        if name not in _NAMED_ENTITIES:
            raise TelegramHTMLError(f"unsupported entity &{name}; at offset {position}")
        return _NAMED_ENTITIES[name], match.end()
    code_point = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if not 0 < code_point <= 0x10FFFF or 0xD800 <= code_point <= 0xDFFF:
        raise TelegramHTMLError(f"invalid character reference at offset {position}")
    return chr(code_point), match.end()


def _decode_attribute(value: str, offset: int) -> str:
    decoded: list[str] = []
    position = 0
    while position < len(value):
        if value[position] == "&":
            try:
                text, position = _read_entity(value, position)
            except TelegramHTMLError as error:
                raise TelegramHTMLError(f"{error} (in an attribute at {offset})") from None
            decoded.append(text)
        else:
            decoded.append(value[position])
            position += 1
    return "".join(decoded)


def _read_tag(text: str, position: int, open_tags: list[str], links: list[str]) -> int:
    close = _CLOSE_TAG_RE.match(text, position)
    if close:
        name = close.group(1)
        if not open_tags:
            raise TelegramHTMLError(f"</{name}> at offset {position} closes nothing")
        if open_tags[-1] != name:
            raise TelegramHTMLError(
                f"</{name}> at offset {position} while <{open_tags[-1]}> is open"
            )
        open_tags.pop()
        return close.end()
    opening = _OPEN_TAG_RE.match(text, position)
    if not opening:
        raise TelegramHTMLError(f"unescaped '<' or malformed tag at offset {position}")
    name, attribute_text = opening.groups()
    if name not in _ALLOWED_TAGS:
        raise TelegramHTMLError(f"unsupported tag <{name}> at offset {position}")
    attributes = {
        match.group(1): _decode_attribute(match.group(2) or match.group(3) or "", position)
        for match in _ATTRIBUTE_RE.finditer(attribute_text)
    }
    unknown = attributes.keys() - _ALLOWED_TAGS[name]
    if unknown:
        raise TelegramHTMLError(f"attribute {sorted(unknown)[0]!r} not allowed on <{name}>")
    _check_nesting(name, open_tags, position)
    if name == "a":
        href = attributes.get("href", "")
        if not re.match(r"(?:https?|tg)://\S+$", href):
            raise TelegramHTMLError(f"<a> at offset {position} needs an http(s) or tg:// href")
        links.append(href)
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise TelegramHTMLError(f'<span> at offset {position} must be class="tg-spoiler"')
    open_tags.append(name)
    return opening.end()


def _check_nesting(name: str, open_tags: list[str], position: int) -> None:
    if name in _NO_SELF_NESTING and name in open_tags:
        raise TelegramHTMLError(f"<{name}> nested inside <{name}> at offset {position}")
    inner = open_tags[-1] if open_tags else None
    if inner == "code" or (inner == "pre" and name != "code"):
        raise TelegramHTMLError(f"<{name}> inside <{inner}> at offset {position}")
