"""The corpus reader: listing a folder, reading files, and parsing every format into clean
articles; bad files are reported, never fatal."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import retrieval.corpus as corpus
from retrieval.cleaning import (
    clean_characters,
    collapse_whitespace,
    is_furniture,
    split_paragraphs,
)
from retrieval.corpus import (
    SUPPORTED_SUFFIXES,
    CorpusNotFound,
    SkippedFile,
    SkippedFileError,
    list_corpus_files,
    parse_file,
    read_articles,
    read_file_bytes,
)
from retrieval.documents import Article
from retrieval.html_reader import strip_site_suffix

FIXTURES = Path(__file__).parent / "fixtures" / "corpus"
SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_75b43c9b3084b6a9.txt"


def parse_fixture(name: str) -> tuple[list[Article], list[str]]:
    parsed = parse_file(name, (FIXTURES / name).read_bytes())
    return parsed.articles, parsed.warnings


def only_article(name: str) -> Article:
    articles, warnings = parse_fixture(name)
    assert warnings == []
    assert len(articles) == 1
    return articles[0]


# --- formats --------------------------------------------------------------------------------


def test_txt_with_site_line_original_url_captions_and_furniture():
    article = only_article("site_article.txt")
    assert article.doc_id == "site_article.txt"
    assert article.title == "Ferry service to resume after storm damage repaired"
    assert article.url == "https://example.org/news/ferry-service-to-resume"
    assert article.paragraphs == (
        "THE ferry will sail again. Repairs to the northern pier were finished on Monday, the"
        " port authority said.",
        "The harbour master inspects the repaired pier on Monday.",
        "Crews worked for three weeks to replace 40 metres of decking torn away by the storm."
        " The first sailing is planned for 7am on Thursday.",
    )


def test_bbc_style_txt_first_line_is_the_title():
    article = only_article("bbc_style.txt")
    assert article.title == "Bakery chain expands north"
    assert article.url is None
    assert len(article.paragraphs) == 3
    assert article.paragraphs[0].startswith("A bakery chain based in Leeds")


@pytest.mark.parametrize(
    ("text", "title", "first_paragraph"),
    [
        # BBC match reports: a three-word headline over a one-line venue is still a headline.
        (
            "Blackburn v Burnley\n\nEwood Park\n\nBlackburn won 2-0.\n",
            "Blackburn v Burnley",
            "Ewood Park",
        ),
        # A one-word headline over a sentence is a headline, not a site name.
        (
            "Aftershock\n\nA strong aftershock hit the city.\n\nNo one was hurt.\n",
            "Aftershock",
            "A strong aftershock hit the city.",
        ),
        # A one-line note: its line is its text, the file name its title.
        ("Headline only, no body\n", "note", "Headline only, no body"),
    ],
)
def test_txt_title_rules(text, title, first_paragraph):
    (article,) = parse_file("news/note.txt", text.encode()).articles
    assert article.title == title
    assert article.paragraphs[0] == first_paragraph


def test_markdown_with_front_matter():
    article = only_article("front_matter.md")
    assert article.title == "Library reopens with a rooftop garden"
    assert article.url == "https://example.org/library-reopens"
    assert article.date == "2024-05-02"
    assert article.paragraphs == (
        "The central library reopened on Saturday after a two-year refit costing £8m.",
        "What is new",
        "A rooftop garden with 60 seats",
        "A children's floor with a reading theatre",
        "Librarian Ana Costa said visitor numbers on the first day passed 4,000.",
    )


def test_markdown_heading_is_the_title_without_front_matter():
    text = "## Storm *warning* for the coast ##\n\nWinds of __120 km/h__ are expected.\n"
    (article,) = parse_file("warning.md", text.encode()).articles
    assert article.title == "Storm warning for the coast"
    assert article.paragraphs == ("Winds of 120 km/h are expected.",)


def test_markdown_heading_is_never_taken_for_a_site_line():
    text = "# Corpora\n\n## BBC news\n\nArticles from 2004 and 2005.\n"
    (article,) = parse_file("SOURCE.md", text.encode()).articles
    assert article.title == "Corpora"
    assert article.paragraphs == ("BBC news", "Articles from 2004 and 2005.")
    setext = "Corpora\n=======\n\nArticles from 2004.\n"
    assert parse_file("s.md", setext.encode()).articles[0].title == "Corpora"


def test_html_story_paragraphs_without_page_furniture():
    article = only_article("furniture.html")
    assert article.title == "Council approves new cycle lanes"
    assert article.url == "https://cityherald.example/news/cycle-lanes"
    assert article.date == "2024-03-14T09:30:00Z"
    assert article.paragraphs == (
        "The city council has approved 14 kilometres of protected cycle lanes, to be built"
        " over two years.",
        "Councillors voted 31 to 12 in favour of the plan on Wednesday night.",
        "Work on the first section, along the river, will start in June.",
    )


def test_html_the_first_of_each_kind_of_metadata_counts():
    page = (
        '<html><head><meta name="date" content=""><meta name="date" content="2001-01-01">'
        '<link rel="stylesheet canonical"><link rel="canonical" href="https://x.example/b">'
        '<meta itemprop="datePublished" content=" 2020-05-06 "></head>'
        "<body><h1>First  heading</h1><h1>Second</h1><article>"
        "<p>Outer <p>inner one.</p></p><ul><li>Item <p>held in a paragraph.</p></li></ul>"
        "<li>Plain item.</li></article></body></html>"
    )
    (article,) = parse_file("first.html", page.encode()).articles
    # An empty first <meta name="date"> hides the second; the next kind of date is used. The
    # first canonical link has no href: no URL.
    assert (article.title, article.url, article.date) == ("First heading", None, "2020-05-06")
    # Nested paragraphs and items: each keeps its own text, as a browser shows them.
    assert article.paragraphs == (
        "Outer",
        "inner one.",
        "Item",
        "held in a paragraph.",
        "Plain item.",
    )


def test_html_paragraphs_without_end_tags_are_each_kept():
    # HTML lets </p> be left out; html.parser then nests each paragraph in the one before.
    page = "<html><body><h1>Ferry</h1><p>The ferry ran late.<p>It was <b>foggy</b>.<p>Again."
    (article,) = parse_file("old.html", page.encode()).articles
    assert article.paragraphs == ("The ferry ran late.", "It was foggy.", "Again.")
    # A long old page: html.parser nests its thousands of paragraphs thousands deep; reading
    # them is one pass over the text, not a pass per paragraph.
    long_page = "<html><body><article><h1>Log</h1>" + "<p>Entry.<p>Note." * 3000 + "</article>"
    (article,) = parse_file("long.html", long_page.encode()).articles
    assert article.paragraphs == ("Entry.", "Note.")  # repeats are dropped, as always
    quoted = "<html><body><p>He said:</p><blockquote>We will sail again.</blockquote></body>"
    (article,) = parse_file("quote.html", quoted.encode()).articles
    assert article.paragraphs == ("He said:", "We will sail again.")  # a quote without <p>
    feed = b'{"title": "Ferry", "body": "<p>The ferry ran late.<p>It was foggy."}'
    (record,) = parse_file("feed.json", feed).articles
    assert record.paragraphs == ("The ferry ran late.", "It was foggy.")


def test_html_metadata_fallbacks():
    page = (
        '<html><head><title>Ignored - Site</title><meta property="og:title" content="From OG">'
        '<meta property="og:url" content="https://x.example/a"></head>'
        '<body><time datetime="2023-01-02">2 Jan</time><main><p>Body text here.</p>'
        "<ul><li>A listed fact.</li></ul></main></body></html>"
    )
    (article,) = parse_file("page.htm", page.encode()).articles
    assert (article.title, article.url, article.date) == (
        "From OG",
        "https://x.example/a",
        "2023-01-02",
    )
    assert article.paragraphs == ("Body text here.", "A listed fact.")  # <li> counts in <main>
    bare = (
        "<html><head><title>Rates rise again - BBC News</title></head>"
        "<body>Plain text.</body></html>"
    )
    (article,) = parse_file("bare.html", bare.encode()).articles
    # Without a URL or site name, " - BBC News" is not known to be the site.
    assert article.title == "Rates rise again - BBC News"
    assert article.paragraphs == ("Plain text.",)


@pytest.mark.parametrize(
    ("title", "site_name", "url", "expected"),
    [
        ("Rates rise again | The Daily Planet", None, None, "Rates rise again"),
        ("Rates rise again - BBC News", None, "https://www.bbc.co.uk/news/1", "Rates rise again"),
        ("Rates rise again — Planet", "Planet", None, "Rates rise again"),
        ("Bromance is over - news.com.au", None, "https://news.com.au/x", "Bromance is over"),
        ("Pros and cons - a guide for buyers", None, "https://example.org/x", None),
        ("Budget | Analysis of the chancellor's plans", None, None, None),
    ],
)
def test_site_suffix_is_stripped_only_when_clearly_a_site(title, site_name, url, expected):
    assert strip_site_suffix(title, site_name, url) == (expected or title)


def test_json_list_of_records():
    articles, warnings = parse_fixture("list.json")
    assert warnings == ["1 record without text skipped"]
    zoo, market = articles
    assert zoo.doc_id == "list.json#a1"
    assert (zoo.title, zoo.url, zoo.date) == (
        "Zoo welcomes twin red pandas",
        "https://example.org/zoo",
        "2024-07-01",
    )
    assert len(zoo.paragraphs) == 2
    assert market.doc_id == "list.json#a2"
    assert market.paragraphs == (
        "The night market returns to the old square on Friday.",
        "More than 80 stalls are expected.",
    )


def test_json_shapes_and_record_keys():
    wrapped = b'{"articles": [{"id": 5, "text": "One."}, {"id": 5, "text": "Two."}]}'
    articles = parse_file("feed.json", wrapped).articles
    assert [a.doc_id for a in articles] == ["feed.json#1", "feed.json#2"]  # ids not unique
    assert [a.title for a in articles] == ["feed", "feed"]
    single = b'{"headline": "Solo", "story": "Just one story."}'
    (article,) = parse_file("solo.json", single).articles
    assert (article.doc_id, article.title) == ("solo.json", "Solo")
    assert parse_file("bad.json", b'{"title": "x", ').warnings == [
        "invalid JSON (line 1, column 16)"
    ]


def test_jsonl_bad_line_is_a_warning_not_a_failure():
    articles, warnings = parse_fixture("records.jsonl")
    assert warnings == ["line 2: invalid JSON"]
    assert [a.doc_id for a in articles] == ["records.jsonl#1", "records.jsonl#3"]
    assert articles[1].paragraphs == (  # an HTML body is read as HTML
        "This year's marathon will avoid the old town because of roadworks.",
        "About 9,000 runners are entered.",
    )


def test_reuters_style_wrapped_body_is_unwrapped_into_paragraphs():
    articles, warnings = parse_fixture("reuters_wrapped.jsonl")
    assert warnings == []
    mining, grain, fund = articles
    assert mining.doc_id == "reuters_wrapped.jsonl#wire-7"
    assert mining.title == "ACME MINING RAISES COPPER OUTPUT"
    assert mining.date == "3-MAR-1987 10:15:00.00"
    assert mining.url is None
    assert mining.paragraphs == (
        "Acme Mining Corp said it raised copper output at its northern mine by 15 pct in the"
        " fourth quarter.",
        "The company said the increase came from a new processing plant opened in October.",
        "Acme said it expects output to rise again in the first quarter of 1987.",
    )
    assert grain.paragraphs[1:] == ("Wheat 120,000 tonnes", "Maize 45,000 tonnes")
    # Angle brackets mark company names and tickers on the wire: text, not HTML tags.
    assert fund.paragraphs == (
        "<America First Federally Guaranteed Mortgage Fund Two> said it is making a special"
        " distribution of 71.6 cts per unit.",
        "Sears, Roebuck and Co <S> and <EM> were not affected.",
    )


# --- cleaning -------------------------------------------------------------------------------


def test_bundled_seed_article_is_cleaned():
    (article,) = parse_file(SEED.name, SEED.read_bytes()).articles
    assert article.title == "Why Donald Trump and Vladimir Putin’s bromance is over"
    assert article.url == (
        "https://www.news.com.au/world/europe/why-donald-trump-and-vladimir-putins-bromance-is-over"
        "/news-story/440ad4ebb5459918a1e9e96ee4b383c4"
    )
    paragraphs = article.paragraphs
    assert paragraphs[0].startswith("THE bromance is over.")
    assert "NewsBite" not in paragraphs and article.title not in paragraphs
    captions = [
        "US President Donald Trump said the US wasn’t getting along with Russia at all.",
        "Russian President Vladimir Putin said relations between the US and Russia had"
        " deteriorated under Donald Trump.",
        "Mr Trump and his Russian counterpart appear to have a change of heart about each other.",
    ]
    for caption in captions:
        assert paragraphs.count(caption) == 1
    assert not any("Picture:" in p for p in paragraphs)
    assert len(set(paragraphs)) == len(paragraphs)
    for furniture in ("Read related", "your comment", "join the conversation", "Original URL"):
        assert not any(furniture.lower() in p.lower() for p in paragraphs), furniture
    assert any("killed 87 people" in p for p in paragraphs)
    assert paragraphs[-1].startswith("Mr Putin’s decision to host Tillerson")


def test_a_paragraph_per_line_is_read_as_such_and_hard_wrapped_lines_are_joined():
    one_per_line = (
        "Harbour reopens\n"
        "Ships returned to the harbour on Tuesday, officials said.\n"
        "The repairs will cost about 3 million dollars.\n"
        '"We lost a week," a fisherman said.\n'
    )
    (article,) = parse_file("lines.txt", one_per_line.encode()).articles
    assert article.paragraphs == (
        "Ships returned to the harbour on Tuesday, officials said.",
        "The repairs will cost about 3 million dollars.",
        '"We lost a week," a fisherman said.',
    )
    feed = b'{"title": "Harbour", "body": "Ships returned.\\nRepairs will cost more."}'
    assert parse_file("feed.json", feed).articles[0].paragraphs == (
        "Ships returned.",
        "Repairs will cost more.",
    )
    wrapped = (
        "Harbour reopens\n"
        "Ships returned to the harbour on Tuesday after the\n"
        "storm passed, officials said. The repairs will cost\n"
        "about 3 million dollars.\n"
    )
    (article,) = parse_file("wrapped.txt", wrapped.encode()).articles
    assert article.paragraphs == (
        "Ships returned to the harbour on Tuesday after the storm passed, officials said. The"
        " repairs will cost about 3 million dollars.",
    )


def test_characters_are_normalised():
    text = "Cafe\u0301\u00a0news\x07\r\nline\u2028two\x85"
    assert clean_characters(text) == "Café\u00a0news\nline\ntwo"
    assert split_paragraphs("  one\u2003 two \n\n\n three\t\n") == ["one two", "three"]
    data = "Title\u00a0 here\r\n\r\nBody\u00a0\u00a0text.\r\n".encode()
    (article,) = parse_file("t.txt", data).articles
    assert (article.title, article.paragraphs) == ("Title here", ("Body text.",))


@given(st.text(alphabet=st.sampled_from(" \n\t\r\x0b\x1c\u00a0\u2003\u2028ab.é")))
def test_white_space_collapses_as_splitting_into_words_does(text):
    assert collapse_whitespace(text) == " ".join(text.split())


@pytest.mark.parametrize(
    "paragraph",
    [
        "Add your comment to this story",
        "Comments are closed.",
        "Read related topics:Donald Trump",
        "Log in",
        "Subscribe to our newsletter for the top stories every morning",
        "Already a subscriber? Log in here",
        "Share this article",
        "Facebook Twitter Email",
        "Advertisement",
        "Follow us on Twitter @cityherald",
    ],
)
def test_furniture_paragraphs_are_recognised(paragraph):
    assert is_furniture(paragraph)


@pytest.mark.parametrize(
    "paragraph",
    [
        "Comments by the minister drew criticism from the opposition.",
        "Register to vote by Friday, officials urged residents who had moved house.",
        "Share prices rose 3% on Monday.",
        "Advertisement spending fell 5% last year.",
        "Related articles in the journal were later retracted.",
        "Sign language interpreters were present at the briefing.",
        "Follow the money, investigators said.",
    ],
)
def test_real_sentences_are_not_furniture(paragraph):
    assert not is_furniture(paragraph)


def test_credit_is_cut_only_from_captions():
    text = (
        "Caption\n\nFirefighters at the scene. Photo: AP\n\n"
        "The report said: Picture quality was poor in older cameras.\n\nPicture: Getty Images\n"
    )
    (article,) = parse_file("c.txt", text.encode()).articles
    assert article.paragraphs == (
        "Firefighters at the scene.",
        "The report said: Picture quality was poor in older cameras.",
    )


# --- decoding and bad content ---------------------------------------------------------------


def test_invalid_utf8_is_still_indexed_with_a_warning():
    data = b"Transfer fee\n\nHe cost \xa315.8m last season.\n"
    parsed = parse_file("sport/199.txt", data)
    assert parsed.warnings == ["invalid UTF-8 bytes replaced (1 byte read as Windows-1252)"]
    assert parsed.articles[0].paragraphs == ("He cost £15.8m last season.",)


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + "Título\n\nTexto del artículo.\n".encode(),
        codecs.BOM_UTF16_LE + "Título\n\nTexto del artículo.\n".encode("utf-16-le"),
        codecs.BOM_UTF16_BE + "Título\n\nTexto del artículo.\n".encode("utf-16-be"),
    ],
)
def test_boms_decide_the_encoding(data):
    parsed = parse_file("es.txt", data)
    assert parsed.warnings == []
    assert parsed.articles[0].title == "Título"
    assert parsed.articles[0].paragraphs == ("Texto del artículo.",)


@pytest.mark.parametrize(
    ("data", "warning"),
    [
        (b"", "empty"),
        (b" \n\t\r\n", "empty"),
        (b"\x00\x01\x02" * 100, "binary file"),
        (bytes(range(128, 256)) * 20, "binary file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"Read related topics: Weather\n\nAdvertisement\n", "no paragraphs"),
    ],
)
def test_files_without_articles_say_why(data, warning):
    parsed = parse_file("x.txt", data)
    assert parsed.articles == []
    assert parsed.warnings == [warning]


def test_parse_file_rejects_unsupported_suffix():
    assert parse_file("scan.pdf", b"%PDF-1.4").warnings == ["unsupported type .pdf"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=600),
        st.text(max_size=400).map(str.encode),
        st.lists(
            st.sampled_from(
                ["{", "}", "[", "]", '"text": ', '"title": "T", ', '"x"', ",", "\n", "<p>",
                "</p>", "<article>", "---\n", "title: a\n", "# ", "**", "    ", "Picture: X",
                "Original URL: u", "\n\n", "word ", "\u00a0", "\x00", "\xff", "é",
                "<rss>", "<item>", "</item>", "<entry>", "<title>", "<link href='u'/>",
                "<![CDATA[", "]]>", "&lt;p&gt;", "&amp;", "&e;",
                ]
            )
        ).map("".join).map(lambda s: s.encode("utf-8", "surrogatepass")),
    ),
    suffix=st.sampled_from(sorted(SUPPORTED_SUFFIXES)),
)  # fmt: skip
def test_parse_file_never_raises(data, suffix):
    parsed = parse_file(f"dir/file{suffix}", data)
    assert parsed.articles or parsed.warnings
    for article in parsed.articles:
        assert article.title
        assert article.doc_id.startswith(f"dir/file{suffix}")
        assert article.paragraphs
        for paragraph in article.paragraphs:
            assert paragraph and paragraph == paragraph.strip() and "\n" not in paragraph


# --- listing and reading --------------------------------------------------------------------


def write(path: Path, text: str = "Title\n\nSome text.\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_listing_is_recursive_sorted_and_skips_hidden_and_unsupported(tmp_path):
    write(tmp_path / "b.txt")
    write(tmp_path / "a" / "z.md")
    write(tmp_path / "a" / "upper.TXT")
    write(tmp_path / ".git" / "config.txt")
    write(tmp_path / ".newsbite" / "x.json")
    write(tmp_path / ".hidden.txt")
    write(tmp_path / "scan.pdf")
    write(tmp_path / "notes")
    (tmp_path / "blank.txt").write_bytes(b"")
    files, skipped = list_corpus_files(tmp_path)
    assert [f.rel_path for f in files] == ["a/upper.TXT", "a/z.md", "b.txt"]
    first = files[0]
    assert first.path == tmp_path / "a" / "upper.TXT" and first.path.is_absolute()
    assert first.size == (tmp_path / "a" / "upper.TXT").stat().st_size
    assert first.mtime_ns == (tmp_path / "a" / "upper.TXT").stat().st_mtime_ns
    assert skipped == [
        SkippedFile("blank.txt", "empty"),
        SkippedFile("notes", "unsupported type (no suffix)"),
        SkippedFile("scan.pdf", "unsupported type .pdf"),
    ]


def test_too_large_files_are_skipped(tmp_path):
    write(tmp_path / "big.txt", "x" * 3000)
    write(tmp_path / "small.txt", "x" * 10)
    files, skipped = list_corpus_files(tmp_path, max_bytes=2048)
    assert [f.rel_path for f in files] == ["small.txt"]
    assert skipped == [SkippedFile("big.txt", "too large (2.9 KB > 2 KB)")]
    (small,) = files
    write(tmp_path / "small.txt", "x" * 3000)  # grew after listing
    with pytest.raises(SkippedFileError, match=r"too large \(2.9 KB > 2 KB\)"):
        read_file_bytes(small, max_bytes=2048)


def test_json_lines_files_may_be_bigger_than_files_read_whole(tmp_path):
    # A JSON Lines export is read in parts (tests/test_jsonl_parts.py): its own, higher limit.
    write(tmp_path / "big.txt", "x" * 3000)
    write(tmp_path / "archive.jsonl", "x" * 3000)
    write(tmp_path / "huge.jsonl", "x" * 9000)
    files, skipped = list_corpus_files(tmp_path, max_bytes=2048, max_jsonl_bytes=8192)
    assert [f.rel_path for f in files] == ["archive.jsonl"]
    assert skipped == [
        SkippedFile("big.txt", "too large (2.9 KB > 2 KB)"),
        SkippedFile("huge.jsonl", "too large (8.8 KB > 8 KB)"),
    ]
    assert len(read_file_bytes(files[0], max_bytes=2048, max_jsonl_bytes=8192)) == 3000


def test_symlink_loops_and_repeated_folders_are_walked_once(tmp_path):
    write(tmp_path / "real" / "story.txt")
    os.symlink(tmp_path, tmp_path / "real" / "loop")  # points back at an ancestor
    os.symlink(tmp_path / "real", tmp_path / "alias")  # a second way into the same folder
    os.symlink(tmp_path / "self.txt", tmp_path / "self.txt")  # links to itself
    os.symlink(tmp_path / "missing.txt", tmp_path / "dangling.txt")
    write(tmp_path / "outside" / "linked.txt")
    files, skipped = list_corpus_files(tmp_path)
    assert [f.rel_path for f in files] == ["outside/linked.txt", "real/story.txt"]
    assert skipped == [
        SkippedFile("alias", "same folder as real/"),
        SkippedFile("dangling.txt", "broken symlink"),
        SkippedFile("real/loop", "symlink loop"),
        SkippedFile("self.txt", "symlink loop"),
    ]


def test_special_files_are_not_read(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    files, skipped = list_corpus_files(tmp_path)
    assert files == [] and skipped == [SkippedFile("pipe.txt", "not a regular file")]


def test_unreadable_folder_and_file_are_skipped(tmp_path, monkeypatch):
    write(tmp_path / "locked" / "secret.txt")
    story = write(tmp_path / "open" / "story.txt")
    real_scandir, real_open = os.scandir, os.open

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    def open_(path, flags, *args):
        if Path(path) == story:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(corpus.os, "scandir", scandir)
    files, skipped = list_corpus_files(tmp_path)
    assert [f.rel_path for f in files] == ["open/story.txt"]
    assert skipped == [SkippedFile("locked/", "permission denied")]
    monkeypatch.setattr(corpus.os, "open", open_)
    with pytest.raises(SkippedFileError, match="permission denied"):
        read_file_bytes(files[0])


def test_file_vanishing_between_listing_and_reading(tmp_path):
    story = write(tmp_path / "story.txt")
    (listed,) = list_corpus_files(tmp_path)[0]
    assert read_file_bytes(listed) == story.read_bytes()
    story.unlink()
    with pytest.raises(SkippedFileError, match="vanished while reading"):
        read_file_bytes(listed)


def test_missing_or_non_folder_root_raises(tmp_path):
    # The messages stand on their own: the command line and the bot print them as they are.
    with pytest.raises(CorpusNotFound, match=r"^no corpus folder at .*nowhere$"):
        list_corpus_files(tmp_path / "nowhere")
    with pytest.raises(CorpusNotFound, match=r"^the corpus is not a folder: .*file\.txt$"):
        list_corpus_files(write(tmp_path / "file.txt"))


def test_read_articles_reads_every_good_file_and_passes_over_bad_ones(tmp_path):
    for name in ("site_article.txt", "list.json", "records.jsonl"):
        (tmp_path / name).write_bytes((FIXTURES / name).read_bytes())
    (tmp_path / "blob.txt").write_bytes(b"\x00" * 64)
    (tmp_path / "junk.json").write_bytes(b"not json")
    doc_ids = [article.doc_id for article in read_articles(tmp_path)]
    assert doc_ids == [
        "list.json#a1",
        "list.json#a2",
        "records.jsonl#1",
        "records.jsonl#3",
        "site_article.txt",
    ]
