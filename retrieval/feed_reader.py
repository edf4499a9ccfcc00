"""RSS and Atom feeds (``.xml``, ``.rss``, ``.atom``) → one article per item or entry.

A folder of saved feeds is a common way to keep a news archive. Each item gives its title,
link, publication date and text: the full story when the feed carries it
(``content:encoded``, Atom ``content``), else the summary (``description``, ``summary``).
The text is usually HTML and is read as such. Elements are matched by local name, so RSS
2.0, RSS 1.0 (RDF) and Atom read alike whatever their namespace prefixes.

Python's parser resolves no external entity and refuses entity expansion bombs (expat 2.4+).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from typing import NamedTuple

from retrieval.cleaning import (
    body_paragraphs,
    clean_characters,
    collapse_whitespace,
    finish_paragraphs,
)
from retrieval.documents import Article

ITEM_TAGS = ("item", "entry")
TEXT_TAGS = ("encoded", "content", "description", "summary")  # best first
DATE_TAGS = ("pubDate", "published", "date", "updated")
KEY_TAGS = ("guid", "id")


class _Item(NamedTuple):
    """An item's fields, each from its first element of that kind."""

    title: str
    link: str | None
    date: str | None
    body: str
    key: str | None  # guid / id


def read_feed(rel_path: str, text: str, fallback_title: str) -> tuple[list[Article], list[str]]:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        line, column = error.position
        return [], [f"invalid XML (line {line}, column {column})"]
    items = [element for element in root.iter() if _local(element.tag) in ITEM_TAGS]
    if not items:
        return [], ["no feed items (not an RSS or Atom feed)"]
    fields = [_fields(item) for item in items]
    articles: list[Article] = []
    without_text = 0
    for number, (item, key) in enumerate(zip(fields, _keys(fields), strict=True), 1):
        paragraphs = finish_paragraphs(body_paragraphs(item.body), item.title)
        if not paragraphs:
            without_text += 1
            continue
        doc_id = f"{rel_path}#{key or number}"
        title = item.title or fallback_title
        articles.append(Article(doc_id, title, item.link, item.date, paragraphs))
    if without_text:
        plural = "s" if without_text != 1 else ""
        return articles, [f"{without_text} item{plural} without text skipped"]
    return articles, []


def _local(tag: object) -> str:
    """The tag's name without its namespace ("{http://…}encoded" → "encoded")."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _fields(item: ElementTree.Element) -> _Item:
    children: dict[str, ElementTree.Element] = {}
    links: list[ElementTree.Element] = []
    for child in item:
        name = _local(child.tag)
        children.setdefault(name, child)
        if name == "link":
            links.append(child)
    title = collapse_whitespace(clean_characters(_text(children.get("title"))))
    body = next((t for tag in TEXT_TAGS if (t := _text(children.get(tag))).strip()), "")
    date = next((t.strip() for tag in DATE_TAGS if (t := _text(children.get(tag))).strip()), None)
    key = next((t.strip() for tag in KEY_TAGS if (t := _text(children.get(tag))).strip()), None)
    return _Item(title, _link(links), date, body, key)


def _text(element: ElementTree.Element | None) -> str:
    return "".join(element.itertext()) if element is not None else ""


def _link(links: list[ElementTree.Element]) -> str | None:
    """RSS: the link's text. Atom: the href of the "alternate" link (or of one without rel)."""
    for link in links:
        if (text := _text(link).strip()) and not link.get("href"):
            return text
    for link in links:
        if link.get("href") and link.get("rel", "alternate") == "alternate":
            return link.get("href", "").strip() or None
    return None


def _keys(items: list[_Item]) -> list[str | None]:
    """Each item's key in its doc_id: its guid/id when every item has a distinct one, else
    its link when those are, else None (its position in the feed)."""
    for values in ([item.key for item in items], [item.link for item in items]):
        if all(values) and len(set(values)) == len(values):
            return values
    return [None] * len(items)
