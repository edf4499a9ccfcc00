"""What the engine returns for a question: ranked answers with their citations."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

# Under this confidence an answer is shown as a guess (the bot and the command line say they
# are not sure): calibrated on SQuAD, fewer than one such answer in four holds the answer
# (docs/evaluation.md), and on a big archive most answers to questions it does not cover land
# here.
LOW_CONFIDENCE = 0.3


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer: a short answer span inside a sentence inside a cited passage.

    Guarantees: ``sentence == passage[sentence_start:sentence_start + len(sentence)]`` and, when
    ``answer`` is not None, ``answer == sentence[answer_start:answer_end]``. The bot highlights
    by these offsets.
    """

    answer: str | None
    answer_start: int | None  # offsets of ``answer`` within ``sentence``
    answer_end: int | None
    sentence: str
    sentence_start: int  # offset of ``sentence`` within ``passage``
    passage: str
    title: str
    url: str | None
    doc_id: str
    paragraph: int  # 1-based paragraph of the article that holds ``sentence``
    score: float  # retrieval score of the passage (BM25, or the re-ranked score)
    confidence: float  # in [0, 1]
    chunk_id: int = -1

    def __reduce__(self) -> tuple:
        # Answers come back from worker processes: the fields as they are pickle several times
        # faster than a frozen dataclass's default state.
        return Answer, tuple(getattr(self, name) for name in _ANSWER_FIELDS)

    def to_json(self) -> dict:
        return {
            "answer": self.answer,
            "sentence": self.sentence,
            "passage": self.passage,
            "title": self.title,
            "url": self.url,
            "doc_id": self.doc_id,
            "paragraph": self.paragraph,
            "score": round(float(self.score), 6),
            "confidence": round(float(self.confidence), 6),
        }


_ANSWER_FIELDS = tuple(f.name for f in fields(Answer))


@dataclass(frozen=True, slots=True)
class AnswerResult:
    question: str
    no_answer: bool
    answers: list[Answer] = field(default_factory=list)

    def __reduce__(self) -> tuple:
        return AnswerResult, (self.question, self.no_answer, self.answers)

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "no_answer": self.no_answer,
            "answers": [answer.to_json() for answer in self.answers],
        }

    @property
    def best(self) -> Answer | None:
        return self.answers[0] if self.answers and not self.no_answer else None
