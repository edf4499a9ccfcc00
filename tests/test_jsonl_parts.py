"""A big JSON Lines file is read in parts, each by a worker (corpus.jsonl_parts): the parts
together give exactly what reading the file whole gives, articles, doc_ids and warnings."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest

import retrieval.corpus as corpus_module
import retrieval.indexer as indexer
from retrieval.corpus import SkippedFile, jsonl_parts, parse_file, parse_jsonl_part
from retrieval.documents import Article
from retrieval.indexer import refresh
from retrieval.json_reader import jsonl_doc_ids
from retrieval.store import Store

LINES = [
    "",
    json.dumps({"id": "a", "title": "Ferry", "body": "The ferry ran late.\n\nIt was foggy."}),
    "not json",
    "[1, 2]",
    json.dumps({"id": "b", "title": "Untold"}),
    "   ",
    json.dumps({"id": "c", "headline": "Bridge", "text": "The bridge <b>reopened</b>.</p>"}),
    '{"id": "d", "title": "Café", "body": "Le café a rouvert.\\u0007"}',
    "{broken",
    json.dumps({"id": "e", "title": "Harbour", "body": "Ships returned."}),
]


def read_in_parts(rel_path: str, data: bytes, part_bytes: int) -> tuple[list[Article], list[str]]:
    parts = jsonl_parts(rel_path, data, part_bytes)
    assert parts is not None
    read = [parse_jsonl_part(rel_path, data[start:end], line) for start, end, line in parts]
    doc_ids, warnings = jsonl_doc_ids(rel_path, [part for _, part in read])
    articles = [
        Article(doc_id, a.title, a.url, a.date, a.paragraphs)
        for (part_articles, _), part_ids in zip(read, doc_ids, strict=True)
        for doc_id, a in zip(part_ids, part_articles, strict=True)
    ]
    return articles, warnings


@pytest.mark.parametrize("repeated_id", [False, True])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_parts_of_every_size_read_as_the_whole_file(repeated_id, bom, newline):
    lines = [*LINES, json.dumps({"id": "a" if repeated_id else "f", "body": "Again."})]
    data = bom + newline.join(lines).encode()
    whole = parse_file("feed.jsonl", data)
    assert len(whole.articles) == 5 and len(whole.warnings) == 4
    for part_bytes in range(1, len(data)):
        assert read_in_parts("feed.jsonl", data, part_bytes) == (whole.articles, whole.warnings)


def test_parts_end_at_line_ends_and_cover_the_file():
    data = "\n".join(LINES).encode()
    parts = jsonl_parts("feed.jsonl", data, 100)
    assert parts is not None and len(parts) > 2
    assert parts[0][0] == 0 and parts[-1][1] == len(data)
    for (_, end, _), (start, _, line) in pairwise(parts):
        assert start == end and data[end - 1 : end] == b"\n"
        assert line == 1 + data[:start].count(b"\n")


@pytest.mark.parametrize(
    "name, data",
    [
        ("small.jsonl", b'{"title": "t", "body": "b"}\n'),  # fits in one part
        ("feed.json", b"[" + b'{"body": "b"},' * 50 + b'{"body": "b"}]'),  # not JSON Lines
        ("latin1.jsonl", '{"body": "café"}\n'.encode("latin-1") * 20),  # not UTF-8
        ("utf16.jsonl", '{"body": "text"}\n'.encode("utf-16") * 20),
        ("binary.jsonl", b"\x00\x01" * 200),
    ],
)
def test_files_with_file_wide_handling_are_read_whole(name, data):
    assert jsonl_parts(name, data, 64) is None


def test_a_part_that_cannot_be_read_loses_its_records_not_their_numbers(monkeypatch):
    real = corpus_module.read_jsonl_part

    def fail_on_line_3(text, first_line, fallback_title):
        if first_line == 3:
            raise ValueError("simulated")
        return real(text, first_line, fallback_title)

    monkeypatch.setattr(corpus_module, "read_jsonl_part", fail_on_line_3)
    data = b"\n".join(json.dumps({"body": f"Note {n}."}).encode() for n in range(1, 7))
    articles, warnings = read_in_parts("notes.jsonl", data, 30)  # two lines a part
    assert [a.doc_id for a in articles] == [f"notes.jsonl#{n}" for n in (1, 2, 5, 6)]
    assert warnings == ["lines 3-4: could not parse (ValueError: simulated)"]


def test_a_json_lines_file_too_big_to_read_whole_is_indexed_in_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_module, "MAX_FILE_BYTES", 1000)  # read whole up to 1,000 bytes
    monkeypatch.setattr(indexer, "BATCH_BYTES", 400)
    records = [{"id": n, "title": f"Note {n}", "body": f"Café note {n}."} for n in range(40)]
    lines = [json.dumps(record, ensure_ascii=False) for record in records]
    (tmp_path / "archive.jsonl").write_text("\n".join(lines), encoding="utf-8")
    (tmp_path / "latin1.jsonl").write_bytes("\n".join(lines).encode("latin-1"))
    summary = refresh(Store.in_memory(), tmp_path)
    assert (summary.added, summary.articles) == (1, 40)
    assert summary.skipped == [
        SkippedFile("latin1.jsonl", "too large to read whole (over 1000 bytes) and not UTF-8 text")
    ]
