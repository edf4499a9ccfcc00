"""JSON and JSON Lines files → one article per record.

A ``.json`` file holds a list of records, one record, or an object with the list under
"articles", "data" or "items"; a ``.jsonl`` file holds one record per line, and a bad line costs
only that record. Field names vary between exporters, so each field is looked up under the
common spellings. A record's key in ``doc_id`` is its own id when every record has a distinct
one (ids survive reordering), else its 1-based position in the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from retrieval.cleaning import (
    body_paragraphs,
    clean_characters,
    collapse_whitespace,
    finish_paragraphs,
)
from retrieval.documents import Article

TITLE_FIELDS = ("title", "headline", "name")
TEXT_FIELDS = ("text", "body", "content", "article", "story")
URL_FIELDS = ("url", "link", "source_url", "canonical_url")
DATE_FIELDS = ("date", "published", "published_at", "pubdate", "time")
KEY_FIELDS = ("id", "_id", "newid")
LIST_FIELDS = ("articles", "data", "items")
MAX_LINE_WARNINGS = 5  # a file of garbage should not produce a warning per line

# Not strict: exporters leave raw tabs and newlines inside strings. One shared decoder, since
# json.loads with options builds a new one per call (per line of a JSON Lines file).
_DECODER = json.JSONDecoder(strict=False)

Records = list[tuple[int, Any]]  # (1-based record number, parsed value)


def read_json(rel_path: str, text: str, fallback_title: str) -> tuple[list[Article], list[str]]:
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as error:
        if error.msg == "Extra data":
            # Several values one after another: JSON Lines saved under the wrong suffix.
            articles, warnings = read_jsonl(rel_path, text, fallback_title)
            if articles:
                return articles, ["several JSON values: read as JSON Lines", *warnings]
        return [], [f"invalid JSON (line {error.lineno}, column {error.colno})"]
    except RecursionError:
        return [], ["invalid JSON (nested too deeply)"]
    if isinstance(value, dict):
        listed = next((value[f] for f in LIST_FIELDS if isinstance(value.get(f), list)), None)
        if listed is None:
            return _articles(rel_path, [(1, value)], fallback_title, single=True)
        value = listed
    if not isinstance(value, list):
        return [], [f"no articles: the JSON holds a {type(value).__name__}"]
    return _articles(rel_path, list(enumerate(value, 1)), fallback_title, single=False)


def read_jsonl(rel_path: str, text: str, fallback_title: str) -> tuple[list[Article], list[str]]:
    articles, part = read_jsonl_part(text, 1, fallback_title)
    doc_ids, warnings = jsonl_doc_ids(rel_path, [part])
    keyed = [
        Article(doc_id, a.title, a.url, a.date, a.paragraphs)
        for doc_id, a in zip(doc_ids[0], articles, strict=True)
    ]
    return keyed, warnings


@dataclass
class JsonlPart:
    """What a run of lines of a JSON Lines file holds besides its articles: what the file-wide
    choices (each record's key in ``doc_id``) and warnings need. A big file is read in parts,
    each by a worker process; ``jsonl_doc_ids`` then looks at all of them."""

    first_line: int
    records: int = 0  # non-blank lines
    article_records: list[int] = field(default_factory=list)  # per article: record in part
    bad_lines: list[int] = field(default_factory=list)  # line numbers in the file
    not_objects: int = 0
    without_text: int = 0
    # KEY_FIELDS that every object record of the part has as a scalar: their keys, one per
    # object record, and one per article.
    keys: dict[str, list[str]] = field(default_factory=dict)
    article_keys: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None  # the warning for a part that could not be read at all


def read_jsonl_part(
    text: str, first_line: int, fallback_title: str
) -> tuple[list[Article], JsonlPart]:
    """The articles of the lines in ``text`` (the first of them line ``first_line`` of the
    file), with doc_id left empty: ``jsonl_doc_ids`` gives it once every part is read."""
    part = JsonlPart(first_line)
    objects: list[dict] = []
    for line_number, line in enumerate(text.split("\n"), first_line):
        if not line.strip():
            continue
        part.records += 1  # bad lines keep their number, so later records keep their keys
        try:
            value = _DECODER.decode(line)
        except (json.JSONDecodeError, RecursionError):
            part.bad_lines.append(line_number)
            continue
        if isinstance(value, dict):
            objects.append(value)
            part.article_records.append(part.records)
        else:
            part.not_objects += 1
    articles: list[Article] = []
    with_text: list[int] = []
    for index, record in enumerate(objects):
        article = _article(record, "", fallback_title)
        if article is None:
            part.without_text += 1
        else:
            articles.append(article)
            with_text.append(index)
    part.article_records = [part.article_records[index] for index in with_text]
    part.keys = _record_keys(objects)
    part.article_keys = {
        key_field: [keys[index] for index in with_text] for key_field, keys in part.keys.items()
    }
    return articles, part


def jsonl_doc_ids(rel_path: str, parts: list[JsonlPart]) -> tuple[list[list[str]], list[str]]:
    """The doc_id of every article of every part, and the file's warnings: as if the file had
    been read in one part."""
    key_field = _key_field([part.keys for part in parts])
    doc_ids: list[list[str]] = []
    records_before = 0
    for part in parts:
        if key_field:
            doc_ids.append([f"{rel_path}#{key}" for key in part.article_keys[key_field]])
        else:
            doc_ids.append([f"{rel_path}#{records_before + n}" for n in part.article_records])
        records_before += part.records
    bad_lines = [line for part in parts for line in part.bad_lines]
    warnings = [part.error for part in parts if part.error]
    warnings += [f"line {n}: invalid JSON" for n in bad_lines[:MAX_LINE_WARNINGS]]
    if len(bad_lines) > MAX_LINE_WARNINGS:
        warnings.append(f"{len(bad_lines) - MAX_LINE_WARNINGS} more lines of invalid JSON")
    not_objects = sum(part.not_objects for part in parts)
    without_text = sum(part.without_text for part in parts)
    if not_objects:
        warnings.append(_count(not_objects, "record") + " not objects, skipped")
    if without_text:
        warnings.append(_count(without_text, "record") + " without text skipped")
    if not sum(part.records - len(part.bad_lines) for part in parts):
        warnings.append("no records")
    return doc_ids, warnings


def _record_keys(records: list[dict]) -> dict[str, list[str]]:
    """Each record's key, for the KEY_FIELDS that every one of ``records`` has as a scalar."""
    keys: dict[str, list[str]] = {}
    for key_field in KEY_FIELDS:
        values = [_scalar(record.get(key_field)) for record in records]
        if all(values):
            keys[key_field] = values  # type: ignore[assignment]
    return keys


def _key_field(keys_of_parts: list[dict[str, list[str]]]) -> str | None:
    """The first id field that every record of every part has, as a distinct string or number
    (``_record_keys`` of each part); None if none does, or there are no records."""
    for key_field in KEY_FIELDS:
        if all(key_field in keys for keys in keys_of_parts):
            values = [value for keys in keys_of_parts for value in keys[key_field]]
            if values and len(set(values)) == len(values):
                return key_field
    return None


def _articles(
    rel_path: str, records: Records, fallback_title: str, single: bool
) -> tuple[list[Article], list[str]]:
    objects = [(number, value) for number, value in records if isinstance(value, dict)]
    keys = _record_keys([value for _, value in objects])
    key_field = _key_field([keys])
    articles: list[Article] = []
    without_text = 0
    for index, (number, record) in enumerate(objects):
        if single:
            doc_id = rel_path
        else:
            key = keys[key_field][index] if key_field else str(number)
            doc_id = f"{rel_path}#{key}"
        article = _article(record, doc_id, fallback_title)
        if article is None:
            without_text += 1
        else:
            articles.append(article)
    warnings = []
    if len(records) > len(objects):
        warnings.append(_count(len(records) - len(objects), "record") + " not objects, skipped")
    if without_text:
        warnings.append(_count(without_text, "record") + " without text skipped")
    if not records:
        warnings.append("no records")
    return articles, warnings


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        text = clean_characters(str(value)).strip()
        return text or None
    return None


def _article(record: dict, doc_id: str, fallback_title: str) -> Article | None:
    title_text = _first_text(record, TITLE_FIELDS)
    title = collapse_whitespace(title_text) if title_text else ""
    body = next((record[f] for f in TEXT_FIELDS if record.get(f)), None)
    paragraphs = finish_paragraphs(_body_paragraphs(body), title)
    if not paragraphs:
        return None
    return Article(
        doc_id=doc_id,
        title=title or fallback_title,
        url=_first_scalar(record, URL_FIELDS),
        date=_first_scalar(record, DATE_FIELDS),
        paragraphs=paragraphs,
    )


def _body_paragraphs(body: Any) -> list[str]:
    if isinstance(body, list):  # some exporters store the paragraphs as a list
        return [p for item in body if not isinstance(item, list) for p in _body_paragraphs(item)]
    text = _as_text(body)
    return body_paragraphs(text) if text else []


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):  # e.g. WordPress: {"rendered": "<p>…</p>"}
        inner = next((value[k] for k in ("rendered", "text", "value") if k in value), None)
        return inner if isinstance(inner, str) else None
    return None


def _first_text(record: dict, fields: tuple[str, ...]) -> str | None:
    for name in fields:
        text = _as_text(record.get(name))
        if text and text.strip():
            return clean_characters(text)
    return None


def _first_scalar(record: dict, fields: tuple[str, ...]) -> str | None:
    for name in fields:
        raw = record.get(name)
        if raw is not None and (value := _scalar(raw)):
            return value
    return None
