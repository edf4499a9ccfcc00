"""Fixtures shared across test files: the bundled article and small corpora written per test."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.engine import QAEngine

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"

EARTHQUAKE = """Earthquake shakes coastal city

A magnitude 6.1 earthquake struck the coastal city of Port Avalon on Tuesday, officials said.

The quake killed 12 people and injured more than 200, according to the regional health ministry.

Mayor Helena Duarte said rescue teams had worked through the night to reach collapsed buildings.

Original URL: https://example.com/quake
"""

FESTIVAL = """Film festival opens with record crowds

The Northbridge Film Festival opened on Friday with a record 45,000 visitors, organisers said.

The festival, now in its 30th year, runs for ten days and shows 180 films from 41 countries.
"""


@pytest.fixture
def seeds_corpus(tmp_path: Path) -> Path:
    """A writable copy of the bundled corpus."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    return corpus


@pytest.fixture
def engine(seeds_corpus: Path, tmp_path: Path) -> Iterator[QAEngine]:
    """An engine over a copy of the bundled corpus, indexed in this test's folder."""
    engine = QAEngine.open(seeds_corpus, tmp_path / "index.db")
    yield engine
    engine.close()


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "news"
    corpus.mkdir()
    (corpus / "quake.txt").write_text(EARTHQUAKE, encoding="utf-8")
    (corpus / "festival.md").write_text(FESTIVAL, encoding="utf-8")
    return corpus


@pytest.fixture
def restore_logging():
    """The root logger's handlers and level put back after a test that configures logging
    (``newsbite serve`` does, in-process)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
