"""Question types: what kind of short answer each question asks for."""

import pytest

from retrieval.question_types import QuestionType, analyze_question


@pytest.mark.parametrize(
    ("question", "qtype"),
    [
        ("Who met Tillerson in Moscow?", QuestionType.PERSON),
        ("Whom did Putin meet?", QuestionType.PERSON),
        ("Which president fired missiles at Syria?", QuestionType.PERSON),
        ("When did Tillerson meet Putin?", QuestionType.DATE),
        ("What year did the war start?", QuestionType.DATE),
        ("In what year did ABC agree to finance Disneyland?", QuestionType.DATE),
        ("How many people did the attack kill?", QuestionType.NUMBER),
        ("How much did the stadium cost?", QuestionType.NUMBER),
        ("What percentage of voters backed the plan?", QuestionType.NUMBER),
        ("How old was Peyton Manning in 2015?", QuestionType.NUMBER),
        ("Where did the gas attack happen?", QuestionType.PLACE),
        ("What city hosted the meeting?", QuestionType.PLACE),
        ("How long has the Syrian war lasted?", QuestionType.DURATION),
        ("What team won Super Bowl 50?", QuestionType.ENTITY),
        ("Which network broadcast the game?", QuestionType.ENTITY),
        ("What was the theme of Super Bowl 50?", QuestionType.DESCRIPTION),
        ("Why did Trump fire missiles?", QuestionType.REASON),
        ("Tell me about the Kremlin meeting", QuestionType.OTHER),
    ],
)
def test_question_type(question: str, qtype: QuestionType) -> None:
    assert analyze_question(question).qtype is qtype


def test_head_noun_is_the_counted_noun() -> None:
    assert analyze_question("How many people did the attack kill?").head_noun == "peopl"
    assert analyze_question("What team won?").head_noun == "team"


def test_generic_noun_defers_to_the_noun_after_of() -> None:
    assert analyze_question("What kind of weapons were used?").head_noun == "weapon"


def test_wh_word_in_the_middle_of_the_question() -> None:
    analysis = analyze_question("The Broncos beat which team in the final?")
    assert analysis.wh_word == "which"
    assert analysis.qtype is QuestionType.ENTITY


def test_match_terms_leave_out_how_many_scaffolding() -> None:
    analysis = analyze_question("How many people were killed?")
    assert "mani" in analysis.terms
    assert "mani" not in analysis.match_terms
    assert {"peopl", "kill"} <= set(analysis.match_terms)


def test_question_without_content_terms_keeps_them() -> None:
    analysis = analyze_question("How many?")
    assert analysis.match_terms == analysis.terms
