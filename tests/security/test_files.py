"""Group 4: template and model names cannot leave their folders; a broken model file is a clear error."""

from __future__ import annotations

from pathlib import Path

from draftsmith.prompts import registry

from .probes.files import (
    bad_model_files_are_clear_errors,
    kb_add_stays_in_the_tree,
    names_over_http,
    pulled_model_names_stay_in_their_folder,
    template_names_stay_in_their_folder,
)


def test_template_names_cannot_leave_the_templates_folder(data_dir):
    findings = template_names_stay_in_their_folder(data_dir)
    assert not findings.failures, findings.summary()


def test_get_template_refuses_every_hostile_name(data_dir):
    findings = template_names_stay_in_their_folder(data_dir)
    assert not [f for f in findings.failures if f.startswith("get_template(")], findings.summary()
    assert findings.total > 40


def test_a_naive_template_lookup_fails_the_probe(data_dir):
    def naive(name: str):
        from draftsmith.prompts.template import parse_template

        return parse_template((data_dir / "templates" / f"{name}.md").read_text())

    findings = template_names_stay_in_their_folder(data_dir, get_template=naive)
    assert any("loaded a file from outside" in f for f in findings.failures), findings.summary()


def test_names_over_http_are_refused_or_ignored(target, data_dir):
    findings = names_over_http(target, data_dir)
    assert not findings.failures, findings.summary()


def test_broken_model_files_are_model_errors_and_exit_code_3(tmp_path):
    findings = bad_model_files_are_clear_errors(tmp_path / "home")
    assert not findings.failures, findings.summary()


def test_pulled_file_names_cannot_leave_the_models_folder(data_dir):
    findings = pulled_model_names_stay_in_their_folder(data_dir)
    assert not findings.failures, findings.summary()


def test_a_pull_that_checks_names_passes_the_probe(data_dir, tmp_path):
    from draftsmith.errors import ModelError
    from draftsmith.models import catalog

    def checked_pull(repo: str, filename: str) -> Path:
        if Path(filename).name != filename:
            raise ModelError(f"{filename!r} is not a file name")
        return catalog.pull(repo, filename)

    findings = pulled_model_names_stay_in_their_folder(data_dir, pull=checked_pull)
    assert not findings.failures, findings.summary()
    assert registry.SUFFIX == ".md"


def test_kb_add_does_not_follow_symlinks_out_of_the_folder():
    findings = kb_add_stays_in_the_tree()
    assert not findings.failures, findings.summary()


def test_a_collector_that_follows_symlinks_fails_the_probe():
    from draftsmith.knowledge.kb import collect_files

    findings = kb_add_stays_in_the_tree(collect_files=lambda paths: collect_files(paths, follow_symlinks=True))
    assert any("followed symlinks" in f for f in findings.failures), findings.summary()


def test_a_collector_that_stays_in_the_tree_passes_the_probe():
    def inside_only(paths):
        root = Path(paths[0]).resolve()
        found = [p.resolve() for p in Path(paths[0]).rglob("*") if p.is_file() and not p.is_symlink()]
        return [p for p in found if root in p.parents], [], 0

    findings = kb_add_stays_in_the_tree(collect_files=inside_only)
    assert not findings.failures, findings.summary()
