"""bench/gec_zh.py's raw cache: the model's answers kept by the messages sent, so post-processing rescores offline."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from draftsmith.models.fake import FakeModel, echo_responder
from draftsmith.writing import correct

pytest.importorskip("jieba")

BENCH = Path(__file__).resolve().parents[1] / "bench" / "gec_zh.py"


@pytest.fixture(scope="module")
def gec_zh():
    spec = importlib.util.spec_from_file_location("gec_zh_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixing(messages, params) -> str:
    return echo_responder(messages, params).replace("公圆", "公园")


def test_a_repeated_passage_is_answered_from_the_cache_and_replayed_without_a_model(gec_zh, tmp_path) -> None:
    path = tmp_path / "raw.jsonl"
    model = FakeModel(fixing)
    cached = gec_zh.RawCache(model, path, "fake")
    first = correct.correct(cached, "我们去公圆玩。", lang="zh", mode="llm")
    again = correct.correct(cached, "我们去公圆玩。", lang="zh", mode="llm")
    assert first.text == again.text == "我们去公园玩。"
    assert len(model.calls) == 1 and (cached.hits, cached.misses) == (1, 1)
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1

    # a fresh process: the file alone answers, no model loaded
    replay = gec_zh.RawCache(None, path, "fake")
    assert correct.correct(replay, "我们去公圆玩。", lang="zh", mode="llm").text == "我们去公园玩。"
    with pytest.raises(KeyError):  # other messages: nothing to answer with
        correct.correct(replay, "我们去公圆玩吧。", lang="zh", mode="llm")


def test_the_key_is_the_model_and_the_messages(gec_zh, tmp_path) -> None:
    path = tmp_path / "raw.jsonl"
    correct.correct(gec_zh.RawCache(FakeModel(fixing), path, "fake"), "我们去公圆玩。", lang="zh", mode="llm")
    other = FakeModel("我们去公园玩了。")
    result = correct.correct(gec_zh.RawCache(other, path, "other"), "我们去公圆玩。", lang="zh", mode="llm")
    assert len(other.calls) == 1 and result.text == "我们去公园玩了。"
    assert len({json.loads(line)["k"] for line in path.read_text(encoding="utf-8").splitlines()}) == 2
