"""Splitting long text into segments and stitching it back: nothing may be dropped, duplicated or moved."""

from __future__ import annotations

import pytest

from draftsmith.writing.segment import Span, map_segments, sentences, split_segments, stitch


def check_segments(text: str, spans: list[Span], max_chars: int) -> None:
    """The contract every operation relies on when it processes a long text piece by piece."""
    assert spans, "a non-empty text must give at least one segment"
    pos = 0
    for span in spans:
        piece = text[span.start : span.end]
        assert span.start >= pos, f"segment at {span.start} overlaps or is out of order"
        assert span.end > span.start, f"empty segment at {span.start}"
        assert not text[pos : span.start].strip(), (
            f"text between segments is not whitespace: {text[pos : span.start]!r}"
        )
        assert piece == piece.strip(), f"segment at {span.start} starts or ends with whitespace"
        assert len(piece) <= max_chars or not any(ch.isspace() for ch in piece), (
            f"segment at {span.start} has {len(piece)} characters (limit {max_chars}) and is not a single word"
        )
        pos = span.end
    assert not text[pos:].strip(), "text after the last segment was left out"
    assert stitch(text, spans, [text[s.start : s.end] for s in spans]) == text


@pytest.mark.parametrize("max_chars", [200, 800, 1200, 1500])
def test_long_english_text_splits_into_ordered_bounded_segments(english_5000: str, max_chars: int) -> None:
    spans = split_segments(english_5000, max_chars)
    check_segments(english_5000, spans, max_chars)
    assert len(spans) >= len(english_5000) // max_chars


@pytest.mark.parametrize("max_chars", [100, 800, 1200])
def test_long_chinese_text_splits_into_ordered_bounded_segments(chinese_long: str, max_chars: int) -> None:
    spans = split_segments(chinese_long, max_chars)
    check_segments(chinese_long, spans, max_chars)
    assert len(spans) >= len(chinese_long) // max_chars


def test_english_segments_end_at_sentence_or_paragraph_boundaries(english_5000: str) -> None:
    # Apart from the run-on sentence and the line-broken paragraph, a cut falls after a sentence end.
    ends = '.?!…"'
    spans = split_segments(english_5000, 800)
    ordinary = [s for s in spans if english_5000[s.end - 1] in ends]
    assert len(ordinary) >= len(spans) - 6


def test_segments_never_cut_a_word_in_two(english_5000: str) -> None:
    for span in split_segments(english_5000, 300):
        assert span.start == 0 or english_5000[span.start - 1].isspace(), english_5000[span.start - 10 : span.end]
        assert span.end == len(english_5000) or english_5000[span.end].isspace()


def test_a_word_shorter_than_the_limit_is_kept_whole() -> None:
    # No space in the second half of the window: the cut must still fall between words.
    word = "x" * 30
    text = "a" * 20 + " " + word + " tail words here"
    spans = split_segments(text, 50)
    check_segments(text, spans, 50)
    assert any(text[s.start : s.end].split().count(word) == 1 for s in spans), [text[s.start : s.end] for s in spans]


def test_a_single_word_longer_than_the_limit_survives_stitching() -> None:
    url = "https://example.com/" + "a" * 300
    text = f"See {url} for details. Then read the rest of it."
    spans = split_segments(text, 100)
    check_segments(text, spans, 100)


def test_paragraphs_are_not_merged_across_a_blank_line() -> None:
    text = "First paragraph.\n\nSecond paragraph.\n\n\n  Third, indented.\n"
    spans = split_segments(text, 1000)
    assert [text[s.start : s.end] for s in spans] == ["First paragraph.", "Second paragraph.", "Third, indented."]


def test_whitespace_only_text_gives_no_segments() -> None:
    assert split_segments(" \n\n\t ", 100) == []


def test_stitch_puts_outputs_in_place_and_keeps_the_layout() -> None:
    text = "  one.\n\ntwo.\n\n\nthree.\n"
    spans = split_segments(text, 1000)
    assert stitch(text, spans, ["ONE.", "TWO.", "THREE."]) == "  ONE.\n\nTWO.\n\n\nTHREE.\n"


def test_map_segments_sees_each_piece_once(english_5000: str) -> None:
    seen: list[str] = []

    def record(piece: str) -> str:
        seen.append(piece)
        return piece

    assert map_segments(english_5000, record, max_chars=700) == english_5000
    assert len(seen) > 1
    assert [english_5000.index(p) for p in seen[:5]] == sorted(english_5000.index(p) for p in seen[:5])
    assert sum(len(p.split()) for p in seen) == len(english_5000.split())


def _texts(text: str, spans: list[Span]) -> list[str]:
    return [text[s.start : s.end] for s in spans]


def test_english_sentences() -> None:
    text = 'It costs 3.50 dollars. Is that fair? "Yes!" she said. Wait… then go.\nNew line here.'
    assert _texts(text, sentences(text)) == [
        "It costs 3.50 dollars.",
        "Is that fair?",
        '"Yes!"',
        "she said.",
        "Wait…",
        "then go.",
        "New line here.",
    ]


def test_chinese_sentences() -> None:
    text = "今天天气很好。我们去公园玩吧！你来吗？“好的。”他说。最后一句没有句号"
    assert _texts(text, sentences(text)) == [
        "今天天气很好。",
        "我们去公园玩吧！",
        "你来吗？",
        "“好的。”",
        "他说。",
        "最后一句没有句号",
    ]


def test_sentences_of_long_text_cover_every_word(english_5000: str, chinese_long: str) -> None:
    for text in (english_5000, chinese_long):
        spans = sentences(text)
        check_segments(text, spans, max_chars=len(text))
        assert len(spans) > 100


def test_initials_and_titles_do_not_end_a_sentence() -> None:
    from draftsmith.writing.segment import sentences

    text = "Abraham A. Ribicoff was married to Ruth. Dr. Lee came. It rained."
    assert [text[s.start : s.end] for s in sentences(text)] == [
        "Abraham A. Ribicoff was married to Ruth.",
        "Dr. Lee came.",
        "It rained.",
    ]
