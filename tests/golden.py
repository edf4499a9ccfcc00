"""Recorded outputs ("golden" fixtures) of code that was made faster and must not change.

Each line of a fixture is a JSON object with the input's text, or ``"seed_article": true`` for
the whole bundled article, or ``"seed_paragraph": N`` for its N-th paragraph, and the outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_75b43c9b3084b6a9.txt"


def golden_cases(fixture: Path) -> list[tuple[str, dict]]:
    """(input text, the fixture's entry for it) for every line of ``fixture``."""
    seed = SEED.read_text(encoding="utf-8")
    paragraphs = seed.split("\n\n")
    cases = []
    for line in fixture.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if "seed_article" in entry:
            text = seed
        elif "seed_paragraph" in entry:
            text = paragraphs[entry["seed_paragraph"]]
        else:
            text = entry["text"]
        cases.append((text, entry))
    return cases
