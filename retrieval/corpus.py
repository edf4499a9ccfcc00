"""The corpus folder: which files it holds, their bytes, and the articles in them.

Three steps the indexer keeps apart: ``list_corpus_files`` walks the folder (cheap: stat only,
so unchanged files are recognised without reading them), ``read_file_bytes`` reads one file,
``parse_file`` turns bytes into cleaned articles. Nothing inside the folder makes them raise
anything but ``SkippedFileError``: a bad file is reported and passed over, never fatal.
"""

from __future__ import annotations

import codecs
import errno
import heapq
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from retrieval.cleaning import clean_characters
from retrieval.documents import Article
from retrieval.feed_reader import read_feed
from retrieval.json_reader import JsonlPart, read_json, read_jsonl, read_jsonl_part
from retrieval.text_reader import read_markdown, read_plain_text

# A file is parsed whole, in one worker, up to this size; a JSON Lines file (an archive's
# export, one article per line) is cut into parts for the workers (see jsonl_parts) and may be
# bigger: the indexer holds its bytes and a row per article, about twice its size at the
# most (a 149 MB file: peak RSS 332 MB), which keeps a 512 MB one near the 1.5 GB that a
# million paragraphs may take.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_JSONL_BYTES = 512 * 1024 * 1024
SUPPORTED_SUFFIXES = {".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".xml", ".rss", ".atom"}
FEED_SUFFIXES = {".xml", ".rss", ".atom"}

BINARY_SNIFF_BYTES = 8192
_BINARY_MAX_BAD_SHARE = 0.3  # replacement or control characters in the sniffed start
_BINARY_CONTROL_RE = re.compile(r"[\x01-\x08\x0e-\x1a\x1c-\x1f\ufffd]")
_BOMS = [  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]
_ESCAPED_BYTE_RE = re.compile(r"[\udc80-\udcff]")


class CorpusNotFound(Exception):
    """The corpus folder is missing, not a folder, or cannot be listed at all."""


class SkippedFileError(Exception):
    """A listed file cannot be read now; the message is the reason, one short line."""


@dataclass(frozen=True, slots=True)
class CorpusFile:
    path: Path  # absolute
    rel_path: str  # posix path relative to the corpus root; the key in the store
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True, order=True)
class SkippedFile:
    rel_path: str  # a folder that cannot be listed ends with "/"
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedFile:
    articles: list[Article]
    warnings: list[str]


# --- listing --------------------------------------------------------------------------------

DirKey = tuple[int, int]  # (st_dev, st_ino): the folder itself, whatever path leads to it


def size_limit(
    rel_path: str, max_bytes: int = MAX_FILE_BYTES, max_jsonl_bytes: int = MAX_JSONL_BYTES
) -> int:
    """The size over which a file is skipped as too large."""
    return max_jsonl_bytes if rel_path.lower().endswith(".jsonl") else max_bytes


def list_corpus_files(
    root: Path, max_bytes: int = MAX_FILE_BYTES, max_jsonl_bytes: int = MAX_JSONL_BYTES
) -> tuple[list[CorpusFile], list[SkippedFile]]:
    """Supported files under ``root`` and the entries passed over, both sorted by rel_path.

    Hidden files and folders (".git", ".newsbite") are ignored without a note. Symlinks are
    followed; a linked folder is walked after the real tree and only if it was not walked
    already, so a link to an ancestor (a loop) or to a folder seen elsewhere is reported once
    instead of being walked forever.
    """
    root = Path(os.path.abspath(root))
    try:
        root_stat = root.stat()
        if not stat.S_ISDIR(root_stat.st_mode):
            raise CorpusNotFound(f"the corpus is not a folder: {root}")
        with os.scandir(root):
            pass
    except FileNotFoundError as error:
        raise CorpusNotFound(f"no corpus folder at {root}") from error
    except OSError as error:
        reason = _os_reason(error)
        raise CorpusNotFound(f"cannot open the corpus folder {root}: {reason}") from error
    walk = _Walk(root, max_bytes, max_jsonl_bytes)
    walk.run(_dir_key(root_stat))
    return sorted(walk.files, key=lambda f: f.rel_path), sorted(walk.skipped)


def _dir_key(st: os.stat_result) -> DirKey:
    return st.st_dev, st.st_ino


class _Walk:
    def __init__(self, root: Path, max_bytes: int, max_jsonl_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.max_jsonl_bytes = max_jsonl_bytes
        self.files: list[CorpusFile] = []
        self.skipped: list[SkippedFile] = []
        self.visited: dict[DirKey, str] = {}
        # Linked folders wait until the real tree is walked: (rel_path, path, ancestors, key).
        self.linked: list[tuple[str, Path, tuple[DirKey, ...], DirKey]] = []

    def run(self, root_key: DirKey) -> None:
        self.visited[root_key] = ""
        stack: list[tuple[Path, str, tuple[DirKey, ...]]] = [(self.root, "", (root_key,))]
        while stack or self.linked:
            if stack:
                self._scan(*stack.pop(), stack)
                continue
            rel, path, ancestors, key = heapq.heappop(self.linked)
            if key in ancestors:
                self.skipped.append(SkippedFile(rel, "symlink loop"))
            elif key in self.visited:
                self.skipped.append(SkippedFile(rel, f"same folder as {self.visited[key]}/"))
            else:
                self.visited[key] = rel
                stack.append((path, rel, (*ancestors, key)))

    def _scan(
        self,
        folder: Path,
        rel_folder: str,
        ancestors: tuple[DirKey, ...],
        stack: list[tuple[Path, str, tuple[DirKey, ...]]],
    ) -> None:
        try:
            with os.scandir(folder) as scan:
                entries = sorted(scan, key=lambda e: e.name)
        except OSError as error:
            self.skipped.append(SkippedFile(f"{rel_folder}/", _os_reason(error)))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
            try:
                st = entry.stat()  # follows symlinks
            except OSError as error:
                self.skipped.append(SkippedFile(rel, _stat_failure(entry, error)))
                continue
            path = folder / entry.name
            if stat.S_ISDIR(st.st_mode):
                key = _dir_key(st)
                if entry.is_symlink():
                    heapq.heappush(self.linked, (rel, path, ancestors, key))
                elif key in self.visited:  # a bind mount can show a folder twice, too
                    self.skipped.append(SkippedFile(rel, f"same folder as {self.visited[key]}/"))
                else:
                    self.visited[key] = rel
                    stack.append((path, rel, (*ancestors, key)))
            elif stat.S_ISREG(st.st_mode):
                self._add_file(path, rel, st)
            else:
                self.skipped.append(SkippedFile(rel, "not a regular file"))

    def _add_file(self, path: Path, rel: str, st: os.stat_result) -> None:
        suffix = PurePosixPath(rel).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            reason = f"unsupported type {suffix}" if suffix else "unsupported type (no suffix)"
            self.skipped.append(SkippedFile(rel, reason))
        elif st.st_size > (limit := size_limit(rel, self.max_bytes, self.max_jsonl_bytes)):
            self.skipped.append(SkippedFile(rel, _too_large(st.st_size, limit)))
        elif st.st_size == 0:
            self.skipped.append(SkippedFile(rel, "empty"))
        else:
            self.files.append(CorpusFile(path, rel, st.st_size, st.st_mtime_ns))


def _stat_failure(entry: os.DirEntry, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "symlink loop"
    if isinstance(error, FileNotFoundError):
        return "broken symlink" if entry.is_symlink() else "vanished while reading"
    return _os_reason(error)


def _os_reason(error: OSError) -> str:
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, FileNotFoundError):
        return "vanished while reading"
    if error.errno == errno.ELOOP:
        return "symlink loop"
    return f"unreadable ({error.strerror or error})"


def _too_large(size: int, max_bytes: int) -> str:
    return f"too large ({_human_size(size)} > {_human_size(max_bytes)})"


def _human_size(n: int) -> str:
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value.is_integer() else f"{value:.1f} {unit}"
    return f"{n} bytes"


# --- reading --------------------------------------------------------------------------------


def read_file_bytes(
    file: CorpusFile, max_bytes: int = MAX_FILE_BYTES, max_jsonl_bytes: int = MAX_JSONL_BYTES
) -> bytes:
    """The file's bytes; SkippedFileError(reason) if it cannot be read now."""
    max_bytes = size_limit(file.rel_path, max_bytes, max_jsonl_bytes)
    try:
        # O_NONBLOCK: a FIFO put where a file was listed must not hang the indexer on open.
        fd = os.open(file.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise SkippedFileError("not a regular file")
            if st.st_size > max_bytes:
                raise SkippedFileError(_too_large(st.st_size, max_bytes))
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise SkippedFileError(_os_reason(error)) from error
    if len(data) > max_bytes:  # grew between fstat and read
        raise SkippedFileError(_too_large(len(data), max_bytes))
    return data


# --- parsing --------------------------------------------------------------------------------


def parse_file(rel_path: str, data: bytes) -> ParsedFile:
    """The articles in a file's bytes, with warnings; never raises.

    A file without articles comes back with ``articles=[]`` and a warning saying why.
    """
    try:
        return _parse(rel_path, data)
    except Exception as error:
        # Last line of defence: the readers handle every case we know of, but one odd file
        # must not stop an index run of thousands.
        return ParsedFile([], [f"could not parse ({type(error).__name__}: {error})"])


def _parse(rel_path: str, data: bytes) -> ParsedFile:
    suffix = PurePosixPath(rel_path).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        return ParsedFile([], [f"unsupported type {suffix or '(no suffix)'}"])
    if not data or data.isspace():  # (strip() would copy the whole file to see it)
        return ParsedFile([], ["empty"])
    if looks_binary(data):
        return ParsedFile([], ["binary file"])
    if len(data) > MAX_FILE_BYTES:  # a JSON Lines file that could not be cut into parts
        limit = _human_size(MAX_FILE_BYTES)
        return ParsedFile([], [f"too large to read whole (over {limit}) and not UTF-8 text"])
    text, warnings = decode_text(data)
    if not text.strip():
        return ParsedFile([], [*warnings, "empty"])
    fallback_title = PurePosixPath(rel_path).stem or "Untitled"
    articles: list[Article] = []
    if suffix in (".json", ".jsonl"):
        # JSON strings are cleaned field by field, after parsing: a control character can
        # arrive as an escape ("\\u0007") that the raw text does not show.
        reader = read_json if suffix == ".json" else read_jsonl
        articles, record_warnings = reader(rel_path, text, fallback_title)
        warnings.extend(record_warnings)
    elif suffix in FEED_SUFFIXES:
        articles, feed_warnings = read_feed(rel_path, text, fallback_title)
        warnings.extend(feed_warnings)
    else:
        read = {".txt": read_plain_text, ".md": read_markdown}.get(suffix) or _read_html
        article = read(clean_characters(text), rel_path, fallback_title)
        if article is None:
            warnings.append("no paragraphs")
        else:
            articles.append(article)
    return ParsedFile(articles, warnings)


def jsonl_parts(rel_path: str, data: bytes, part_bytes: int) -> list[tuple[int, int, int]] | None:
    """A JSON Lines file cut at line ends into parts of about ``part_bytes``, as (start, end,
    number of the first line), for ``parse_jsonl_part``; None when the file is to be parsed
    whole: too small to cut, or not plainly UTF-8 text (other encodings, bad bytes and binary
    data have file-wide handling and warnings in ``parse_file``)."""
    if (
        PurePosixPath(rel_path).suffix.lower() != ".jsonl"
        or len(data) <= part_bytes
        or data.isspace()
        or any(data.startswith(bom) for bom, _ in _BOMS)
        or looks_binary(data)
    ):
        return None
    parts: list[tuple[int, int, int]] = []
    start, line = 0, 1
    while start < len(data):
        end = data.find(b"\n", start + part_bytes)
        end = len(data) if end < 0 else end + 1
        parts.append((start, end, line))
        line += data.count(b"\n", start, end)
        start = end
    if not data.isascii() and not all(_is_utf8(data[start:end]) for start, end, _ in parts):
        return None  # checked part by part: a line end is never inside a UTF-8 sequence
    return parts


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def parse_jsonl_part(
    rel_path: str, data: bytes, first_line: int
) -> tuple[list[Article], JsonlPart]:
    """The articles of one part of a JSON Lines file (see ``jsonl_parts``), doc_id still empty
    (json_reader.jsonl_doc_ids gives it); never raises."""
    text = data.decode("utf-8")
    if first_line == 1 and text.startswith("\ufeff"):
        text = text[1:]
    try:
        return read_jsonl_part(text, first_line, PurePosixPath(rel_path).stem or "Untitled")
    except Exception as error:
        # As in parse_file: the part's records are lost, not the run. They keep their numbers.
        lines = text.split("\n")
        last_line = first_line + len(lines) - (2 if text.endswith("\n") else 1)
        reason = f"could not parse ({type(error).__name__}: {error})"
        part = JsonlPart(first_line, records=sum(1 for line in lines if line.strip()))
        part.error = f"lines {first_line}-{last_line}: {reason}"
        return [], part


def _read_html(text: str, rel_path: str, fallback_title: str) -> Article | None:
    # Imported on first use: BeautifulSoup costs a tenth of a second that a corpus without
    # HTML (and every `newsbite ask`) need not pay.
    from retrieval.html_reader import read_html_article

    return read_html_article(text, rel_path, fallback_title)


def looks_binary(data: bytes) -> bool:
    """NUL bytes, or mostly undecodable bytes and control characters, in the first 8 KiB.
    Text with a UTF-16/32 byte order mark is text even though it is full of NULs."""
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return False
    sample = data[:BINARY_SNIFF_BYTES]
    if b"\x00" in sample:
        return True
    text = sample.decode("utf-8", errors="replace")
    if "\ufffd" not in text and text.replace("\n", "").replace("\t", "").isprintable():
        return False  # the common case, decided in C
    bad = len(_BINARY_CONTROL_RE.findall(text))
    return bad > _BINARY_MAX_BAD_SHARE * len(text)


def decode_text(data: bytes) -> tuple[str, list[str]]:
    """(text, warnings). UTF-8 with its BOM stripped; UTF-16/32 by BOM. Bytes that are not
    UTF-8 are read as Windows-1252, the usual culprit (BBC ``sport/199.txt`` has a lone
    0xA3, "£"), so the text stays readable rather than full of U+FFFD."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec), []
            except UnicodeDecodeError:
                text = data[len(bom) :].decode(codec, errors="replace")
                return text, [f"invalid {codec[:6].upper()} bytes replaced"]
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="surrogateescape")
    bad = len(_ESCAPED_BYTE_RE.findall(text))
    text = _ESCAPED_BYTE_RE.sub(_windows_1252, text)
    noun = "byte" if bad == 1 else "bytes"
    return text, [f"invalid UTF-8 bytes replaced ({bad} {noun} read as Windows-1252)"]


def _windows_1252(match: re.Match[str]) -> str:
    byte = bytes([ord(match.group()) - 0xDC00])
    return byte.decode("cp1252", errors="replace")  # five codes are unassigned: U+FFFD


def read_articles(root: Path) -> Iterator[Article]:
    """Every article under ``root``; files that cannot be read or parsed are passed over."""
    files, _ = list_corpus_files(root)
    for file in files:
        try:
            data = read_file_bytes(file)
        except SkippedFileError:
            continue
        yield from parse_file(file.rel_path, data).articles
