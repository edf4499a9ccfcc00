"""The newsbite command line, run in-process through bot.cli.main."""

import io
import json

import pytest

from bot.cli import main


def run(capsys, monkeypatch, *argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ask_json_schema(seeds_corpus, tmp_path, capsys, monkeypatch):
    where = ["--corpus", str(seeds_corpus), "--db", str(tmp_path / "i.db")]
    code, out, _ = run(
        capsys, monkeypatch, "ask", *where, "--json", "How many did the attack kill?"
    )
    assert code == 0
    result = json.loads(out)
    assert set(result) == {"question", "no_answer", "answers"}
    top = result["answers"][0]
    assert set(top) >= {
        "answer",
        "sentence",
        "passage",
        "title",
        "url",
        "doc_id",
        "paragraph",
        "score",
        "confidence",
    }
    assert top["answer"] in top["sentence"] and top["sentence"] in top["passage"]
    assert "87" in top["answer"]


def test_ask_batch_reads_one_question_per_line(seeds_corpus, tmp_path, capsys, monkeypatch):
    where = ["--corpus", str(seeds_corpus), "--db", str(tmp_path / "i.db")]
    stdin = "Who met Tillerson?\n\nHow long has the Syrian war lasted?\n"
    code, out, _ = run(capsys, monkeypatch, "ask", *where, "--json", "-", stdin=stdin)
    assert code == 0
    assert [json.loads(line)["question"] for line in out.splitlines()] == [
        "Who met Tillerson?",
        "How long has the Syrian war lasted?",
    ]


@pytest.mark.parametrize("command", [["ask", "anything"], ["index"]])
def test_missing_corpus_is_a_usage_error(command, tmp_path, capsys, monkeypatch):
    where = ["--corpus", str(tmp_path / "nope"), "--db", str(tmp_path / "i.db")]
    code, _, err = run(capsys, monkeypatch, command[0], *where, *command[1:])
    assert code == 2 and err.startswith("newsbite: no corpus folder at ")
    assert err.count("\n") == 1


@pytest.mark.parametrize("command", [["ask", "anything"], ["index"]])
def test_a_database_that_is_not_one_is_a_usage_error(
    command, seeds_corpus, tmp_path, capsys, monkeypatch
):
    db = tmp_path / "i.db"
    db.write_bytes(b"not a database, just some text" * 100)
    where = ["--corpus", str(seeds_corpus), "--db", str(db)]
    code, _, err = run(capsys, monkeypatch, command[0], *where, *command[1:])
    assert code == 2 and err.startswith("newsbite: ") and err.count("\n") == 1


def test_index_prints_a_summary_and_is_incremental(seeds_corpus, tmp_path, capsys, monkeypatch):
    where = ["--corpus", str(seeds_corpus), "--db", str(tmp_path / "i.db")]
    code, out, _ = run(capsys, monkeypatch, "index", *where)
    assert code == 0 and out.startswith("1 added, 0 updated, 0 removed")
    code, out, _ = run(capsys, monkeypatch, "index", *where)
    assert out.startswith("0 added, 0 updated, 0 removed")


def test_human_output_cites_the_article(seeds_corpus, tmp_path, capsys, monkeypatch):
    where = ["--corpus", str(seeds_corpus), "--db", str(tmp_path / "i.db")]
    code, out, _ = run(capsys, monkeypatch, "ask", *where, "How many did the attack kill?")
    assert code == 0
    assert "87" in out and "bromance is over, paragraph 16" in out


def test_ask_depth_is_how_many_passages_are_read(seeds_corpus, tmp_path, capsys, monkeypatch):
    """Read only BM25's best passage, the answer comes from it; read five, and the answerer
    finds a better one further down (paragraph 24 says who met Tillerson)."""
    where = ["--corpus", str(seeds_corpus), "--db", str(tmp_path / "i.db")]
    paragraphs = []
    for depth in ("1", "5"):
        argv = ["ask", *where, "--json", "-k", "1", "--depth", depth, "Who met Tillerson?"]
        code, out, _ = run(capsys, monkeypatch, *argv)
        assert code == 0
        paragraphs.append(json.loads(out)["answers"][0]["paragraph"])
    assert paragraphs == [9, 24]


def test_ask_depth_below_one_is_a_usage_error(seeds_corpus, tmp_path, capsys, monkeypatch):
    where = ["--corpus", str(seeds_corpus), "--db", str(tmp_path / "i.db")]
    code, _, err = run(capsys, monkeypatch, "ask", *where, "--depth", "0", "Who?")
    assert code == 2 and "--depth" in err and err.count("\n") == 1


def test_ask_batch_output_is_the_same_with_any_number_of_workers(
    seeds_corpus, tmp_path, capsys, monkeypatch
):
    where = ["--corpus", str(seeds_corpus), "--db", str(tmp_path / "i.db")]
    stdin = "Who met Tillerson?\nHow many people did the attack kill?\n" * 20
    outputs = []
    for workers in ("1", "2"):
        argv = ["ask", *where, "--json", "--workers", workers, "-"]
        code, out, _ = run(capsys, monkeypatch, *argv, stdin=stdin)
        assert code == 0
        outputs.append(out)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == 40


def test_ask_workers_below_one_is_a_usage_error(seeds_corpus, tmp_path, capsys, monkeypatch):
    where = ["--corpus", str(seeds_corpus), "--db", str(tmp_path / "i.db")]
    code, _, err = run(capsys, monkeypatch, "ask", *where, "--workers", "0", "-")
    assert code == 2 and "--workers" in err and err.count("\n") == 1
