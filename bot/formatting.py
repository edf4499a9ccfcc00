"""Telegram HTML for everything the bot says.

Every piece of article or user text goes through ``html.escape`` here and nowhere else. Long
texts are trimmed as *plain text* before escaping, so a cut can never land inside a tag or an
entity; each message is then checked with ``bot.telegram_html.check_message``, and if it is
still too long it is rebuilt with smaller budgets.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram_html import TelegramHTMLError, check_message
from retrieval.answers import LOW_CONFIDENCE, Answer, AnswerResult

ELLIPSIS = "…"
SOURCES_PAGE_SIZE = 10
SOURCES_CALLBACK_PREFIX = "sources:"
MAX_URL_LENGTH = 2000
_WHITESPACE_RE = re.compile(r"\s+")
_LINKABLE_URL_RE = re.compile(r"https?://[^\s\x00-\x1f\x7f]+$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Budget:
    """Plain-text character budgets for the parts of an answer message."""

    answer: int
    sentence: int
    context: int  # on each side of the sentence, within its passage
    title: int
    other: int  # snippet of each other relevant passage
    links: bool = True


# Tried in order until the message fits. The last one fits whatever the text: even if every
# character escapes to five ("&amp;"), it stays well under 4096.
_BUDGETS = (
    _Budget(answer=300, sentence=1200, context=500, title=200, other=240),
    _Budget(answer=200, sentence=700, context=250, title=150, other=160),
    _Budget(answer=100, sentence=350, context=80, title=100, other=100),
    _Budget(answer=60, sentence=200, context=0, title=60, other=60, links=False),
)


class SourceLike(Protocol):
    doc_id: str
    title: str
    url: str | None
    paragraphs: int


# -- plain-text helpers -----------------------------------------------------------------------


def escape(text: str) -> str:
    """Text content for Telegram HTML (quotes need no escaping outside attributes)."""
    return html.escape(text, quote=False)


def one_line(text: str) -> str:
    return _WHITESPACE_RE.sub(" ", text).strip()


def clip_end(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a word boundary when one is near,
    with "…" appended when something was cut."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS if limit == 1 else ""
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def clip_start(text: str, limit: int) -> str:
    """Like clip_end, keeping the end of ``text`` and putting "…" in front."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS if limit == 1 else ""
    cut = text[len(text) - limit + 1 :]
    space = cut.find(" ")
    if 0 <= space <= limit // 3:
        cut = cut[space + 1 :]
    return ELLIPSIS + cut.lstrip()


def linkable_url(url: str | None) -> str | None:
    """``url`` if it is safe to put in an <a href>, else None (Telegram rejects odd URLs)."""
    if not url or len(url) > MAX_URL_LENGTH or not _LINKABLE_URL_RE.match(url):
        return None
    return url


def link(title: str, url: str | None) -> str:
    """Escaped ``title``, linked to ``url`` when it is a usable web address."""
    usable = linkable_url(url)
    if usable is None:
        return escape(title)
    return f'<a href="{html.escape(usable, quote=True)}">{escape(title)}</a>'


def _first_fitting(render: Callable[[_Budget], str], fallback: str) -> str:
    for budget in _BUDGETS:
        text = render(budget)
        try:
            check_message(text)
        except TelegramHTMLError:
            continue
        return text
    return fallback


# -- answers ----------------------------------------------------------------------------------

LOW_CONFIDENCE_TEXT = "Not sure this answers it. The closest I found:"
NO_ANSWER_TEXT = (
    "The articles I have don't answer that. Try rephrasing the question with other words or"
    " names, or see /sources for what the articles cover."
)
APOLOGY_TEXT = "Sorry, something went wrong while answering. Please try again in a moment."


def format_result(result: AnswerResult) -> str:
    """The reply to a question: the best answer with its citation, or the no-answer text."""
    best = result.best
    if best is None:
        return escape(NO_ANSWER_TEXT)
    others = _distinct_others(best, result.answers[1:], limit=2)

    def render(budget: _Budget) -> str:
        return _render_answer(best, others, budget)

    return _first_fitting(render, escape(NO_ANSWER_TEXT))


def _distinct_others(best: Answer, candidates: Sequence[Answer], limit: int) -> list[Answer]:
    seen = {(best.doc_id, best.paragraph, best.sentence)}
    others: list[Answer] = []
    for answer in candidates:
        key = (answer.doc_id, answer.paragraph, answer.sentence)
        if key not in seen:
            seen.add(key)
            others.append(answer)
        if len(others) == limit:
            break
    return others


def _render_answer(best: Answer, others: list[Answer], budget: _Budget) -> str:
    lines: list[str] = []
    if best.confidence < LOW_CONFIDENCE:
        lines.append(f"<i>{escape(LOW_CONFIDENCE_TEXT)}</i>")
        lines.append("")
    if best.answer and one_line(best.answer):
        lines.append(f"<b>{escape(clip_end(one_line(best.answer), budget.answer))}</b>")
        lines.append("")
    lines.append(f"<blockquote>{_quoted_passage(best, budget)}</blockquote>")
    lines.append(f"— {_citation(best, budget)}")
    if others:
        lines.append("")
        lines.append("Also relevant:")
        for other in others:
            snippet = clip_end(one_line(other.sentence), budget.other)
            # The same article again needs no second link, only its paragraph.
            where = (
                f"Same article, paragraph {other.paragraph}"
                if other.doc_id == best.doc_id
                else _citation(other, budget)
            )
            lines.append(f"• {where}: “{escape(snippet)}”")
    return "\n".join(lines)


def _citation(answer: Answer, budget: _Budget) -> str:
    title = clip_end(one_line(answer.title), budget.title) or "Untitled article"
    linked = link(title, answer.url) if budget.links else escape(title)
    return f"{linked}, paragraph {answer.paragraph}"


def _quoted_passage(answer: Answer, budget: _Budget) -> str:
    """The sentence in italics with the answer in bold, inside trimmed passage context."""
    sentence = answer.sentence
    end = answer.sentence_start + len(sentence)
    if answer.sentence_start >= 0 and answer.passage[answer.sentence_start : end] == sentence:
        before = answer.passage[: answer.sentence_start]
        after = answer.passage[end:]
    else:  # offsets do not hold: quote the sentence alone rather than a wrong context
        before = after = ""
    before = clip_start(one_line(before), budget.context) if budget.context else ""
    after = clip_end(one_line(after), budget.context) if budget.context else ""
    highlighted = _highlighted_sentence(answer, budget)
    parts = [escape(before), f"<i>{highlighted}</i>", escape(after)]
    return " ".join(part for part in parts if part)


def _highlighted_sentence(answer: Answer, budget: _Budget) -> str:
    sentence = answer.sentence
    start, end = answer.answer_start, answer.answer_end
    if not (
        answer.answer
        and start is not None
        and end is not None
        and 0 <= start < end <= len(sentence)
        and sentence[start:end].strip()
    ):
        return escape(clip_end(one_line(sentence), budget.sentence) or ELLIPSIS)
    span = clip_end(one_line(sentence[start:end]), budget.answer)
    room = max(budget.sentence - len(span), 0)
    # Keep the words next to the answer: half the room before it, the rest (and whatever the
    # start did not use) after it.
    # Runs of white space collapse, but the space next to the answer stays.
    head = clip_start(_WHITESPACE_RE.sub(" ", sentence[:start]), room // 2)
    tail = clip_end(_WHITESPACE_RE.sub(" ", sentence[end:]), room - len(head))
    return f"{escape(head.lstrip())}<b>{escape(span)}</b>{escape(tail.rstrip())}"


# -- other replies ----------------------------------------------------------------------------


def format_how_to_ask(bot_username: str | None, *, in_group: bool) -> str:
    mention = f"@{bot_username}" if bot_username else "@bot"
    if in_group:
        ways = (
            f"mention me with your question (<code>{escape(mention)} who won the election?</code>),"
            " reply to one of my messages, or use <code>/ask who won the election?</code>"
        )
    else:
        ways = (
            "just send me your question as a message, or use"
            " <code>/ask who won the election?</code>"
        )
    return f"Ask me a question about the news: {ways}"


def format_help(
    article_count: int,
    chunk_count: int,
    examples: Sequence[str],
    bot_username: str | None,
    *,
    is_admin: bool = False,
) -> str:
    mention = escape(f"@{bot_username}") if bot_username else "me"
    lines = [
        "<b>NewsBite QA</b> answers questions from news articles, quoting the passage it found"
        " the answer in and citing the article.",
        "",
        f"I know {article_count} {_plural(article_count, 'article')}"
        f" ({chunk_count} {_plural(chunk_count, 'paragraph')}).",
    ]
    if examples:
        lines += ["", "For example, ask:"]
        lines += [f"• {escape(clip_end(one_line(example), 200))}" for example in examples[:5]]
    lines += [
        "",
        "<b>In a private chat</b> just send your question.",
        f"<b>In a group</b> mention {mention} with your question, reply to one of my messages,"
        " or use /ask followed by the question.",
        "",
        "/sources lists the articles I know.",
    ]
    if is_admin:
        lines.append("/reload re-reads the article folder (admins only).")
    return "\n".join(lines)


def format_start(help_text: str) -> str:
    return f"Hello! 👋\n\n{help_text}"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


@dataclass(frozen=True, slots=True)
class SourcesPage:
    text: str
    page: int  # 0-based, clamped to the pages that exist
    page_count: int

    @property
    def keyboard(self) -> InlineKeyboardMarkup | None:
        """Previous / next buttons, or None when everything fits on one page."""
        if self.page_count <= 1:
            return None
        buttons = []
        if self.page > 0:
            buttons.append(
                InlineKeyboardButton(
                    "« Previous", callback_data=f"{SOURCES_CALLBACK_PREFIX}{self.page - 1}"
                )
            )
        if self.page < self.page_count - 1:
            buttons.append(
                InlineKeyboardButton(
                    "Next »", callback_data=f"{SOURCES_CALLBACK_PREFIX}{self.page + 1}"
                )
            )
        return InlineKeyboardMarkup([buttons])


def format_sources_page(
    sources: Sequence[SourceLike], page: int, page_size: int = SOURCES_PAGE_SIZE
) -> SourcesPage:
    if not sources:
        return SourcesPage("No articles are indexed yet.", 0, 1)
    page_count = (len(sources) + page_size - 1) // page_size
    page = min(max(page, 0), page_count - 1)
    first = page * page_size
    shown = sources[first : first + page_size]

    def render(budget: _Budget) -> str:
        lines = [f"<b>Indexed articles</b> ({len(sources)}), page {page + 1} of {page_count}:", ""]
        for number, source in enumerate(shown, first + 1):
            title = clip_end(one_line(source.title), budget.title) or "Untitled article"
            linked = link(title, source.url) if budget.links else escape(title)
            count = source.paragraphs
            lines.append(f"{number}. {linked} ({count} {_plural(count, 'paragraph')})")
        return "\n".join(lines)

    fallback = f"Indexed articles: {len(sources)}, page {page + 1} of {page_count}."
    return SourcesPage(_first_fitting(render, fallback), page, page_count)


def parse_sources_callback(data: str | None) -> int | None:
    """The page number in a sources button's callback data, or None if it is not one."""
    if not data or not data.startswith(SOURCES_CALLBACK_PREFIX):
        return None
    number = data[len(SOURCES_CALLBACK_PREFIX) :]
    return int(number) if number.isdigit() and len(number) < 7 else None


def format_reload_summary(summary: object) -> str:
    """``str(summary)`` (the engine's one-line summary) and the first few skipped files."""
    headline = f"Reloaded: {escape(clip_end(str(summary), 500))}"
    skipped = list(getattr(summary, "skipped", []) or [])
    lines = [headline]
    for item in skipped[:5]:
        path = clip_end(str(getattr(item, "rel_path", item)), 120)
        reason = clip_end(str(getattr(item, "reason", "")), 120)
        lines.append(f"• skipped {escape(path)}: {escape(reason)}")
    if len(skipped) > 5:
        lines.append(f"• … and {len(skipped) - 5} more skipped")
    text = "\n".join(lines)
    try:
        check_message(text)
    except TelegramHTMLError:  # only with pathological file names: the headline alone
        return headline
    return text


def format_reload_failed(error: BaseException) -> str:
    detail = clip_end(one_line(str(error)) or type(error).__name__, 500)
    return (
        f"Reload failed; the previous index is still in use.\nError: <code>{escape(detail)}</code>"
    )


RELOAD_RUNNING_TEXT = "A reload is already running; I'll report when it is done."
RELOAD_CANCELLED_TEXT = (
    "The bot is shutting down, so the reload was cancelled. The articles are as they were;"
    " send /reload again once it is back."
)
RELOAD_REFUSED_TEXT = "Sorry, only the bot's admins can reload the articles."
NON_TEXT_TEXT = "I only understand text questions. Please type your question."
UNKNOWN_COMMAND_TEXT = "I don't know that command. See /help for what I can do."


def format_rate_limited(limit: int, window_seconds: float) -> str:
    minutes = "minute" if window_seconds == 60 else f"{window_seconds:g} seconds"
    return (
        f"You're asking faster than I can keep up ({limit} questions per {minutes})."
        " Please wait a little before the next one."
    )
