"""HTML pages → title, URL, date and story paragraphs.

The story is the text of the <p> elements (and list items) inside <article>, else <main>, else
<body>; navigation, headers, footers, asides, forms, captions and scripts are removed first.
Metadata is read before anything is removed, because the headline and the publication time
usually live in the page <header>.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag

from retrieval.cleaning import collapse_whitespace, finish_paragraphs
from retrieval.documents import Article

_NOT_STORY_TAGS = [
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "figcaption",
    "button",
    "iframe",
    "svg",
]
_DATE_META = [
    ("property", "article:published_time"),
    ("name", "article:published_time"),
    ("itemprop", "datePublished"),
    ("name", "date"),
    ("name", "pubdate"),
    ("name", "dc.date"),
]
_META_KEYS = ("property", "name", "itemprop")
_METADATA_TAGS = {"meta", "link", "time", "h1", "title"}
# "Headline | Site", "Headline - Site", "Headline — Site".
_TITLE_SUFFIX_RE = re.compile(r"^(.+?)\s+(?:\||-|–|—|·|::)\s+([^|–—·]+)$")
_SITE_NAME_MAX_WORDS = 4


@dataclass(frozen=True, slots=True)
class HtmlPage:
    title: str | None
    url: str | None
    date: str | None
    paragraphs: list[str]


def read_html(html: str) -> HtmlPage:
    soup = BeautifulSoup(html, "html.parser")
    head = _Metadata(soup)
    url = head.canonical or head.meta("property", "og:url")
    site_name = head.meta("property", "og:site_name") or head.meta("name", "application-name")
    title = _title(head, site_name, url)
    date = next((value for key in _DATE_META if (value := head.meta(*key))), None)
    if date is None and head.time is not None:
        date = collapse_whitespace(str(head.time["datetime"])) or None
    return HtmlPage(title, url, date, html_paragraphs(soup))


class _Metadata:
    """What the page says about itself, from one pass over its tags (a bs4 ``find`` per item
    walks the whole tree each time: most of the cost of reading a page)."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self.canonical: str | None = None
        self.time: Tag | None = None  # the first <time> with a datetime
        self.h1: Tag | None = None
        self.title: Tag | None = None
        self._meta: dict[tuple[str, str], Tag] = {}  # (attribute, value) → first such <meta>
        canonical_seen = False
        for tag in soup.find_all(_METADATA_TAGS):
            name = tag.name
            if name == "meta":
                for key in _META_KEYS:
                    value = tag.get(key)
                    if isinstance(value, str):
                        self._meta.setdefault((key, value), tag)
            elif name == "link" and not canonical_seen and "canonical" in (tag.get("rel") or ()):
                canonical_seen = True  # the first one counts, even without an href
                href = tag.get("href")
                self.canonical = collapse_whitespace(str(href)) or None if href else None
            elif name == "time" and self.time is None and tag.has_attr("datetime"):
                self.time = tag
            elif name == "h1" and self.h1 is None:
                self.h1 = tag
            elif name == "title" and self.title is None:
                self.title = tag

    def meta(self, key: str, value: str) -> str | None:
        """The content of the first <meta> whose ``key`` attribute is ``value``."""
        tag = self._meta.get((key, value))
        if tag is not None and tag.get("content"):
            return collapse_whitespace(str(tag["content"])) or None
        return None


def html_paragraphs(soup_or_html: BeautifulSoup | str) -> list[str]:
    """The story paragraphs of a page or an HTML fragment, whitespace collapsed."""
    soup = (
        BeautifulSoup(soup_or_html, "html.parser")
        if isinstance(soup_or_html, str)
        else soup_or_html
    )
    for tag in soup.find_all(_NOT_STORY_TAGS):
        tag.decompose()
    for line_break in soup.find_all("br"):
        line_break.replace_with(" ")
    container, in_story = _story_container(soup)
    # List items count inside an article or <main>; in a bare <body> they are mostly menus.
    # A quotation can stand without <p> inside it.
    names = ("p", "li", "blockquote") if in_story else ("p", "blockquote")
    elements = container.find_all(names)
    # Each keeps its own text, the strings whose nearest chosen element it is: <li><p>…</p></li>
    # is one paragraph, and so is each of <p>One<p>Two, which html.parser nests (HTML lets a
    # paragraph's end tag be left out). One pass over the strings, however deep the nesting.
    position = {id(element): n for n, element in enumerate(elements)}
    texts: list[list[str]] = [[] for _ in elements]
    for string in container.strings:
        parent = string.parent
        while parent is not None and parent is not container and id(parent) not in position:
            parent = parent.parent
        if parent is not None and id(parent) in position:
            texts[position[id(parent)]].append(string)
    paragraphs = [text for strings in texts if (text := collapse_whitespace("".join(strings)))]
    if not paragraphs:
        # A page without <p> markup: its text lines are the nearest thing to paragraphs.
        lines = container.get_text("\n").split("\n")
        paragraphs = [text for line in lines if (text := collapse_whitespace(line))]
    return paragraphs


def _paragraph_text_length(container: Tag) -> int:
    """How much text the container's paragraphs hold, each string counted once however the
    paragraphs nest."""
    return sum(len(string) for string in container.strings if string.find_parent("p"))


def _story_container(soup: BeautifulSoup) -> tuple[Tag, bool]:
    articles = soup.find_all("article")
    if articles:
        # A page listing several teasers has several <article>s: the story is the longest.
        return max(articles, key=_paragraph_text_length), True
    main = soup.find("main")
    if isinstance(main, Tag):
        return main, True
    body = soup.find("body")
    return (body if isinstance(body, Tag) else soup), False


def _title(head: _Metadata, site_name: str | None, url: str | None) -> str | None:
    title = head.meta("property", "og:title")
    if not title and head.h1 is not None:
        title = collapse_whitespace(head.h1.get_text())
    if not title and head.title is not None:
        title = collapse_whitespace(head.title.get_text())
    return strip_site_suffix(title, site_name, url) if title else None


def strip_site_suffix(title: str, site_name: str | None, url: str | None) -> str:
    """``title`` without a trailing " | Site" / " - Site" when that part is clearly the site:
    the page's declared site name, a match for the URL's host, or a short name after "|"."""
    match = _TITLE_SUFFIX_RE.match(title)
    if not match:
        return title
    headline, suffix = match[1].strip(), match[2].strip()
    if len(headline.split()) < 2:  # "Budget | Analysis of …": the suffix is the story
        return title
    if _is_site_name(suffix, site_name, url) or (
        title[match.end(1) :].lstrip().startswith("|")
        and len(suffix.split()) <= _SITE_NAME_MAX_WORDS
    ):
        return headline
    return title


def _squash(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.casefold())


def _is_site_name(suffix: str, site_name: str | None, url: str | None) -> bool:
    squashed = _squash(suffix)
    if not squashed:
        return False
    if site_name and squashed == _squash(site_name):
        return True
    try:
        host = (urlsplit(url).hostname or "") if url else ""
    except ValueError:  # a malformed URL in the page says nothing about the site
        host = ""
    labels = [label for label in host.removeprefix("www.").split(".") if label]
    if not labels:
        return False
    if squashed in _squash(host):  # "news.com.au" for news.com.au, "BBC" for bbc.co.uk
        return True
    return len(labels[0]) >= 3 and labels[0] in squashed  # "BBC News" for bbc.co.uk


def read_html_article(html: str, doc_id: str, fallback_title: str) -> Article | None:
    """The article in an HTML page; None when the page has no story text."""
    page = read_html(html)
    title = page.title or fallback_title
    paragraphs = finish_paragraphs(page.paragraphs, title)
    if not paragraphs:
        return None
    return Article(doc_id, title, page.url, page.date, paragraphs)
