"""Progress bars: silent when quiet, counting and showing a rate otherwise."""

from __future__ import annotations

from pipeline.progress import make_progress


def test_quiet_progress_prints_nothing(capsys) -> None:
    with make_progress(quiet=True)("jets", 10) as bar:
        for _ in range(10):
            bar.advance()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_reports_on_stderr(capsys) -> None:
    with make_progress(quiet=False)("jets", 4) as bar:
        for _ in range(4):
            bar.advance()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "jets" in captured.err and "4/4" in captured.err
