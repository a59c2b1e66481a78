"""accumulators.json parsing: the A2Q report layout (list of records with target_bits) and plain maps."""

from __future__ import annotations

from pipeline.deploy.stage_io import parse_accumulator_bits

NAMES = {"dense_1", "dense_2"}


def test_a2q_report_layout_uses_target_bits_and_skips_unconstrained_layers():
    record = {
        "layers": [
            {"name": "dense_1", "exact_bits": 21, "target_bits": None, "method": None},
            {"name": "dense_2", "exact_bits": 19, "target_bits": 16, "method": "a2q_plus"},
        ]
    }
    assert parse_accumulator_bits(record, NAMES) == {"dense_2": 16}


def test_mapping_layouts_and_foreign_keys():
    assert parse_accumulator_bits({"layers": {"dense_1": 18}}, NAMES) == {"dense_1": 18}
    assert parse_accumulator_bits({"dense_2": {"accumulator_bits": 14}, "method": "a2q"}, NAMES) == {
        "dense_2": 14
    }
    assert parse_accumulator_bits({"layers": [{"name": "other", "bits": 9}]}, NAMES) == {}
