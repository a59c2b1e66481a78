"""Metrics measured after every stage, saved as ``<stage>/<model>/metrics.json``.

Use :func:`measure_model` (``model, dataset, spec -> ModelMetrics``) and :func:`save_metrics`.
All figures are computed on the test split. JSON schema (``schema_version`` 1; NaN/inf are ``null``)::

    {
      "schema_version": 1,
      "model": "jet_dnn_q6",                 # spec name
      "stage": "train",
      "physics": {
        "n_samples": int, "accuracy": float,           # arg-max of the logits vs label
        "class_names": ["g", "q", "w", "z", "t"],
        "auc": {class: float|null},                    # one-vs-rest ROC AUC of the softmax score
        "signal_efficiency": 0.5,
        "background_efficiency": {class: float|null},  # eps_B at that signal efficiency's working point
        "background_rejection": {class: float|null},   # 1 / eps_B (null if eps_B == 0)
        "confusion_matrix": [[int]],                   # row = true class, column = predicted
        "working_point_definition": str                # physics.WORKING_POINT_DEFINITION (threshold rule,
                                                       # the same as the report's working points)
      },
      "cost": {
        "params": int, "nonzero_params": int,          # dense kernels + biases, as deployed (quantized)
        "weight_sparsity": float,                      # zero kernel entries / all kernel entries
        "bops": float,                                 # sum over layers, Hawks et al. 2021 Eq. 1
        "layers": [{"name", "n_inputs", "n_outputs", "params", "nonzero_params",
                    "weight_sparsity", "input_bits", "weight_bits", "bops"}],   # float = 32 bits
        "qonnx_inference_cost": {str: ...} | null      # qonnx inference_cost figures (export stage,
                                                       # with_qonnx_inference_cost)
      },
      "information": {                                  # Schaub & Hotaling 2020
        "layers": [{"name": "relu_1", "neurons": int, "entropy_bits": float, "efficiency": float}],
        "network_efficiency": float|null,              # geometric mean of the layer efficiencies
        "beta": 2.0, "aiq": float|null,                # (accuracy**beta * eta) ** (1 / (beta + 1))
        "n_jets": int,                                 # jets the entropies use: the first
                                                       # NEURAL_EFFICIENCY_JETS (5000) test jets
        "definition": str
      },
      "details": {...}                                  # stage-specific, e.g. {"pruned": false}
    }

A model a stage does not apply to gets ``{"skipped": "<reason>", ...}`` instead (:func:`save_skipped`).
"""

from pipeline.measure.compute import (
    DenseWeights,
    cost_metrics,
    deployed_dense_weights,
    information_metrics,
    measure_model,
    physics_metrics,
)
from pipeline.measure.records import (
    METRICS_FILE,
    SCHEMA_VERSION,
    CostMetrics,
    InformationMetrics,
    LayerCost,
    LayerInformation,
    ModelMetrics,
    PhysicsMetrics,
    load_metrics,
    metrics_to_dict,
    save_metrics,
    save_skipped,
    with_qonnx_inference_cost,
)

__all__ = [
    "METRICS_FILE",
    "SCHEMA_VERSION",
    "CostMetrics",
    "DenseWeights",
    "InformationMetrics",
    "LayerCost",
    "LayerInformation",
    "ModelMetrics",
    "PhysicsMetrics",
    "cost_metrics",
    "deployed_dense_weights",
    "information_metrics",
    "load_metrics",
    "measure_model",
    "metrics_to_dict",
    "physics_metrics",
    "save_metrics",
    "save_skipped",
    "with_qonnx_inference_cost",
]
