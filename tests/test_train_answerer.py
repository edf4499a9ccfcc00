"""The training script on a tiny SQuAD file: dev-only by default, every article with --all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from retrieval.answerer import Answerer
from retrieval.evaluation import _trained_on_validation
from retrieval.evaluation import main as evaluation_main
from retrieval.train_answerer import main

# Four articles: with the default split, the ones at positions 0 and 2 are dev.
ARTICLES = (
    (
        "Harbour",
        "The old harbour bridge in Port Avalon was completed in 1932 after years of delays. "
        "Engineers inspect its steel cables every spring.",
        (("When was the harbour bridge completed?", "1932"),),
    ),
    (
        "Quake",
        "A magnitude 6.1 earthquake struck the coastal city on Tuesday. The quake killed 12 "
        "people and injured more than 200.",
        (("How many people did the quake kill?", "12"),),
    ),
    (
        "Summit",
        "The climate summit was held in Geneva, where delegates from 41 countries met. "
        "Protesters gathered outside the conference hall.",
        (("Where was the climate summit held?", "Geneva"),),
    ),
    (
        "Strike",
        "Mayor Helena Duarte said the dock workers' strike lasted three weeks. Shipping "
        "companies said the losses would take months to recover.",
        (("Who said the strike lasted three weeks?", "Helena Duarte"),),
    ),
)


def _squad_file(tmp_path: Path) -> Path:
    data = []
    for title, context, questions in ARTICLES:
        qas = [
            {"id": f"{title}{n}", "question": q, "answers": [{"text": a, "answer_start": 0}]}
            for n, (q, a) in enumerate(questions)
        ]
        for qa in qas:
            qa["answers"][0]["answer_start"] = context.index(qa["answers"][0]["text"])
        data.append({"title": title, "paragraphs": [{"context": context, "qas": qas}]})
    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"data": data}), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("flags", "articles", "with_validation"), [([], 2, False), (["--all"], 4, True)]
)
def test_training_writes_weights_that_say_what_they_were_trained_on(
    tmp_path: Path, flags: list[str], articles: int, with_validation: bool
) -> None:
    output = tmp_path / "answerer.json"
    assert main(["--data", str(_squad_file(tmp_path)), "--output", str(output), *flags]) == 0
    training = json.loads(output.read_text(encoding="utf-8"))["training"]
    assert training["dev_articles"] == articles
    assert training["includes_validation"] is with_validation
    assert _trained_on_validation(output) is with_validation
    # The weights fit the features this code computes: the answerer loads them.
    assert Answerer(output).no_answer_threshold == pytest.approx(
        json.loads(output.read_text(encoding="utf-8"))["no_answer_threshold"]
    )


def test_the_shipped_weights_were_trained_on_every_article() -> None:
    """Dev-only weights gave the held-out numbers in docs/evaluation.md; the shipped ones are
    trained the same way on dev and validation, for more examples (see there)."""
    from retrieval.answerer import DEFAULT_MODEL_PATH

    assert _trained_on_validation(DEFAULT_MODEL_PATH)


@pytest.mark.parametrize(("flags", "warned"), [([], False), (["--all"], True)])
def test_the_split_evaluation_warns_about_weights_that_saw_validation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], warned: bool
) -> None:
    data, weights = _squad_file(tmp_path), tmp_path / "weights.json"
    main(["--data", str(data), "--output", str(weights), *flags])
    capsys.readouterr()
    arguments = [str(data), "--split", "validation", "--model", str(weights), "--json"]
    assert evaluation_main(arguments) == 0
    output = capsys.readouterr()
    assert json.loads(output.out)["questions"] == 2
    assert ("not held-out numbers" in output.err) is warned
