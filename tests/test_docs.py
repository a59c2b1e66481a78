"""The README's figures come from committed files, and the docs agree with the code (issue 15, 11-12)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
RESULTS = REPO / "benchmarks" / "results"


def load_benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def results_blocks() -> dict[str, str]:
    return dict(re.findall(r"<!-- results:(\w+) -->\n(.*?)\n<!-- /results:\1 -->", README, flags=re.S))


def test_generated_tables_equal_their_results_file() -> None:
    bench = load_benchmark("bench_default_run")
    renderers = {
        "default_run_speed": load_benchmark("bench_default_run_speed").sentence,
        "default_run_vs_baseline": load_benchmark("bench_default_run_vs_baseline").sentence,
    }
    blocks = results_blocks()
    assert {"default_run", "default_run_with_q10in", "default_run_speed"} <= set(blocks)
    for name, block in blocks.items():
        path = RESULTS / f"{name}.json"
        if path.is_file():
            assert block == renderers.get(name, bench.markdown_table)(json.loads(path.read_text())), (
                f"README table {name} is stale"
            )
        else:  # not measured yet: the README must not show figures for it
            assert "|" not in block and not re.search(r"\d", block.split("run")[0]), block


def test_every_results_file_the_readme_names_is_committed_or_pending() -> None:
    pending = {name for name in results_blocks() if not (RESULTS / f"{name}.json").is_file()}
    for name in set(re.findall(r"benchmarks/results/(\w+)\.json", README)):
        assert (RESULTS / f"{name}.json").is_file() or name in pending, name
        assert name in (RESULTS / "README.md").read_text() or name in pending, f"{name} not in results README"


def test_qap_ratios_against_float_and_against_the_6_bit_model() -> None:
    models = json.loads((RESULTS / "qap_100k_jets.json").read_text())["models"]
    text = README.replace("\n  ", " ")

    def claim(baseline: str) -> str:
        drop = 100 * (models[baseline]["accuracy"] - models["jet_dnn_q6_qap"]["accuracy"])
        ratio = models[baseline]["bops"] / models["jet_dnn_q6_qap"]["bops"]
        return f"costs {drop:.2f} points for {ratio:.1f}x fewer BOPs"

    assert claim("jet_dnn_float") in text and claim("jet_dnn_q6") in text


def test_emulator_speedup_is_the_committed_measurement() -> None:
    record = json.loads((RESULTS / "emulator_100k_jets.json").read_text())
    text = README.replace("\n  ", " ")
    assert f"is {record['speedup_best_of_repeats']:.0f}x faster than hls4ml's compiled `predict`" in text
    assert f"with {record['mismatching_jets']} differences" in text
    if "speedup_cpu_time_best_of_repeats" in record:
        assert f"{record['speedup_cpu_time_best_of_repeats']:.0f}x in CPU time" in text


def accumulator_phrases(spec_path: Path) -> tuple[str, str]:
    """``("A2Q with 24 bits", "A2Q+ with 14 bits")``: the first layer's and the others' settings."""
    spec = yaml.safe_load(spec_path.read_text())
    names = {"a2q": "A2Q", "a2q_plus": "A2Q+"}
    first = spec["layers"][0]
    method = names[first.get("accumulator_method", spec["defaults"]["accumulator_method"])]
    bits = first.get("accumulator_bits", spec["defaults"]["accumulator_bits"])
    rest = names[spec["defaults"]["accumulator_method"]], spec["defaults"]["accumulator_bits"]
    return f"{method} with {bits} bits", f"{rest[0]} with {rest[1]} bits"


def test_readme_and_pipeline_yaml_describe_the_shipped_a2q_model_as_its_spec_does() -> None:
    first, rest = accumulator_phrases(REPO / "models" / "jet_dnn_q6_a2q_plus_qap.yaml")
    assert f"{first}\non the 16-bit-input first layer, {rest} elsewhere" in README
    pipeline_yaml = (REPO / "pipeline.yaml").read_text()
    comment = next(line for line in pipeline_yaml.splitlines() if "- jet_dnn_q6_a2q_plus_qap" in line)
    assert f"{first} on layer 1, {rest} elsewhere" in comment


def test_architecture_doc_names_where_the_stage_list_lives() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    place = re.search(r"explicit order: `([\w/.]+): STAGES`", text)
    assert place is not None
    assert "STAGES: tuple" in (REPO / place.group(1)).read_text()


def test_report_docstring_matches_what_the_stage_requires() -> None:
    from pipeline.report import build
    from pipeline.stages import STAGES, report

    earlier = [module.NAME for module in STAGES if module.NAME != "report"]
    assert list(report.REQUIRES) == earlier  # the runner runs every earlier stage first
    assert "never fails" not in (build.__doc__ or "")
    assert "requires every earlier stage" in (build.__doc__ or "")


@pytest.mark.parametrize("path", ["README.md", "docs/architecture.md"])
def test_docs_do_not_promise_the_old_publishing(path: str) -> None:
    text = (REPO / path).read_text()
    assert ".trash" not in text and "renamed to `<run-dir>/<stage>/`" not in text


def test_learned_precision_table_equals_its_results_file() -> None:
    """README, learned precision: the table of `bench_peer_hgq.py --table` (results/peer_hgq.json)."""
    block = re.search(r"<!-- table:peer_hgq -->\n(.*?)\n<!-- /table:peer_hgq -->", README, flags=re.S)
    assert block is not None
    bench = load_benchmark("bench_peer_hgq")
    assert block.group(1) == bench.markdown_table(json.loads((RESULTS / "peer_hgq.json").read_text()))


def test_learned_goal2_table_equals_its_results_file() -> None:
    """README, learned precision goal 2: `bench_peer_hgq.py --goal2-table` of learned_goal2.json."""
    block = re.search(
        r"<!-- table:learned_goal2 -->\n(.*?)\n<!-- /table:learned_goal2 -->", README, flags=re.S
    )
    assert block is not None
    bench = load_benchmark("bench_peer_hgq")
    assert block.group(1) == bench.goal2_table(json.loads((RESULTS / "learned_goal2.json").read_text()))
