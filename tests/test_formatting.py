"""Answer messages and the Telegram HTML checker: escaping, highlighting, trimming, limits."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import formatting
from bot.telegram_html import (
    MAX_MESSAGE_LENGTH,
    TelegramHTMLError,
    check_message,
    is_valid_message,
    parse_telegram_html,
    utf16_length,
)
from retrieval.answers import Answer, AnswerResult
from retrieval.store import SourceInfo

SENTENCE = "The attack on a town killed 87 people last week."
PASSAGE = f"The White House accused Moscow of a cover-up. {SENTENCE} Russia denied it."


def make_answer(
    *,
    answer: str | None = "87 people",
    sentence: str = SENTENCE,
    passage: str = PASSAGE,
    title: str = "Why the bromance is over",
    url: str | None = "https://example.com/news?id=1",
    paragraph: int = 22,
    doc_id: str = "seed.txt",
    answer_start: int | None = None,
    confidence: float = 0.8,
) -> Answer:
    start = answer_start if answer_start is not None else sentence.find(answer) if answer else -1
    has_span = answer is not None and start >= 0
    return Answer(
        answer=answer if has_span else None,
        answer_start=start if has_span else None,
        answer_end=start + len(answer) if has_span and answer else None,
        sentence=sentence,
        sentence_start=passage.find(sentence),
        passage=passage,
        title=title,
        url=url,
        doc_id=doc_id,
        paragraph=paragraph,
        score=3.2,
        confidence=confidence,
    )


def result_of(*answers: Answer, no_answer: bool = False) -> AnswerResult:
    return AnswerResult(
        question="How many people died?", no_answer=no_answer, answers=list(answers)
    )


# -- the answer message -----------------------------------------------------------------------


def test_answer_is_bold_and_highlighted_inside_the_quoted_sentence() -> None:
    text = formatting.format_result(result_of(make_answer()))
    check_message(text)
    assert text.startswith("<b>87 people</b>\n")
    assert "<i>The attack on a town killed <b>87 people</b> last week.</i>" in text
    assert "<blockquote>The White House accused Moscow of a cover-up. <i>" in text
    assert "</i> Russia denied it.</blockquote>" in text
    assert '— <a href="https://example.com/news?id=1">Why the bromance is over</a>' in text
    assert "paragraph 22" in text


def test_highlight_follows_the_offsets_not_the_first_occurrence() -> None:
    sentence = "He said 12 people, not 12 people."
    second = sentence.rindex("12 people")
    answer = Answer(
        "12 people", second, second + 9, sentence, 0, sentence, "T", None, "d", 1, 1.0, 0.5
    )
    text = formatting.format_result(result_of(answer))
    assert "<i>He said 12 people, not <b>12 people</b>.</i>" in text


@pytest.mark.parametrize(
    "field, hostile",
    [
        ("title", "<b>Bold</b> & </a> title"),
        ("sentence", 'Scripts <script>alert("x")</script> & more.'),
        ("answer", "<b>&amp;</b>"),
        ("passage", "</blockquote><a href='x'>&"),
    ],
)
def test_every_article_field_is_escaped(field: str, hostile: str) -> None:
    if field == "title":
        answer = make_answer(title=hostile)
    elif field == "sentence":
        answer = make_answer(sentence=hostile, passage=hostile, answer="<script>")
    elif field == "answer":
        sentence = f"The code was {hostile} all along."
        answer = make_answer(sentence=sentence, passage=sentence, answer=hostile)
    else:
        answer = make_answer(passage=f"{hostile} {SENTENCE} {hostile}")
    text = formatting.format_result(result_of(answer))
    parsed = check_message(text)
    assert hostile in parsed.visible_text  # shown literally, not interpreted
    assert parsed.links == ("https://example.com/news?id=1",)


def test_quotes_and_ampersands_in_the_url_are_escaped_in_the_href() -> None:
    url = "https://example.com/a?x=1&y=\"2\"&z='3'"
    text = formatting.format_result(result_of(make_answer(url=url)))
    assert 'href="https://example.com/a?x=1&amp;y=&quot;2&quot;&amp;z=&#x27;3&#x27;"' in text
    assert check_message(text).links == (url,)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://x.org/f", "not a url", "", None])
def test_unusable_urls_leave_the_title_unlinked(url: str | None) -> None:
    text = formatting.format_result(result_of(make_answer(url=url)))
    assert "<a " not in text
    assert "— Why the bromance is over, paragraph 22" in text


def test_without_a_short_answer_the_sentence_is_quoted_plainly() -> None:
    text = formatting.format_result(result_of(make_answer(answer=None)))
    check_message(text)
    assert not text.startswith("<b>")
    assert f"<i>{SENTENCE}</i>" in text


def test_up_to_two_other_passages_one_line_each() -> None:
    others = [
        make_answer(
            sentence=f"Other fact number {n} is here.",
            passage=f"Other fact number {n} is here.",
            answer=None,
            title=f"Article {n}",
            url=None,
            paragraph=n,
            doc_id=f"doc{n}",
        )
        for n in range(1, 5)
    ]
    text = formatting.format_result(result_of(make_answer(), *others))
    check_message(text)
    assert "Also relevant:" in text
    assert "• Article 1, paragraph 1: “Other fact number 1 is here.”" in text
    assert "• Article 2, paragraph 2: “Other fact number 2 is here.”" in text
    assert "Article 3" not in text


def test_another_passage_of_the_same_article_is_not_linked_again() -> None:
    same = make_answer(sentence="Russia denied it.", answer=None, paragraph=23)
    text = formatting.format_result(result_of(make_answer(), same))
    assert "• Same article, paragraph 23: “Russia denied it.”" in text
    assert text.count("<a href") == 1


def test_a_duplicate_of_the_best_passage_is_not_listed_again() -> None:
    text = formatting.format_result(result_of(make_answer(), make_answer()))
    assert "Also relevant" not in text


def test_long_passages_are_trimmed_around_the_sentence_with_ellipses() -> None:
    before = " ".join(f"before{n}" for n in range(2000))
    after = " ".join(f"after{n}" for n in range(2000))
    passage = f"{before}. {SENTENCE} {after}."
    text = formatting.format_result(result_of(make_answer(passage=passage)))
    parsed = check_message(text)
    assert "<blockquote>…" in text
    assert "…</blockquote>" in text
    assert "killed <b>87 people</b> last week." in text
    assert "before1999." in parsed.visible_text  # the words next to the sentence are kept
    assert "after0 " in parsed.visible_text
    assert "before0 " not in parsed.visible_text


def test_a_huge_sentence_is_cut_around_the_answer() -> None:
    words = " ".join(f"w{n}" for n in range(5000))
    sentence = f"{words} the answer is 42 {words}."
    answer = make_answer(
        sentence=sentence, passage=sentence, answer="42", answer_start=sentence.index(" 42 ") + 1
    )
    text = formatting.format_result(result_of(answer))
    parsed = check_message(text)
    assert "<i>…" in text and "…</i>" in text
    assert "w4999 the answer is <b>42</b> w0 w1" in text
    assert utf16_length(parsed.visible_text) <= MAX_MESSAGE_LENGTH


def test_text_that_escapes_to_five_times_its_length_still_fits() -> None:
    hostile = "&" * 6000
    answer = make_answer(
        sentence=hostile + " x " + hostile,
        passage=hostile + " x " + hostile,
        answer="x",
        title=hostile,
        url="https://example.com/" + "a" * 1990,
    )
    others = [
        make_answer(sentence=hostile, passage=hostile, answer=None, title=hostile, doc_id=str(n))
        for n in range(2)
    ]
    text = formatting.format_result(result_of(answer, *others))
    check_message(text)
    assert len(text) <= MAX_MESSAGE_LENGTH


def test_no_answer_is_a_plain_sentence_with_a_hint() -> None:
    for result in (result_of(no_answer=True), result_of(make_answer(), no_answer=True)):
        text = formatting.format_result(result)
        assert check_message(text).visible_text == formatting.NO_ANSWER_TEXT
        assert "<" not in text
        assert "/sources" in text and "rephras" in text


answers_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6000)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    answer_text=answers_text,
    before=answers_text,
    after=answers_text,
    title=answers_text,
    url=st.one_of(st.none(), answers_text, answers_text.map(lambda s: "https://x.org/" + s)),
    use_answer=st.booleans(),
    others=st.integers(min_value=0, max_value=3),
)
def test_any_answer_text_gives_valid_html_within_limits(
    answer_text: str,
    before: str,
    after: str,
    title: str,
    url: str | None,
    use_answer: bool,
    others: int,
) -> None:
    sentence = f"{before}{answer_text}{after}"
    passage = f"{after} {sentence} {before}"
    start = len(before)
    answer = Answer(
        answer_text if use_answer else None,
        start if use_answer else None,
        start + len(answer_text) if use_answer else None,
        sentence,
        len(after) + 1,
        passage,
        title,
        url,
        "doc",
        3,
        1.0,
        0.9,
    )
    extra = [
        Answer(None, None, None, title + before, 0, title + before, after, url, str(n), n, 1.0, 0.1)
        for n in range(others)
    ]
    text = formatting.format_result(AnswerResult("q", False, [answer, *extra]))
    parsed = check_message(text)
    assert utf16_length(text) <= MAX_MESSAGE_LENGTH
    assert utf16_length(parsed.visible_text) <= MAX_MESSAGE_LENGTH


# -- other messages ---------------------------------------------------------------------------


# The engine's own record of an indexed article.
Source = SourceInfo


def test_sources_are_paginated_with_buttons() -> None:
    sources = [Source(f"d{n}", f"Title <{n}>", f"https://e.com/{n}", n) for n in range(1, 24)]
    first = formatting.format_sources_page(sources, 0)
    check_message(first.text)
    assert first.page_count == 3
    assert "page 1 of 3" in first.text
    assert '1. <a href="https://e.com/1">Title &lt;1&gt;</a> (1 paragraph)' in first.text
    assert "11." not in first.text
    buttons = first.keyboard.inline_keyboard[0]
    assert [b.callback_data for b in buttons] == ["sources:1"]
    middle = formatting.format_sources_page(sources, 1)
    assert [b.callback_data for b in middle.keyboard.inline_keyboard[0]] == [
        "sources:0",
        "sources:2",
    ]
    last = formatting.format_sources_page(sources, 99)  # clamped
    assert last.page == 2 and "23. " in last.text
    assert formatting.format_sources_page(sources[:3], 0).keyboard is None
    assert "No articles" in formatting.format_sources_page([], 0).text


def test_sources_page_with_hostile_titles_stays_valid() -> None:
    sources = [Source(str(n), "&<>" * 400, "https://e.com/" + "&" * 1900, 1) for n in range(10)]
    check_message(formatting.format_sources_page(sources, 0).text)


def test_sources_callback_data_is_parsed_strictly() -> None:
    assert formatting.parse_sources_callback("sources:3") == 3
    for bad in (None, "", "sources:", "sources:-1", "sources:x", "other:1", "sources:99999999"):
        assert formatting.parse_sources_callback(bad) is None


def test_help_and_how_to_ask_texts() -> None:
    text = formatting.format_help(1, 25, ["Who <won>?"], "news_bot", is_admin=False)
    visible = check_message(text).visible_text
    assert "1 article (25 paragraphs)" in visible
    assert "Who <won>?" in visible
    assert "@news_bot" in visible and "/sources" in visible and "/reload" not in visible
    assert "/reload" in formatting.format_help(2, 3, [], "news_bot", is_admin=True)
    in_group = check_message(formatting.format_how_to_ask("news_bot", in_group=True))
    assert "@news_bot" in in_group.visible_text and "/ask" in in_group.visible_text
    check_message(formatting.format_start(text))


def test_reload_messages_escape_what_they_report() -> None:
    @dataclass
    class Skipped:
        rel_path: str
        reason: str

    @dataclass
    class Summary:
        skipped: list[Skipped]

        def __str__(self) -> str:
            return "1 added, 0 updated, 0 removed, 1 skipped; 2 articles, 9 paragraphs; 0.1 s"

    text = formatting.format_reload_summary(Summary([Skipped("<bad>.pdf", "unsupported type")]))
    visible = check_message(text).visible_text
    assert "1 added" in visible and "skipped <bad>.pdf: unsupported type" in visible
    failed = formatting.format_reload_failed(OSError("disk <full> & gone"))
    assert "<code>disk &lt;full&gt; &amp; gone</code>" in failed
    check_message(failed)


# -- the checker itself -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "html_text, visible",
    [
        ("plain", "plain"),
        ("<b>bold <i>both</i></b>", "bold both"),
        ('<a href="https://x.org/?a=1&amp;b=2">x</a>', "x"),
        ("&lt;&gt;&amp;&quot;&#39;&#x1F600;", "<>&\"'😀"),
        ("<blockquote expandable>q</blockquote>", "q"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st"),
        ('<pre><code class="language-python">x</code></pre>', "x"),
    ],
)
def test_checker_accepts_telegram_html(html_text: str, visible: str) -> None:
    assert parse_telegram_html(html_text).visible_text == visible


@pytest.mark.parametrize(
    "html_text",
    [
        "a < b",
        "a > b",
        "fish & chips",
        "&nbsp;",
        "<b>unclosed",
        "<b><i>crossed</b></i>",
        "</b>",
        "<div>no</div>",
        "<br>",
        '<a href="javascript:x">x</a>',
        "<a>no href</a>",
        '<b class="x">attr</b>',
        '<a href="https://x.org"><a href="https://y.org">nested</a></a>',
        "<code><b>inside code</b></code>",
        "&#0;",
        "&#xD800;",
    ],
)
def test_checker_rejects_what_telegram_rejects(html_text: str) -> None:
    with pytest.raises(TelegramHTMLError):
        parse_telegram_html(html_text)


def test_length_is_counted_in_utf16_units_of_the_visible_text() -> None:
    assert utf16_length("😀") == 2
    assert is_valid_message("a" * 4096)
    assert not is_valid_message("a" * 4097)
    assert not is_valid_message("😀" * 2049)
    assert not is_valid_message("<b>" + "&amp;" * 1000 + "</b>")  # raw HTML over the limit
    assert not is_valid_message("  ")


def test_a_low_confidence_answer_says_it_may_not_answer() -> None:
    unsure = formatting.format_result(result_of(make_answer(confidence=0.1)))
    assert unsure.startswith(f"<i>{formatting.LOW_CONFIDENCE_TEXT}</i>")
    assert "<b>87 people</b>" in unsure
    assert is_valid_message(unsure)
    sure = formatting.format_result(result_of(make_answer(confidence=0.9)))
    assert formatting.LOW_CONFIDENCE_TEXT not in sure
