from click.testing import CliRunner

from backend.cli import _register, cli

from .helpers import write_patent_folder


def test_prism_ingest_prints_a_summary(fake_pipeline, tmp_path):
    _settings, pipe = fake_pipeline
    write_patent_folder(tmp_path / "data", "D0999201", "Stool", figures=2)
    (tmp_path / "data" / "old.xml").write_bytes(b'<?xml version="1.0"?>\n<ClaimsDocument></ClaimsDocument>')
    _register()
    result = CliRunner().invoke(cli, ["ingest", "--quiet", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert "ingest summary" in result.output
    assert "skipped: " in result.output and "file-wrapper part" in result.output
    assert sorted(pipe.backend.docs) == ["USD0999201-F1", "USD0999201-F2"]
    again = CliRunner().invoke(cli, ["ingest", "--quiet", str(tmp_path / "data"), str(tmp_path / "missing")])
    assert again.exit_code == 1 and "no such file or directory" in again.output


def test_prism_ingest_needs_a_path():
    _register()
    result = CliRunner().invoke(cli, ["ingest"])
    assert result.exit_code == 2 and "Missing argument" in result.output


def test_summary_lines_do_not_depend_on_terminal_width_or_path_length(fake_pipeline, tmp_path):
    """Rich wrapped "no such file or directory" when the temporary path was long."""
    _settings, pipe = fake_pipeline
    deep = tmp_path.joinpath(*["a-rather-long-folder-name-" + str(i) for i in range(8)])
    write_patent_folder(deep, "D0999202", "Stool", figures=1)
    missing = deep / "missing-folder-with-a-long-name"
    _register()
    for columns in ("20", "80", "300"):
        result = CliRunner().invoke(cli, ["ingest", "--quiet", str(deep), str(missing)], env={"COLUMNS": columns})
        assert result.exit_code == 1, result.output
        lines = result.output.splitlines()
        assert f"failed: {missing}: no such file or directory" in lines, result.output
        assert any("ingest summary" in line for line in lines)
