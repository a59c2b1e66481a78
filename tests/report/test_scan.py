"""A scan's parquet table read as it is; its absence is no error."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as parquet

from pipeline.report.plots import scan_figure
from pipeline.report.scan import front, read_scan


def test_read_scan_and_front(tmp_path):
    assert read_scan(tmp_path / "scan") is None
    (tmp_path / "scan").mkdir()
    assert read_scan(tmp_path / "scan")["problems"]  # a folder without a table is noted
    table = pa.table(
        {"accuracy": [0.7, 0.72, float("nan")], "luts": [900, 2000, 50], "on_front": [True, True, False]}
    )
    parquet.write_table(table, tmp_path / "scan" / "trials.parquet")
    (tmp_path / "scan" / "broken.parquet").write_bytes(b"not parquet")
    scan = read_scan(tmp_path / "scan")
    assert scan["columns"] == ["accuracy", "luts", "on_front"] and len(scan["trials"]) == 3
    assert scan["trials"][2]["accuracy"] is None and "broken.parquet" in scan["problems"][0]
    assert [row["luts"] for row in front(scan["trials"])] == [900, 2000]
    png = scan_figure(scan["trials"])
    assert png is not None and png[:4] == b"\x89PNG"
    assert scan_figure([{"accuracy": 0.7}]) is None
