"""The README's first command: the demo runs end to end on the embedded default."""
import shutil

import pytest
from click.testing import CliRunner


@pytest.mark.shared_data
def test_demo_on_two_impact_patents(shared_data, tmp_path):
    from backend.cli import _register, cli

    corpus = tmp_path / "corpus"
    for folder in sorted(p for p in (shared_data / "impact").iterdir() if p.is_dir())[:2]:
        shutil.copytree(folder, corpus / folder.name)
    _register()
    result = CliRunner().invoke(cli, ["demo", "--corpus", str(corpus), "--data-dir", str(tmp_path / "var")])
    assert result.exit_code == 0, result.output
    assert "failed 0" in result.output
    assert "Hybrid search" in result.output
    # the query drawing's own patent comes back first: the hybrid search ranks its other views high
    assert "are drawings of the query's own patent" in result.output
    first_row = next(line for line in result.output.splitlines() if line.startswith("│ 1 "))
    assert first_row.split("│")[2].strip().startswith(result.output.split("own patent ")[1].split(".")[0][:8])
    # the drawing alone: its own figure comes back first, verified as the same drawing
    assert "Drawing-only search" in result.output
    rows = [line for line in result.output.split("Drawing-only search")[1].splitlines() if line.startswith("│ 1 ")]
    cells = [c.strip() for c in rows[0].split("│")]
    assert float(cells[-2]) > 0.9, rows[0]        # match score of the query drawing against itself
    assert "other patents' drawings share its class" in result.output


@pytest.mark.shared_data
def test_demo_again_after_the_encoder_changed_reembeds_first(shared_data, tmp_path, monkeypatch):
    """A demo index built by another encoder is re-embedded before the demo ingests into it."""
    from backend.cli import _register, cli

    for name in ("PRISM_DATA_DIR", "PRISM_SEARCH_BACKEND", "PRISM_TASK_MODE"):   # the demo sets them
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    corpus = tmp_path / "corpus"
    folder = sorted(p for p in (shared_data / "impact").iterdir() if p.is_dir())[0]
    shutil.copytree(folder, corpus / folder.name)
    _register()
    args = ["demo", "--corpus", str(corpus), "--data-dir", str(tmp_path / "var")]
    monkeypatch.setenv("PRISM_MODEL_NAME", "prism-tiny")
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0 and "failed 0" in first.output and "Re-embed" not in first.output, first.output
    monkeypatch.setenv("PRISM_MODEL_NAME", "prism-draw")
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert "Re-embed" in again.output and "prism-draw@" in again.output and "failed 0" in again.output


@pytest.mark.shared_data
def test_demo_run_again_ingests_nothing(shared_data, tmp_path, monkeypatch):
    """`make demo` a second time: every document is stored and indexed with the same content already."""
    from backend.cli import _register, cli

    for name in ("PRISM_DATA_DIR", "PRISM_SEARCH_BACKEND", "PRISM_TASK_MODE"):   # the demo sets them
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    corpus = tmp_path / "corpus"
    for folder in sorted(p for p in (shared_data / "impact").iterdir() if p.is_dir())[:2]:
        shutil.copytree(folder, corpus / folder.name)
    _register()
    args = ["demo", "--corpus", str(corpus), "--data-dir", str(tmp_path / "var")]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0 and "ingested 2, updated 0, already done 0, failed 0" in first.output, first.output
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "ingested 0, updated 0, already done 2, failed 0" in again.output, again.output
    assert "Hybrid search" in again.output
