"""The page: self-contained, every table filled from the document, missing records shown."""

from __future__ import annotations

import base64
import re

from pipeline.report.html import layer_rows, per_layer_rows, render_page, table

DOCUMENT = {
    "stage_order": ["data", "train", "constrain", "firmware"],
    "stages": {
        "data": {"present": True, "status": "done", "wall_time_seconds": 1.5},
        "train": {"present": True, "status": "done", "wall_time_seconds": 31.25},
        "constrain": {"present": True, "status": "done", "wall_time_seconds": 2.0},
        "firmware": {"present": False},
    },
    "tool_versions": {"hls4ml": "1.3.0"},
    "missing": ["firmware: stage not run"],
    "firmware_report": None,
    "models": {
        "m": {
            "summary": {"bops": {"value": 4321.0, "source": "train/metrics:cost.bops"}},
            "performance": {
                "exact": {
                    "accuracy": 0.7512,
                    "classes": {
                        "t": {
                            "auc": 0.93,
                            "working_points": [
                                {
                                    "target_signal_efficiency": 0.5,
                                    "threshold": 0.625,
                                    "signal_efficiency": 0.5,
                                    "background_efficiency": 0.04,
                                    "background_rejection": 25.0,
                                    "selected_background": 8,
                                }
                            ],
                        }
                    },
                },
                "float": {"accuracy": 0.7533, "classes": {}},
            },
            "stages": {
                "train": {
                    "metrics": {
                        "cost": {"layers": [{"name": "dense_1", "weight_bits": 6, "weight_sparsity": 0.75}]},
                        "information": {
                            "layers": [{"name": "relu_1", "entropy_bits": 3.5, "efficiency": 0.42}]
                        },
                    }
                },
                "constrain": {
                    "accumulators": {"layers": [{"name": "dense_1", "target_bits": 16, "fan_in": 16}]}
                },
                "convert": {"metrics": {"accumulator_types": {"dense_1": "ap_fixed<16,6>"}}},
            },
        }
    },
}


def test_page_is_self_contained_and_shows_the_records():
    png = b"\x89PNG\r\n\x1a\nfake"
    page = render_page(DOCUMENT, {"roc_t.png": png, "stage_timings.png": png}, "my run")
    assert "<title>my run</title>" in page
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) == 2 and all(source.startswith("data:image/png;base64,") for source in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1]) == png
    assert "http" not in page.replace("charset", "")  # no external resource
    for shown in ("75.12 %", "4,321", "0.625", "25", "31.25", "hls4ml", "firmware: stage not run"):
        assert shown in page
    assert "not available" in page  # no Pareto figure given


def test_layer_rows_merge_cost_information_and_accumulators():
    source, rows = layer_rows(DOCUMENT["models"]["m"], DOCUMENT["stage_order"])
    assert source == "train/metrics.json"
    assert rows == [
        {
            "name": "dense_1",
            "weight_bits": 6,
            "weight_sparsity": 0.75,
            "relu entropy [bits]": 3.5,
            "neural efficiency": 0.42,
            "acc. bits target P": 16,
            "deployed accumulator": "ap_fixed<16,6>",
        }
    ]


def test_table_escapes_and_unions_columns():
    html = table([{"a": 1, "b": "<x>"}, {"c": {"d": None}}])
    assert "&lt;x&gt;" in html and "<th>c.d</th>" in html and "–" in html
    assert per_layer_rows({"layers": {"dense_1": {"bits": 3}}}) == [{"layer": "dense_1", "bits": 3}]
