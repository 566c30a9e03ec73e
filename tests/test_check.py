"""The checker as a user meets it: real detectors (Hunspell, the rules, jieba), no mocks.

Precision first: clean text full of names, acronyms, code, URLs, numbers and emoji must come back clean;
each error below must be flagged at its exact place with the fix a learner expects.
"""

from __future__ import annotations

import io
import json
import sys
import tracemalloc
from pathlib import Path

import pytest

from draftsmith.checking import Checker, check_text, iter_problems_stream
from draftsmith.checking.text import paragraphs_of
from draftsmith.cli import main
from draftsmith.errors import InputError
from draftsmith.models.fake import FakeModel
from draftsmith.writing import correct

pytest.importorskip("spylls")
pytest.importorskip("jieba")


def found(text: str, **kw) -> list[tuple[str, str, str]]:
    """(rule id, flagged text, first suggestion) of every problem, checking that offsets index ``text``."""
    out = []
    for p in check_text(text, **kw):
        assert text[p.start : p.end] == p.flagged
        out.append((p.rule_id, p.flagged, p.suggestions[0] if p.suggestions else ""))
    return out


# -- errors that must be flagged --------------------------------------------------------------------

MUST_FLAG = [
    ("She go to school every day.", ("EN_SVA_THIRD_PERSON", "go", "goes")),
    ("Yesterday he don't come.", ("EN_SVA_DONT", "don't", "doesn't")),
    ("They was late again.", ("EN_SVA_BE_HAVE", "was", "were")),
    ("I has two brothers.", ("EN_SVA_BE_HAVE", "has", "have")),
    ("She can swims very well.", ("EN_MODAL_VERB_FORM", "swims", "swim")),
    ("He didn't went to the party.", ("EN_DO_VERB_FORM", "went", "go")),
    ("I have went there twice.", ("EN_PERFECT_PARTICIPLE", "went", "gone")),
    ("You could of told me.", ("EN_COULD_OF", "of", "have")),
    ("I bought a apple and an banana.", ("EN_A_AN", "a", "an")),
    ("She is an university student.", ("EN_A_AN", "an", "a")),
    ("We waited for a hour.", ("EN_A_AN", "a", "an")),
    ("I saw the the dog.", ("EN_REPEATED_WORD", "the the", "the")),
    ("Its a beautiful day.", ("EN_ITS_IT_IS", "Its", "It's")),
    ("The company has it's own rules.", ("EN_ITS_OWN", "it's", "its")),
    ("Their is a problem.", ("EN_THEIR_IS", "Their", "There")),
    ("They love there own house.", ("EN_THEIR_OWN", "there", "their")),
    ("Your welcome.", ("EN_YOURE", "Your", "You're")),
    ("He is taller then me.", ("EN_THAN_THEN", "then", "than")),
    ("This one is more better.", ("EN_DOUBLE_COMPARATIVE", "more better", "better")),
    ("There is many reasons.", ("EN_THERE_IS_PLURAL", "is", "are")),
    ("I am agree with you.", ("EN_BE_AGREE", "I am agree", "I agree")),
    ("We discussed about the plan.", ("EN_DISCUSS_ABOUT", " about", "")),
    ("You are suppose to call.", ("EN_SUPPOSED_TO", "suppose", "supposed")),
    ("I go running everyday.", ("EN_EVERYDAY", "everyday", "every day")),
    ("Yesterday i went home.", ("EN_LOWERCASE_I", "i", "I")),
    ("It rained. then it stopped.", ("EN_SENTENCE_CAPITAL", "then", "Then")),
    ("I like apples,bananas and pears.", ("EN_SPACE_AFTER_COMMA", ",", ", ")),
    ("Hello , world.", ("EN_SPACE_BEFORE_PUNCTUATION", " ,", ",")),
    ("We need two  chairs.", ("EN_DOUBLE_SPACE", "  ", " ")),
    ("I recieve letters.", ("EN_SPELLING", "recieve", "receive")),
    ("It is definately true.", ("EN_SPELLING", "definately", "definitely")),
    ("I dont know.", ("EN_MISSING_APOSTROPHE", "dont", "don't")),
    ("There are alot of them.", ("EN_MISSING_APOSTROPHE", "alot", "a lot")),
    ("We flew to paris last week.", ("EN_NAME_CASE", "paris", "Paris")),
    ("周末我们去公圆玩。", ("ZH_CONFUSED_CHARACTER", "圆", "园")),
    ("学生大概做飞机去北京。", ("ZH_COMMON_MISWRITING", "做", "坐")),
    ("我以经吃过饭了。", ("ZH_COMMON_MISWRITING", "以", "已")),
    ("我们迫不急待地出发了。", ("ZH_COMMON_MISWRITING", "急", "及")),
    ("他跑的很快。", ("ZH_DE_DI_DE", "的", "得")),
    ("她认真的学习。", ("ZH_DE_DI_DE", "的", "地")),
]


@pytest.mark.parametrize(("text", "expected"), MUST_FLAG, ids=[e[0] for _, e in MUST_FLAG])
def test_an_error_is_flagged_with_the_fix_a_learner_expects(text: str, expected: tuple[str, str, str]) -> None:
    assert expected in found(text)


def test_each_problem_explains_itself_in_one_line() -> None:
    for p in check_text("She go to school. I recieve it. 我们去公圆玩。"):
        assert p.message and "\n" not in p.message
        assert p.category in ("spelling", "grammar", "punctuation", "word choice", "style")
        assert p.rule_id and p.severity in ("error", "warning", "info")


# -- clean text that must not be flagged ------------------------------------------------------------

MUST_NOT_FLAG = [
    "Ngozi Okonjo-Iweala met Krzysztof and Siobhán in Reykjavík on Monday.",
    "NASA, the FBI and UNESCO use HTTPS, JSON and gRPC; an FBI agent and a NASA engineer agreed.",
    "Run `pip install draftsmith` and open https://example.com/docs/Getting-Started?tab=Install now.",
    "Call os.path.join(a, b) or my_varible in config.yaml; write to jane.doe@exmaple.com for help.",
    "Version 3.5 costs $12.99, about 10,000 units sold in Q3 2024 (up 7%).",
    "We shipped it 🚀🎉 and everyone was happy 😀 about the release.",
    "我们用Python写代码，很方便。He likes 中文 too, and so do I.",
    "The dog wagged its tail. It's a lovely day, and their house is over there.",
    "If he were rich, he would travel. I insist that he go now. Let it go. Does she know?",
    "He had had enough. That that is true is clear. We have got a car. Could of course be true.",
    "An hour, a European trip, a university, an umbrella, a one-way ticket and an honest answer.",
    "Email, online, website, colour, centre and covid are words people use every day.",
    "Mr. Smith arrived at 3 p.m. today, e.g. after lunch, i.e. on time.",
    '"Really?" she asked. "Yes!" he said.',
    "Il a une maison et un jardin avec des fleurs et des arbres.",
    "今天早上下了一场小雨，我们在图书馆里读书。他在见到她之前很紧张。",
    "他写的很多书都很有名。他是一个认真的学生。",
    "```\nteh codez are recieved here\n```",
]


@pytest.mark.parametrize("text", MUST_NOT_FLAG)
def test_clean_text_is_not_flagged(text: str) -> None:
    assert found(text) == []


def test_the_users_own_words_are_accepted() -> None:
    text = "Our product Zorblax ships with the frobnicator."
    assert "frobnicator" in [flagged for _, flagged, _ in found(text, words=[])]
    assert found(text, words=["frobnicator"]) == []


def test_the_users_dictionary_file_is_read(draftsmith_home: Path) -> None:
    (draftsmith_home / "data").mkdir(exist_ok=True)
    (draftsmith_home / "data" / "dictionary.txt").write_text("# my words\nrecieve\n", encoding="utf-8")
    assert found("I recieve letters.") == []


def test_a_rule_can_be_disabled_and_an_unknown_rule_is_an_input_error() -> None:
    assert found("We need two  chairs.", disabled=["EN_DOUBLE_SPACE"]) == []
    with pytest.raises(InputError, match="unknown rule"):
        check_text("Some text.", disabled=["NO_SUCH_RULE"])


def test_offsets_lines_and_columns_index_the_original_text() -> None:
    text = "Fine line.\r\n\r\n🙂 Emoji first, then she go home.\n\n中文：周末我们去公圆玩。\n"
    problems = check_text(text)
    assert [(p.flagged, p.line, p.column) for p in problems] == [("go", 3, 25), ("圆", 5, 10)]
    for p in problems:
        assert text[p.start : p.end] == p.flagged
        line = text.split("\n")[p.line - 1]
        assert line[p.column - 1 : p.column - 1 + len(p.flagged)] == p.flagged


def test_empty_binary_and_unsupported_input_are_clear_errors() -> None:
    for bad in ("", "   \n\t"):
        with pytest.raises(InputError, match="empty"):
            check_text(bad)
    with pytest.raises(InputError, match="NUL"):
        check_text("abc\x00def")
    with pytest.raises(InputError, match=r"English .* Chinese"):
        check_text("Bonjour.", lang="fr")


def test_a_very_long_line_and_mixed_scripts_do_not_crash() -> None:
    line = ("She go home 🚀 中文公圆 and then " * 4000).strip()  # ~150,000 characters, no line break
    problems = check_text(line)
    assert {p.rule_id for p in problems} >= {"EN_SVA_THIRD_PERSON", "ZH_CONFUSED_CHARACTER"}
    assert all(line[p.start : p.end] == p.flagged for p in problems)
    assert all(p.line == 1 for p in problems)


def test_a_one_megabyte_document_streams_with_bounded_memory(english_5000: str) -> None:
    chunk = english_5000.replace("river", "rivver", 1) + "\n\n"
    copies = 1_000_000 // len(chunk) + 1
    Checker("en", words=[]).check_paragraph(next(iter(paragraphs_of(chunk))))  # load dictionaries first

    def stream():
        class Reader(io.TextIOBase):
            def __init__(self) -> None:
                self.left = copies

            def read(self, size: int = -1) -> str:
                if self.left == 0:
                    return ""
                self.left -= 1
                return chunk

        return Reader()

    tracemalloc.start()
    count = 0
    for problem in iter_problems_stream(stream(), "en", words=[]):
        count += problem.rule_id == "EN_SPELLING"
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert copies * len(chunk) >= 1_000_000
    assert count == copies  # one misspelling per copy, each found
    assert peak < 8_000_000, f"peak {peak / 1e6:.1f} MB"  # far less than the document held in memory


# -- the command line -------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_exit_codes_0_clean_1_problems_2_bad_input(capsys, tmp_path: Path) -> None:
    clean, bad, empty = tmp_path / "clean.md", tmp_path / "bad.md", tmp_path / "empty.md"
    clean.write_text("# Notes\n\nThe committee meets on Friday.\n", encoding="utf-8")
    bad.write_text("# Notes\n\nShe go to school.\n", encoding="utf-8")
    empty.write_text("  \n", encoding="utf-8")
    code, out, err = run(capsys, "check", str(clean))
    assert (code, out) == (0, "") and "no problems" in err
    code, out, err = run(capsys, "check", str(bad))
    assert code == 1
    assert out == (
        f"{bad}:3:5: warning: Subject–verb agreement: with 'she' the verb takes -s in the present: 'goes'."
        " → 'goes' [EN_SVA_THIRD_PERSON]\n"
    )
    for args in ([str(empty)], [str(tmp_path / "missing.md")], [str(bad), "--format", "xml"], [str(bad), "-l", "fr"]):
        code, out, err = run(capsys, "check", *args)
        assert code == 2 and out == "" and err.startswith("error: ") and "Traceback" not in err


def test_cli_reads_stdin_and_rejects_binary(capsys, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"I recieve it.\n"), encoding="utf-8"))
    code, out, _ = run(capsys, "check", "-", "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["count"] == 1 and data["problems"][0]["suggestions"][0] == "receive"
    binary = tmp_path / "image.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    code, out, err = run(capsys, "check", str(binary))
    assert code == 2 and "binary" in err and out == ""


def test_cli_sarif_is_valid_sarif_2_1_0(capsys, tmp_path: Path) -> None:
    path = tmp_path / "essay.txt"
    path.write_text("Fine.\nShe go home. I recieve it.\n周末我们去公圆玩。\n", encoding="utf-8")
    code, out, _ = run(capsys, "check", str(path), "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run_,) = log["runs"]
    rules = run_["tool"]["driver"]["rules"]
    assert run_["tool"]["driver"]["name"] == "draftsmith"
    assert [r["id"] for r in rules] == ["EN_SVA_THIRD_PERSON", "EN_SPELLING", "ZH_CONFUSED_CHARACTER"]
    text = path.read_text(encoding="utf-8")
    for result in run_["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note") and result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uri"] == path.as_uri()
        region = location["region"]
        flagged = text[region["charOffset"] : region["charOffset"] + region["charLength"]]
        assert flagged == region["snippet"]["text"]
        line = text.splitlines()[region["startLine"] - 1]
        assert line[region["startColumn"] - 1 : region["endColumn"] - 1] == flagged
        assert result["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"]


def test_cli_list_rules_and_disable(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "check", "--list-rules")
    assert code == 0 and "EN_A_AN" in out and "ZH_CONFUSED_CHARACTER" in out and len(out.splitlines()) >= 30
    path = tmp_path / "a.txt"
    path.write_text("We need two  chairs.\n", encoding="utf-8")
    assert run(capsys, "check", str(path), "--disable", "EN_DOUBLE_SPACE")[0] == 0


def test_cli_check_of_a_big_file_streams(capsys, tmp_path: Path, english_5000: str) -> None:
    path = tmp_path / "big.txt"
    path.write_text((english_5000 + "\n\n") * 40, encoding="utf-8")  # ~1.2 MB, over the 400,000-char input limit
    code, out, err = run(capsys, "check", str(path), "--format", "json")
    assert code in (0, 1), err
    assert json.loads(out)["count"] == len(json.loads(out)["problems"])


# -- hybrid correct ---------------------------------------------------------------------------------


def test_detectors_mode_corrects_without_a_model() -> None:
    result = correct.correct(None, "She go to school. I recieve it.", mode="detectors")
    assert result.text == "She goes to school. I receive it."
    assert result.model == "detectors"
    assert [e.category for e in result.edits] == ["grammar", "spelling"]
    assert all(e.reason for e in result.edits)


def test_hybrid_gives_the_model_the_detectors_hints_for_chinese_only() -> None:
    pytest.importorskip("jieba")
    model = FakeModel()
    correct.correct(model, "周末我们去公圆玩。", mode="hybrid")
    assert "'圆' → '园'" in model.calls[0][-1].content
    plain = FakeModel()
    correct.correct(plain, "周末我们去公圆玩。", mode="llm")
    assert "→" not in plain.calls[0][-1].content
    # English: no hints (with the fluency prompt they narrowed the model to the flagged words); guards still run
    english = FakeModel()
    correct.correct(english, "She go to school.", mode="hybrid")
    assert "→" not in english.calls[0][-1].content


def test_hybrid_drops_model_edits_on_code_urls_names_and_new_misspellings() -> None:
    text = "Ask Ngozi to open https://example.com/a_b and run `make all` today, she go."
    # renames a person, touches the URL and the code, misspells a word, and fixes the one real error
    bad = "Ask Nancy to open https://example.com/a-b and run `make al` todey, she goes."
    result = correct.correct(FakeModel(bad), text, mode="hybrid")
    assert [(e.original, e.replacement) for e in result.edits] == [("go", "goes")]
    raw = correct.correct(FakeModel(bad), text, mode="llm")
    assert len(raw.edits) > 1


def test_english_edits_are_classified_with_errant() -> None:
    pytest.importorskip("errant")
    model = FakeModel("She goes to school. I have three apples.")
    result = correct.correct(model, "She go to school. I have three apple.", mode="llm")
    reasons = {e.original: (e.category, e.reason) for e in result.edits}
    assert reasons["go"] == ("grammar", "Subject–verb agreement: 'goes' agrees with 'She'.")
    assert reasons["apple"][0] == "grammar" and "plural" in reasons["apple"][1]


def test_an_unknown_mode_is_an_input_error() -> None:
    with pytest.raises(InputError, match="mode"):
        correct.correct(FakeModel(), "Some text.", mode="magic")


@pytest.mark.model
def test_hybrid_correct_on_the_real_model() -> None:
    from draftsmith.models.loader import load_model

    model = load_model("qwen2.5-0.5b")
    text = "She go to school every day. I recieve your letter yesterday."
    result = correct.correct(model, text, mode="hybrid")
    assert "goes" in result.text and "receive" in result.text
    for edit in result.edits:
        assert text[edit.start : edit.end] == edit.original
        assert edit.reason and "\n" not in edit.reason
    clean = "The committee will meet on Friday to discuss the budget."
    assert correct.correct(model, clean, mode="hybrid").text == clean
