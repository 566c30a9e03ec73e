"""PII detection with valid and invalid checksums, names of people (English and Chinese, with a small precision and
recall check), reversible masking, streaming restore, and the server's redact_pii round trip: the (recording)
fake model and a recording fake OpenAI-compatible upstream never see a raw value, the caller gets them back, and
the log holds none."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from draftsmith.config import Settings
from draftsmith.models.base import Chunk, GenParams, Message, Usage
from draftsmith.models.fake import FakeModel
from draftsmith.models.openai_compat import OpenAICompatModel
from draftsmith.safety.pii import (
    RedactingModel,
    Redactor,
    StreamUnmasker,
    cn_id_ok,
    find_pii,
    iban_ok,
    luhn_ok,
    scrub,
)
from draftsmith.server import ServerConfig, create_app
from fake_openai_server import FakeOpenAI

SETTINGS = Settings(model="fake", prefix_cache=False)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, text[f.start : f.end]) for f in find_pii(text)]


# -- detectors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("write to zhang.wei+news@mail.example.com today", "email", "zhang.wei+news@mail.example.com"),
        ("请发邮件到li@example.cn谢谢", "email", "li@example.cn"),
        ("call +44 20 7946 0958 now", "phone", "+44 20 7946 0958"),
        ("call +1 (415) 555-2671.", "phone", "+1 (415) 555-2671"),
        ("Tel. +33 1 23 45 67 89", "phone", "+33 1 23 45 67 89"),
        ("office: (415) 555-2671", "phone", "(415) 555-2671"),
        ("office: 415-555-2671", "phone", "415-555-2671"),
        ("座机010-12345678转分机", "phone", "010-12345678"),
        ("手机13812345678，", "cn_mobile", "13812345678"),
        ("mobile 138 1234 5678", "cn_mobile", "138 1234 5678"),
        ("mobile +86 139-1234-5678", "cn_mobile", "+86 139-1234-5678"),
        ("card 4111 1111 1111 1111 exp 12/27", "card", "4111 1111 1111 1111"),
        ("card 5555-5555-5555-4444", "card", "5555-5555-5555-4444"),
        ("amex 378282246310005", "card", "378282246310005"),
        ("IBAN DE89 3704 0044 0532 0130 00 PLEASE", "iban", "DE89 3704 0044 0532 0130 00"),
        ("IBAN GB82WEST12345698765432", "iban", "GB82WEST12345698765432"),
        ("server 192.168.1.20.", "ip", "192.168.1.20"),
        ("v6 2001:db8::8a2e:370:7334 up", "ip", "2001:db8::8a2e:370:7334"),
        ("身份证号11010519491231002X。", "cn_id", "11010519491231002X"),
        ("ID 440308199901010012", "cn_id", "440308199901010012"),
    ],
)
def test_each_kind_is_found(text, kind, value):
    assert (kind, value) in kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # Luhn fails
        "order 1234567890123456",  # Luhn fails
        "IBAN DE89 3704 0044 0532 0130 01",  # mod-97 fails
        "IBAN DE89 3704 0044 0532 0130",  # too short for Germany
        "ID 110105194912310021",  # wrong check digit
        "ID 11010519491331002X",  # month 13
        "version 1.2.3 and 256.1.1.1",  # not an IPv4 address
        "at 12:30:45 and std::vector",
        "on 2024-01-15, in 1999, build 20240115",
        "call 12345",
        "costs $1,234,567.89",
    ],
)
def test_invalid_checksums_and_lookalikes_are_left_alone(text):
    assert find_pii(text) == []


def test_checksum_helpers():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("DE89370400440532013000") and iban_ok("gb82 west 1234 5698 7654 32")
    assert not iban_ok("DE89370400440532013001")
    assert cn_id_ok("11010519491231002X") and cn_id_ok("11010519491231002x")
    assert not cn_id_ok("11010519491231002") and not cn_id_ok("110105194902300021")  # 30 February


def test_an_id_number_is_not_also_reported_as_a_card_or_phone():
    assert kinds("ID 11010519491231002X") == [("cn_id", "11010519491231002X")]
    assert kinds("IBAN DE89370400440532013000") == [("iban", "DE89370400440532013000")]


# -- masking ---------------------------------------------------------------------------------------------------

TEXT = (
    "Contact Ana at ana@example.org or +49 30 1234567; backup ana@example.org. "
    "张伟的手机是13812345678，身份证11010519491231002X，卡号4111111111111111。"
)


def test_mask_is_reversible_and_consistent():
    redactor = Redactor()
    masked = redactor.mask(TEXT)
    assert "ana@example.org" not in masked and "13812345678" not in masked and "4111111111111111" not in masked
    assert masked.count("[EMAIL_1]") == 2  # the same value, the same placeholder
    assert "[PHONE_1]" in masked and "[PHONE_2]" in masked and "[ID_1]" in masked and "[CARD_1]" in masked
    assert "[PERSON_1]的手机" in masked  # 张伟
    assert redactor.unmask(masked) == TEXT
    assert redactor.masked == 6


def test_unmask_tolerates_what_models_do_to_placeholders():
    redactor = Redactor()
    redactor.mask("mail ana@example.org")
    assert redactor.unmask("write to [email_1], 【EMAIL_1】 or [ EMAIL_1 ]") == (
        "write to ana@example.org, ana@example.org or ana@example.org"
    )
    assert redactor.unmask("[EMAIL_2] stays") == "[EMAIL_2] stays"  # unknown placeholders are left alone


def test_placeholders_already_in_the_input_are_never_reused():
    redactor = Redactor()
    masked = redactor.mask("template [EMAIL_1] for ana@example.org")
    assert masked == "template [EMAIL_1] for [EMAIL_2]"
    assert redactor.unmask(masked) == "template [EMAIL_1] for ana@example.org"


def test_stream_unmasker_restores_placeholders_split_across_chunks():
    redactor = Redactor()
    masked = redactor.mask("reach ana@example.org or 13812345678 today")
    unmasker = StreamUnmasker(redactor)
    pieces = [masked[i : i + 3] for i in range(0, len(masked), 3)]
    out = "".join(unmasker.feed(p) for p in pieces) + unmasker.flush()
    assert out == "reach ana@example.org or 13812345678 today"
    # A lone bracket is not held forever.
    assert unmasker.feed("a [b") == "a " and unmasker.feed("racket] c") == "[bracket] c"


def test_scrub_is_one_way():
    assert scrub("mail ana@example.org, card 4111111111111111") == "mail [EMAIL], card [CARD]"
    assert scrub("client 203.0.113.9 via http://127.0.0.1:8080 and 0.0.0.0") == (
        "client [IP] via http://127.0.0.1:8080 and 0.0.0.0"
    )


def test_redacting_model_masks_prompts_and_unmasks_streams():
    inner = FakeModel()  # echoes the prompt, so the answer holds the placeholders
    model = RedactingModel(inner)
    chunks = list(model.stream([Message(role="user", content="Text: ana@example.org, 13812345678")], GenParams()))
    seen = inner.calls[0][-1].content
    assert "ana@example.org" not in seen and "13812345678" not in seen
    assert "".join(c.text for c in chunks) == "ana@example.org, 13812345678"
    assert chunks[-1].usage is not None
    completion = model.complete([Message(role="user", content="Text: ana@example.org")], GenParams())
    assert completion.text == "ana@example.org"


class RawEcho(FakeModel):
    """Raw-text completion that echoes its prompt (and records it)."""

    def stream_text(self, prompt, params):
        self.calls.append([Message(role="user", content=prompt)])
        yield Chunk(text=prompt[:7])
        yield Chunk(text=prompt[7:])
        yield Chunk(finish_reason="stop", usage=Usage(prompt_tokens=5, completion_tokens=5))


def test_redacting_model_covers_raw_text_completion_too():
    inner = RawEcho()
    chunks = list(RedactingModel(inner).stream_text("Mail ana@example.org now", GenParams()))
    assert inner.calls[0][0].content == "Mail [EMAIL_1] now"
    assert "".join(c.text for c in chunks) == "Mail ana@example.org now"


class Splitter(FakeModel):
    """Streams a placeholder one character at a time."""

    def stream(self, messages, params):
        self.calls.append(messages)
        for ch in "ok [EMAIL_1]!":
            yield Chunk(text=ch)
        yield Chunk(finish_reason="stop", usage=Usage(prompt_tokens=3, completion_tokens=13))


def test_redacting_model_restores_a_placeholder_streamed_char_by_char():
    model = RedactingModel(Splitter())
    chunks = list(model.stream([Message(role="user", content="to ana@example.org")], GenParams()))
    assert "".join(c.text for c in chunks) == "ok ana@example.org!"
    assert all("[" not in c.text for c in chunks)


# -- names of people ------------------------------------------------------------------------------------------
# Hand-written check sentences with the names a reader would mask. Three rounds: the first two were used to tune
# the filters, the last (the final five of each list) was written before its first run. Known misses and false
# alarms are kept on purpose: the floors below are what the small models deliver, not what we wish.

EN_NAMES = [
    ("Dr. Jane Smith reviewed the draft on Monday.", {"Jane Smith"}),
    ("Please send the contract to Robert Chen before Friday.", {"Robert Chen"}),
    ("We thanked Angela Merkel and Barack Obama for their support.", {"Angela Merkel", "Barack Obama"}),
    ("Mr. John O'Brien met Prof. Li Wei at NASA headquarters.", {"John O'Brien", "Li Wei"}),
    ("Please ask María García-López about the invoice.", {"María García-López"}),
    ("Thank you, Chris! Lisa's report is late.", {"Chris", "Lisa"}),
    ("The patient, Sam Lee, was admitted after Alice's call.", {"Sam Lee", "Alice"}),
    ("Her name is Grace Hopper and she wrote COBOL compilers.", {"Grace Hopper"}),
    ("Click Save, then Export to PDF and ask Legal about GDPR.", set()),
    ("The Board approved the Budget in New York on Tuesday.", set()),
    ("Python and Rust are both fine choices for the API.", set()),
    ("Alice's report was reviewed by the team.", {"Alice"}),  # missed: tagged ORG
    ("Jean-Luc Picard commands the ship.", {"Jean-Luc Picard"}),  # missed: tagged ORG
    ("Brown sugar makes the cake moist.", set()),  # false alarm: Brown is a surname too
    ("Kubernetes and Docker run the cluster.", set()),  # false alarm: Docker
    ("Yesterday Priya Natarajan presented the quarterly numbers.", {"Priya Natarajan"}),
    ("Ask Tom whether the meeting with Helen Park moved to Thursday.", {"Tom", "Helen Park"}),  # Helen Park: FAC
    ("The letter was signed by Ms. Olivia Bennett, head of finance.", {"Olivia Bennett"}),
    ("Kenji Watanabe and Fatima Al-Sayed joined the Berlin office.", {"Kenji Watanabe", "Fatima Al-Sayed"}),
    ("Dear Mark, thanks for the quick reply. Best regards, Sophie", {"Mark", "Sophie"}),
    ("Open Settings, choose Privacy, and press Done.", set()),
    ("Microsoft Teams and Slack both support threads.", set()),
    ("Nadia Rahman will chair the panel; Peter Lindqvist moderates.", {"Nadia Rahman", "Peter Lindqvist"}),
    ("Hi Daniel,\nthe slides look good.\nCheers,\nRuth", {"Daniel", "Ruth"}),
    ("Oliver and Mia visited Lisbon with their uncle George.", {"Oliver", "Mia", "George"}),
    ("Use GitHub Actions to deploy the Django app.", set()),
    ("The ruling by Judge Maria Alvarez surprised the press.", {"Maria Alvarez"}),
]
ZH_NAMES = [
    ("张伟的手机号码请不要外传。", {"张伟"}),
    ("李明华和王小红昨天去了北京开会。", {"李明华", "王小红"}),
    ("我们请欧阳娜娜老师给学生讲课。", {"欧阳娜娜"}),
    ("这份报告由陈建国主任审核，刘晓燕同学负责排版。", {"陈建国", "刘晓燕"}),
    ("张老师说谢谢，孙子和叶子都来了。", set()),
    ("金融市场在周末保持平稳，文明城市建设方便了市民。", set()),
    ("国王张开双臂，黎明时分出发。", set()),
    ("小明说他明天不来了。", {"小明"}),  # missed: a given name alone
    ("华为的余承东回复了邮件。", {"余承东"}),
    ("周志强下午三点到会议室。", {"周志强"}),
    ("唐宁和宋佳佳是同班同学。", {"唐宁", "宋佳佳"}),
    ("黄金周期间景区人很多。", set()),
    ("王经理和陈女士都同意了方案。", set()),
    ("胡海燕把合同寄给了对方。", {"胡海燕"}),
    ("会议由郑文博主持，何丽记录。", {"郑文博", "何丽"}),
    ("上官云飞是我们的新客户。", {"上官云飞"}),  # cut short: 上官云
    ("石家庄的天气越来越好了。", set()),
    ("曹雪芹写了红楼梦。", {"曹雪芹"}),  # missed on purpose: a famous name in jieba's dictionary
]


def precision_recall(cases: list[tuple[str, set[str]]]) -> tuple[float, float]:
    tp = fp = fn = 0
    for text, names in cases:
        found = {f.value for f in find_pii(text, frozenset(), names=True)}
        tp, fp, fn = tp + len(found & names), fp + len(found - names), fn + len(names - found)
    return tp / (tp + fp), tp / (tp + fn)


@pytest.mark.parametrize(("cases", "floor"), [(EN_NAMES, (0.85, 0.8)), (ZH_NAMES, (0.9, 0.8))], ids=["en", "zh"])
def test_names_precision_and_recall_on_the_check_sentences(cases, floor):
    # Measured: en 0.89 / 0.83 (25 found, 3 false alarms, 5 misses), zh 0.93 / 0.81 (13, 1, 3).
    precision, recall = precision_recall(cases)
    assert precision >= floor[0] and recall >= floor[1], (precision, recall)


def test_titles_and_possessives_stay_outside_and_parts_share_the_name_s_placeholder():
    redactor = Redactor()
    text = "Dr. Jane Smith signed. Later Smith wrote to Mrs. Jane Smith's bank, and Jane agreed."
    masked = redactor.mask(text)
    assert masked == (
        "Dr. [PERSON_1] signed. Later [PERSON_1_LAST] wrote to Mrs. [PERSON_1]'s bank, and [PERSON_1_FIRST] agreed."
    )
    assert redactor.unmask(masked) == text
    # The model may refer to the person by any of the three; each comes back as written.
    assert redactor.unmask("[PERSON_1_LAST] thanks [person_1_first]; 【PERSON_1】 signs.") == (
        "Smith thanks Jane; Jane Smith signs."
    )
    # A later call of the same request: the surname alone, now in a sentence the recogniser misses.
    assert redactor.mask("smith and Smith") == "smith and [PERSON_1_LAST]"


def test_chinese_names_are_masked_and_restored():
    redactor = Redactor()
    text = "张伟把报告交给了欧阳娜娜老师，张伟的电话是13812345678。"
    masked = redactor.mask(text)
    assert masked == "[PERSON_1]把报告交给了[PERSON_2]老师，[PERSON_1]的电话是[PHONE_1]。"
    assert redactor.unmask(masked) == text


@pytest.mark.parametrize(
    "text",
    [
        "Click Save, then ask Legal about GDPR and NASA.",
        "The Board met in Paris on Monday to discuss Python.",
        "Dear Team, thanks. Best regards, Marketing",
        "王经理让秘书把谢谢卡放在桌子上。",
    ],
)
def test_capitalised_words_that_are_not_names_are_left_alone(text):
    redactor = Redactor()
    assert redactor.mask(text) == text and redactor.masked == 0


def test_names_can_be_turned_off():
    assert Redactor(names=False).mask("Dr. Jane Smith, ana@example.org") == "Dr. Jane Smith, [EMAIL_1]"
    assert find_pii("Dr. Jane Smith") == []  # find_pii finds names only when asked (scrub, for logs, does not)


def test_a_name_placeholder_split_across_chunks_is_restored():
    redactor = Redactor()
    text = "Jane Smith and 李明华 met; Smith paid."
    masked = redactor.mask(text)
    assert "[PERSON_1_LAST]" in masked
    for size in (1, 2, 5):
        unmasker = StreamUnmasker(redactor)
        out = "".join(unmasker.feed(masked[i : i + size]) for i in range(0, len(masked), size)) + unmasker.flush()
        assert out == text


# -- through the server ------------------------------------------------------------------------------------------

SECRET_TEXT = (
    "Please ask Margaret Thornton to write to zhang.wei@example.com or call 138 1234 5678 about card "
    "4111 1111 1111 1111; 李明华也会来。"
)
RAW = ("Margaret Thornton", "Thornton", "李明华", "zhang.wei@example.com", "138 1234 5678", "4111 1111 1111 1111")


def seen_by(model: FakeModel) -> str:
    return "\n".join(m.content for call in model.calls for m in call)


@pytest.mark.parametrize("server_wide", [False, True])
def test_the_model_never_sees_raw_pii_and_the_answer_has_it_back(server_wide):
    model = FakeModel()  # echo: the answer is the (masked) text the model saw
    client = TestClient(create_app(SETTINGS, model, config=ServerConfig(redact_pii=server_wide)))
    body = {"text": SECRET_TEXT, "style": "formal"}
    if not server_wide:
        body["redact_pii"] = True
    response = client.post("/api/rewrite", json=body)
    assert response.status_code == 200, response.text
    seen = seen_by(model)
    assert "[EMAIL_1]" in seen and "[PHONE_1]" in seen and "[CARD_1]" in seen and "[PERSON_1]" in seen
    assert not any(value in seen for value in RAW)
    assert all(value in response.json()["text"] for value in RAW)


def test_pii_round_trip_when_streaming_and_over_the_openai_route():
    model = FakeModel(delay_s=0.001)
    client = TestClient(create_app(SETTINGS, model))
    with client.stream(
        "POST", "/api/summarize", json={"text": SECRET_TEXT, "words": 20, "stream": True, "redact_pii": True}
    ) as response:
        body = "".join(response.iter_text())
    assert not any(value in seen_by(model) for value in RAW)
    assert "[EMAIL_1]" not in body and "zhang.wei@example.com" in body

    model.calls.clear()
    chat = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": f"Text: {SECRET_TEXT}"}], "redact_pii": True},
    )
    assert chat.status_code == 200, chat.text
    assert not any(value in seen_by(model) for value in RAW)
    assert chat.json()["choices"][0]["message"]["content"] == SECRET_TEXT


def test_without_redaction_the_model_sees_the_text_as_is():
    model = FakeModel()
    client = TestClient(create_app(SETTINGS, model))
    assert client.post("/api/rewrite", json={"text": SECRET_TEXT, "style": "formal"}).status_code == 200
    assert "zhang.wei@example.com" in seen_by(model)


def test_with_names_off_on_the_server_the_rest_is_still_masked():
    model = FakeModel()
    client = TestClient(create_app(SETTINGS, model, config=ServerConfig(redact_pii=True, redact_names=False)))
    assert client.post("/api/rewrite", json={"text": SECRET_TEXT, "style": "formal"}).status_code == 200
    seen = seen_by(model)
    assert "Margaret Thornton" in seen and "李明华" in seen and "[PERSON_" not in seen
    assert "zhang.wei@example.com" not in seen and "[EMAIL_1]" in seen


@pytest.fixture
def upstream():
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


def test_pii_leak_against_a_recording_fake_upstream(upstream, caplog):
    """The OpenAI-compatible backend over real HTTP: the requests the upstream recorded hold no raw value, the
    placeholders it echoes back (split across stream events) are restored, and no log record holds a value."""
    caplog.set_level(logging.DEBUG)
    model = OpenAICompatModel(upstream.url, "fake-model", timeout=5.0, retries=0)
    client = TestClient(create_app(SETTINGS, model, config=ServerConfig(redact_pii=True)))
    chat = {"messages": [{"role": "user", "content": SECRET_TEXT}]}

    upstream.queue("echo")
    answer = client.post("/v1/chat/completions", json=chat)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == SECRET_TEXT

    upstream.queue("echo")
    with client.stream("POST", "/v1/chat/completions", json={**chat, "stream": True}) as response:
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: {")]
    pieces = [json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events if '"choices": [{' in e]
    assert "".join(pieces) == SECRET_TEXT

    upstream.queue(*["echo"] * 4)
    rewrite = client.post("/api/rewrite", json={"text": SECRET_TEXT, "style": "formal"})
    assert rewrite.status_code == 200, rewrite.text
    assert all(value in rewrite.json()["text"] for value in RAW) and "[PERSON_" not in rewrite.json()["text"]

    sent = json.dumps([r.body for r in upstream.requests], ensure_ascii=False)
    assert "[PERSON_1]" in sent and "[PERSON_2]" in sent and "[EMAIL_1]" in sent and "[CARD_1]" in sent
    assert not any(value in sent for value in RAW)
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert caplog.records and not any(value in logged for value in RAW)


def test_correct_with_redaction_keeps_edits_on_the_original_text():
    def fixer(messages, params):
        from draftsmith.models.fake import echo_responder

        return echo_responder(messages, params).replace("She go ", "She goes ")

    model = FakeModel(fixer)
    client = TestClient(create_app(SETTINGS, model))
    text = "She go to ana@example.org every day."
    response = client.post("/api/correct", json={"text": text, "redact_pii": True})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["text"] == "She goes to ana@example.org every day."
    assert [(e["original"], e["replacement"]) for e in data["edits"]] == [("go", "goes")]
    assert "ana@example.org" not in json.dumps([m.content for call in model.calls for m in call])


@pytest.mark.model
def test_real_model_over_http_never_sees_the_values_and_they_come_back():
    from draftsmith.config import load_settings
    from draftsmith.models.loader import load_model

    real = load_model("qwen2.5-0.5b", load_settings(model="qwen2.5-0.5b", prefix_cache=False))
    seen: list[str] = []

    class Recording(FakeModel):
        name = real.name

        def stream(self, messages, params):
            seen.extend(m.content for m in messages)
            return real.stream(messages, params)

    client = TestClient(create_app(SETTINGS, Recording(), config=ServerConfig(redact_pii=True)))
    text = "Please email ana@example.org or call +44 20 7946 0958 tomorrow, he dont know."
    response = client.post("/api/correct", json={"text": text})
    assert response.status_code == 200, response.text
    assert seen and not any("ana@example.org" in s or "7946 0958" in s for s in seen)
    assert "ana@example.org" in response.json()["text"] and "+44 20 7946 0958" in response.json()["text"]
    assert "[EMAIL" not in response.json()["text"]


@pytest.mark.parametrize(
    ("spec", "remote"),
    [
        ("openai:https://api.example.com/v1#gpt", True),
        ("openai:http://10.0.0.7:8000/v1", True),
        ("openai:http://127.0.0.1:8000/v1", False),
        ("openai:http://localhost:11434/v1#llama3", False),
        ("openai:http://[::1]:8000/v1", False),
        ("qwen2.5-0.5b", False),
        ("fake", False),
    ],
)
def test_only_an_endpoint_off_this_machine_counts_as_remote(spec, remote):
    from draftsmith.models.loader import is_remote, redacts

    assert is_remote(spec) is remote
    assert redacts(spec, Settings(model=spec)) is remote  # auto, the default
    assert redacts(spec, Settings(model=spec, redact_pii="on")) is True
    assert redacts(spec, Settings(model=spec, redact_pii="off")) is False


def test_a_remote_backend_gets_masking_by_default_in_the_server_and_the_python_api(upstream):
    """auto: a server over an openai: endpoint off this machine masks without being told to; the Python API
    (and so the CLI) wraps the same way when the setting is on. A loopback endpoint is left alone by auto."""
    from draftsmith import Assistant
    from draftsmith.safety.pii import RedactingModel

    remote = Settings(model="openai:https://llm.example.com/v1#m")
    assert create_app(remote, FakeModel()).state.server_config.redact_pii is True
    assert create_app(Settings(model="fake"), FakeModel()).state.server_config.redact_pii is False
    forced_off = create_app(remote, FakeModel(), config=ServerConfig(redact_pii=False))
    assert forced_off.state.server_config.redact_pii is False
    local = Settings(model=f"openai:{upstream.url}#fake-model", retries=0, request_timeout=5.0)
    assert not isinstance(Assistant(settings=local).model, RedactingModel)
    forced = local.model_copy(update={"redact_pii": "on"})
    helper = Assistant(settings=forced)
    assert isinstance(helper.model, RedactingModel)
    upstream.queue("echo")
    answer = helper.model.complete([Message(role="user", content=SECRET_TEXT)], GenParams(max_tokens=64))
    assert answer.text == SECRET_TEXT
    sent = json.dumps([r.body for r in upstream.requests], ensure_ascii=False)
    assert not any(value in sent for value in RAW)
