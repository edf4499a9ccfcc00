"""Terminal output of the command line: answers for people, and a progress bar."""

from __future__ import annotations

import shutil
import sys
import textwrap
import time

from retrieval.answers import LOW_CONFIDENCE, Answer, AnswerResult

MIN_SHOWN = 0.2  # confidence a further answer needs to be printed
NO_ANSWER_TEXT = "The articles don't answer this question."
LOW_CONFIDENCE_TEXT = "Not sure this answers it. The closest found:"
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"


def _style(text: str, code: str, color: bool) -> str:
    return f"{code}{text}{_RESET}" if color else text


def citation(answer: Answer) -> str:
    where = f"{answer.title}, paragraph {answer.paragraph}"
    return f"{where} <{answer.url}>" if answer.url else f"{where} ({answer.doc_id})"


def highlighted_sentence(answer: Answer, color: bool) -> str:
    if answer.answer is None or answer.answer_start is None or answer.answer_end is None:
        return answer.sentence
    before = answer.sentence[: answer.answer_start]
    after = answer.sentence[answer.answer_end :]
    marked = _style(answer.answer, _BOLD, color) if color else f"[{answer.answer}]"
    return before + marked + after


def render_result(result: AnswerResult, *, color: bool = False) -> str:
    width = min(shutil.get_terminal_size((100, 20)).columns, 100)
    lines = [_style(f"Q: {result.question}", _DIM, color)]
    if result.no_answer:
        lines.append(NO_ANSWER_TEXT)
        if result.answers:
            lines.append("Closest passages:")
            for answer in result.answers:
                lines.append(f"  - “{answer.sentence}” — {citation(answer)}")
        return "\n".join(lines) + "\n"
    # Further answers only when they are credible: a 0.00 runner-up is noise to a reader
    # (``--json`` still lists every answer).
    shown = [a for i, a in enumerate(result.answers) if i == 0 or a.confidence >= MIN_SHOWN]
    if shown and shown[0].confidence < LOW_CONFIDENCE:
        lines.append(LOW_CONFIDENCE_TEXT)
    for number, answer in enumerate(shown, 1):
        head = answer.answer if answer.answer else answer.sentence
        prefix = "A:" if number == 1 else f"{number}."
        lines.append(f"{prefix} {_style(head, _BOLD, color)}  (confidence {answer.confidence:.2f})")
        quoted = textwrap.fill(
            "“" + highlighted_sentence(answer, color) + "”",
            width=width,
            initial_indent="   ",
            subsequent_indent="   ",
        )
        lines.append(quoted)
        lines.append(f"   — {citation(answer)}")
    return "\n".join(lines) + "\n"


BYTE_STAGES = frozenset({"indexing"})  # stages that count bytes (retrieval.indexer.Progress)


def _count(stage: str, done: int, total: int) -> str:
    if stage in BYTE_STAGES:
        return f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
    return f"{done}/{total}"


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self) -> None:
        self._last = 0.0
        self._stage = ""
        self._drawn = False

    def update(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self._stage:
            if self._drawn:
                sys.stderr.write("\n")
            self._stage = stage
        elif done < total and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        filled = width * done // max(total, 1)
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r{stage:<18} [{bar}] {_count(stage, done, total)}")
        sys.stderr.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
