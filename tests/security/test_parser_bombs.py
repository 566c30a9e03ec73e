"""Group 5: parser bombs end in a clear per-file error, in bounded time and memory, and the batch goes on."""

from __future__ import annotations

from .probes.bombs import batch_goes_on, parser_bombs


def test_every_parser_bomb_is_refused_quickly_with_its_cause():
    findings = parser_bombs()
    assert not findings.failures, findings.summary()
    assert findings.total >= 21


def test_without_limits_the_bombs_get_through():
    from draftsmith.knowledge.parsers import ParseLimits

    quick = ("docx-ratio", "pdf-pages", "html-depth", "text-lines")
    findings = parser_bombs(ParseLimits.off(), only=quick, measure_memory=False)
    failed = {f.split(":")[0] for f in findings.failures}
    assert failed == set(quick), findings.summary()


def test_a_batch_with_bombs_skips_them_and_ingests_the_rest():
    findings = batch_goes_on()
    assert not findings.failures, findings.summary()


def test_without_the_size_cap_the_huge_file_is_not_refused_by_size():
    findings = batch_goes_on(max_bytes=1 << 40)
    assert any("1 GiB file was not refused" in f for f in findings.failures), findings.summary()
