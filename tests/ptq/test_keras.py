"""PTQ as a spec mode through the real train, export and convert stages (hls4ml C-sim bit-exact)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from pipeline.errors import PipelineError
from pipeline.models.spec import parse_spec
from pipeline.stages import convert, export, train
from tests.stages.test_train import make_data_dir, stage_inputs, toy_spec

PTQ = {
    "mode": "ptq",
    "method": "mmse",
    "equalization": True,
    "activation_equalization": True,
    "rounding": "adaround",  # learned rounding from the GPTQ start: both paths deploy
    "format_search": True,
    "calibration_jets": 500,
}


@pytest.fixture(scope="module")
def ptq_train(tmp_path_factory):
    root = tmp_path_factory.mktemp("ptq")
    data_dir = make_data_dir(root / "data")
    specs = {"toy_ptq": toy_spec(root, "toy_ptq", quantization=PTQ)}
    train.run(stage_inputs(root / "train", data_dir, specs), train.Config())
    return root, data_dir, specs


def test_train_stage_quantizes_after_training(ptq_train) -> None:
    from pipeline.data.io import load_dataset
    from pipeline.models.io import load_model
    from pipeline.ptq.fixed_point import quantize

    root, data_dir, _ = ptq_train
    out = root / "train" / "toy_ptq"
    record = json.loads((out / "ptq.json").read_text())
    assert record["method"] == "mmse" and record["calibration_jets"] == 500
    assert record["format_search"] and record["activation_equalization"]
    assert record["rounding"] == "adaround"
    model = load_model(out / "model.h5")
    dataset = load_dataset(data_dir)
    # the saved QKeras model computes the PTQ network: on-grid weights and its logits
    for index, layer in enumerate(record["layers"], start=1):
        kernel = model.get_layer(f"dense_{index}").get_weights()[0]
        weight = layer["weight"]
        np.testing.assert_array_equal(
            quantize(kernel, weight["bits"], weight["integer_bits"], signed=True), kernel
        )
    accuracy = float(np.mean(np.argmax(model.predict(dataset.x_test, verbose=0), axis=1) == dataset.y_test))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["physics"]["accuracy"] == pytest.approx(accuracy)
    assert accuracy > record["float_test_accuracy"] - 0.1  # 6-bit PTQ of the toy task keeps most of it


def test_ptq_spec_refuses_pruning_and_a2q() -> None:
    base = {"name": "p", "layers": [{"units": 5, "activation": "linear"}], "quantization": {"mode": "ptq"}}
    with pytest.raises(PipelineError, match=r"quantization\.mode"):
        parse_spec({**base, "pruning": {"target_sparsity": 0.5}}, "test")


@pytest.mark.slow
def test_ptq_model_converts_bit_exactly(ptq_train) -> None:
    from pipeline.stage_api import StageInputs

    root, data_dir, specs = ptq_train
    constrain_dir = root / "constrain" / "toy_ptq"
    constrain_dir.mkdir(parents=True)
    shutil.copy(root / "train" / "toy_ptq" / "model.h5", constrain_dir / "model.h5")
    layers = [{"name": f"dense_{k}", "target_bits": None} for k in (1, 2, 3)]
    (constrain_dir / "accumulators.json").write_text(json.dumps({"layers": layers}))

    def inputs(out, upstream, repo):
        return StageInputs(out, upstream, ("toy_ptq",), specs, repo, seed=1, quiet=True)

    upstream = {"data": data_dir, "constrain": root / "constrain"}
    export.run(inputs(root / "export", upstream, root), export.Config())
    repo = root / "repo"
    (repo / "hls4ml_configs").mkdir(parents=True)
    shutil.copy(
        convert.__file__.rsplit("/pipeline/", 1)[0] + "/hls4ml_configs/vitis_latency.yml",
        repo / "hls4ml_configs",
    )
    convert.run(
        inputs(root / "convert", {**upstream, "export": root / "export"}, repo),
        convert.Config(testbench_jets=20),
    )
    record = json.loads((root / "convert" / "toy_ptq" / "bit_exact.json").read_text())
    assert record["jets"] > 0 and record["mismatches"] == 0 and record["emulator_vs_csim_mismatches"] == 0
