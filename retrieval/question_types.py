"""What kind of answer a question asks for, from its wh-word and the noun after it.

"Who met Tillerson?" wants a person or organisation, "How many people died?" a number with its
noun, "How long has the war lasted?" a duration, "Which team won?" the noun phrase that names a
team. The type steers the short-answer span (retrieval/spans.py) and is a feature of the learned
scorers; the head noun ("team", "year", "city") is a feature too, and refines the type: "what
year" is a date question, "what city" a place question.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from retrieval.stopwords import STOPWORDS
from retrieval.tokenizer import stem, tokenize, words


class QuestionType(StrEnum):
    PERSON = "person"  # who / whom / whose: a person or organisation name
    DATE = "date"  # when / what year / what day: a date or time expression
    NUMBER = "number"  # how many / how much / what percentage: a number with its unit
    PLACE = "place"  # where / what city: a place
    DURATION = "duration"  # how long: a duration
    ENTITY = "entity"  # what / which + noun: a noun phrase naming one
    DESCRIPTION = "description"  # what is / what did ... without a noun: a phrase
    REASON = "reason"  # why / how (manner): a clause
    OTHER = "other"  # no wh-word found


QUESTION_TYPES: tuple[QuestionType, ...] = tuple(QuestionType)

_WH_WORDS = ("what", "which", "who", "whom", "whose", "when", "where", "why", "how")
_WH_RE = re.compile(r"\b(" + "|".join(_WH_WORDS) + r")\b")

_DATE_NOUNS = frozenset(
    "year years date day days month months century centuries decade decades time era period "
    "season week weeks".split()
)
_PLACE_NOUNS = frozenset(
    "city cities country countries state states place places location locations region "
    "regions continent town towns village area areas county province island islands nation "
    "river borough neighborhood neighbourhood district street venue stadium capital site".split()
)
_PERSON_NOUNS = frozenset(
    "person people man woman men women player players president king queen leader emperor "
    "author writer scientist actor coach quarterback individual son daughter father mother "
    "wife husband brother sister founder governor minister general chancellor".split()
)
_NUMBER_NOUNS = frozenset(
    "percentage percent proportion number amount population fraction ratio share rate "
    "cost price total sum size age".split()
)
# "How big", "how old", "how far": quantities, answered by a number with its unit.
_HOW_QUANTITY = frozenset(
    "many much big large old far high tall deep wide heavy fast often long".split()
)


@dataclass(frozen=True, slots=True)
class QuestionAnalysis:
    question: str
    qtype: QuestionType
    wh_word: str  # "" when the question has none
    head_noun: str  # stemmed noun after "what"/"which"/"how many", "" when none
    terms: tuple[str, ...]  # stemmed index terms, as the index sees them (duplicates dropped)
    match_terms: tuple[str, ...]  # the terms an answer sentence should share: no "how long"
    counted_noun: str  # stemmed last noun of "how many chemical weapons (attacks)", or ""
    word_set: frozenset[str]  # normalised words of the question, stopwords included


def _head_noun(after: list[str]) -> str:
    """The first content word after the wh-word: "what (type) of", "how many (people)".

    "What is the name of the team" → "team": generic nouns like "name" or "kind" defer to the
    noun after "of".
    """
    generic = {"name", "type", "kind", "sort", "form", "part", "one", "term", "title"}
    content = [w for w in after[:6] if w not in STOPWORDS or w == "of"]
    for index, word in enumerate(content):
        if word == "of":
            continue
        if word in generic and index + 2 < len(content) and content[index + 1] == "of":
            return content[index + 2]
        return word
    return ""


def _classify(wh: str, following: list[str]) -> tuple[QuestionType, str]:
    next_word = following[0] if following else ""
    if wh in ("who", "whom", "whose"):
        return QuestionType.PERSON, _head_noun(following) if wh == "whose" else ""
    if wh == "when":
        return QuestionType.DATE, ""
    if wh == "where":
        return QuestionType.PLACE, ""
    if wh == "why":
        return QuestionType.REASON, ""
    if wh == "how":
        if next_word == "long":
            return QuestionType.DURATION, "long"
        if next_word in _HOW_QUANTITY:
            # "how many (people)" names what is counted; "how old" has no noun.
            counted = following[1] if len(following) > 1 else ""
            return QuestionType.NUMBER, counted if counted not in STOPWORDS else next_word
        return QuestionType.REASON, ""
    noun = _head_noun(following)
    # "What is the name of..." and "what did he do" have no noun right after the wh-word.
    directly_after = next_word if next_word not in STOPWORDS else ""
    if noun in _DATE_NOUNS:
        return QuestionType.DATE, noun
    if noun in _NUMBER_NOUNS:
        return QuestionType.NUMBER, noun
    if noun in _PLACE_NOUNS:
        return QuestionType.PLACE, noun
    if noun in _PERSON_NOUNS:
        return QuestionType.PERSON, noun
    if directly_after:
        return QuestionType.ENTITY, noun
    # "What was the theme of ...": the noun is the subject, not the kind of answer.
    return QuestionType.DESCRIPTION, noun


@lru_cache(maxsize=4096)
def analyze_question(question: str) -> QuestionAnalysis:
    """The question's type, wh-word, head noun and terms."""
    question_words = words(question)
    wh, following = "", question_words
    for index, word in enumerate(question_words):
        if _WH_RE.fullmatch(word):
            wh, following = word, question_words[index + 1 :]
            break
    if wh:
        qtype, noun = _classify(wh, following)
    else:
        qtype, noun = QuestionType.OTHER, ""
    terms = tuple(dict.fromkeys(tokenize(question)))
    # "How many", "how long", "how old": the word after "how" says what kind of answer is
    # wanted; the answer sentence need not contain it.
    scaffolding = (
        {stem(following[0])}
        if wh == "how" and following and following[0] in _HOW_QUANTITY
        else set()
    )
    counted = ""
    if wh == "how" and following[:1] in (["many"], ["much"]):
        # The noun phrase after "how many" runs up to the verb ("did", "were"): its last word.
        phrase = list(itertools.takewhile(lambda w: w not in STOPWORDS, following[1:]))
        counted = stem(phrase[-1]) if phrase else ""
    return QuestionAnalysis(
        question=question,
        qtype=qtype,
        wh_word=wh,
        head_noun=stem(noun) if noun else "",
        terms=terms,
        match_terms=tuple(t for t in terms if t not in scaffolding) or terms,
        word_set=frozenset(question_words),
        counted_noun=counted,
    )
