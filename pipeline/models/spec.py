"""Model specs (``models/<name>.yaml``): a model is data, not code.

Schema (every key optional unless marked; unknown keys are errors)::

    name: jet_dnn_q6                  # must equal the file stem
    description: free text
    input_features: 16
    input_quantizer: {bits: 16, integer_bits: 6}      # quantized_bits(16, 6, alpha=1); null = float input
    input_feature_quantizers: null    # one {bits, integer_bits} per input feature (quantized_bits, sign
                                      # not counted), applied where the features are computed; each must
                                      # be exact in input_quantizer (pipeline.models.inputs)
    defaults:                                         # apply to every layer unless the layer overrides
      weight:     {bits: 6, integer_bits: 0}          # quantized_bits(6, 0, alpha=1); null = float
      bias:       {bits: 6, integer_bits: 0}          # quantized_bits(6, 0, alpha=1); null = float
      activation: {bits: 6, integer_bits: 0}          # quantized_relu(6, 0); null = float relu
      batch_norm: false
      accumulator_bits: null                          # P >= 2: the constrain stage (A2Q) acts on it
      accumulator_method: null                        # a2q | a2q_plus (required when accumulator_bits set)
    layers:                                           # required: dense layers in order
      - {units: 64, activation: relu}                 # any defaults key may be overridden per layer
      - {units: 5, activation: linear}                # the last layer gives the logits
    output_quantizer: null                            # quantized_bits on the logits; null = raw logits
    pruning: {target_sparsity: 0.75, schedule: polynomial, epochs: 10}   # null = no pruning
    training: {epochs: 30, batch_size: 1024, learning_rate: 0.001, patience: 5}
    precision: {mode: learned, beta: 1.0e-6, min_bits: 2, max_bits: 16}   # null / mode fixed = as given
    quantization: {mode: qat}          # or {mode: ptq, method: mmse | max, bias_correction: true,
                                       #     equalization: false, rounding: nearest | gptq | adaround,
                                       #     format_search: false, activation_equalization: false,
                                       #     calibration_jets: 5000}

Bit widths follow QKeras (docs/architecture.md): ``bits`` total and ``integer_bits`` = QKeras
``integer``; the sign bit is NOT counted for ``quantized_bits`` (so ``integer_bits <= bits - 1``),
``quantized_relu`` is unsigned (``integer_bits <= bits``). Softmax is never part of the model.

Layer names are stable: ``input``, ``input_quant``, ``dense_<k>``, ``bn_<k>``, ``relu_<k>`` (k from 1),
``output_quant``; :meth:`ModelSpec.resolved_layers` gives them with the defaults applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from pipeline.errors import PipelineError
from pipeline.stage_api import StrictModel

ACCUMULATOR_METHODS: tuple[str, ...] = ("a2q", "a2q_plus")


class QuantizerSpec(StrictModel):
    """A fixed-point quantizer: ``bits`` total, ``integer_bits`` = QKeras ``integer``."""

    bits: int
    integer_bits: int

    def check(self, signed: bool) -> None:
        """Raise ``ValueError`` for impossible widths (``signed``: ``quantized_bits``, sign not counted)."""
        if self.bits < 1:
            raise ValueError(f"bits must be >= 1, got {self.bits}")
        if self.integer_bits < 0:
            raise ValueError(f"integer_bits must be >= 0, got {self.integer_bits}")
        limit = self.bits - 1 if signed else self.bits
        if self.integer_bits > limit:
            kind = "bits - 1 (sign bit not counted)" if signed else "bits"
            raise ValueError(f"integer_bits {self.integer_bits} exceeds {kind} = {limit}")
        if signed and self.bits < 2:
            raise ValueError("a signed quantizer needs bits >= 2")


class LayerOptions(StrictModel):
    """Options a layer can take from ``defaults`` or set itself (``None`` here means 'not given')."""

    weight: QuantizerSpec | None = None
    bias: QuantizerSpec | None = None
    activation_quantizer: QuantizerSpec | None = None
    batch_norm: bool | None = None
    accumulator_bits: int | None = None
    accumulator_method: Literal["a2q", "a2q_plus"] | None = None


class Defaults(StrictModel):
    """Model-level defaults (YAML key ``activation`` is the activation quantizer)."""

    weight: QuantizerSpec | None = None
    bias: QuantizerSpec | None = None
    activation: QuantizerSpec | None = None
    batch_norm: bool = False
    accumulator_bits: int | None = None
    accumulator_method: Literal["a2q", "a2q_plus"] | None = None


class LayerSpec(LayerOptions):
    """One dense layer; unset options (those of :class:`LayerOptions`) come from ``defaults``."""

    units: int = Field(ge=1)
    activation: Literal["relu", "linear"] = "relu"


class PruningSpec(StrictModel):
    """Quantization-aware pruning (Hawks et al. 2021): prune to ``target_sparsity`` of each kernel.

    ``polynomial``: tfmot PolynomialDecay from ``initial_sparsity`` to ``target_sparsity`` over the
    first ``ramp_fraction`` of ``epochs`` (pruning every ``frequency`` steps, fewer on small data sets
    so that the ramp has >= 10 updates), then fine-tuning at the target.
    ``iterative``: ``iterations`` rounds of constant sparsity rising linearly to the target, each
    fine-tuned for ``epochs / iterations`` epochs.
    """

    target_sparsity: float = Field(gt=0.0, lt=1.0)
    schedule: Literal["polynomial", "iterative"] = "polynomial"
    initial_sparsity: float = Field(default=0.0, ge=0.0, lt=1.0)
    epochs: int = Field(default=10, ge=1)
    ramp_fraction: float = Field(default=0.5, gt=0.0, le=1.0)
    frequency: int = Field(default=100, ge=1)
    iterations: int = Field(default=3, ge=1)
    learning_rate: float | None = Field(default=None, gt=0.0)

    @model_validator(mode="after")
    def _initial_below_target(self) -> PruningSpec:
        if self.initial_sparsity >= self.target_sparsity:
            raise ValueError("initial_sparsity must be below target_sparsity")
        return self


class TrainingSpec(StrictModel):
    """Quantization-aware training settings (Adam, early stopping on validation loss)."""

    epochs: int = Field(default=30, ge=1)
    batch_size: int = Field(default=1024, ge=1)
    learning_rate: float = Field(default=1e-3, gt=0.0)
    patience: int = Field(default=5, ge=1)


class PrecisionSpec(StrictModel):
    """How bit widths are chosen: ``fixed`` (as written) or ``learned`` during training
    (:mod:`pipeline.models.learned`: QFX/HGQ trainable integer and fractional bits, per layer for weights
    and activations, per feature for the input; the spec's widths are the initial widths).

    ``beta`` weights the EBOPs-like resource term in the loss; learned widths stay in
    ``[min_bits, max_bits]``; ``input_min_bits`` (default ``min_bits``) is a separate floor for the
    per-feature input widths, where the resource term otherwise cuts the features' precision first;
    ``input_min_integer_bits`` a floor for their integer bits (their range: standardized features with
    0 integer bits saturate at +-1).
    """

    mode: Literal["fixed", "learned"] = "fixed"
    beta: float = Field(default=0.0, ge=0.0)
    min_bits: int = Field(default=2, ge=1)
    max_bits: int = Field(default=16, ge=2, le=24)
    input_min_bits: int | None = Field(default=None, ge=1)
    input_min_integer_bits: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> PrecisionSpec:
        if self.min_bits > self.max_bits:
            raise ValueError("min_bits must not exceed max_bits")
        if self.input_min_bits is not None and self.input_min_bits > self.max_bits:
            raise ValueError("input_min_bits must not exceed max_bits")
        if self.input_min_integer_bits is not None and self.input_min_integer_bits > self.max_bits - 2:
            raise ValueError("input_min_integer_bits must leave the sign and one bit within max_bits")
        return self


class QuantizationSpec(StrictModel):
    """How the quantizers get their values.

    ``qat``: quantization-aware training (the default). ``ptq``: post-training quantization
    (:mod:`pipeline.ptq`): the float twin of the network is trained, then every quantizer's binary
    point (``integer_bits``) is chosen by ``method`` (``mmse``: minimum quantization MSE, Choukroun et
    al. 2019; ``max``: cover the maximum) on ``calibration_jets`` training jets, with optional bias
    correction and power-of-two cross-layer equalization (Nagel et al. 2019), and ``rounding``
    ``nearest``, ``gptq`` (error-compensating rounding, Frantar et al. 2023) or ``adaround``
    (learned on the network output from the GPTQ start, Nagel et al. 2020,
    :mod:`pipeline.ptq.adaround`); ``format_search`` refines every binary point on the network output
    (:mod:`pipeline.ptq.search`);
    ``activation_equalization`` gives hidden channels power-of-two activation scales
    (:mod:`pipeline.ptq.activation_equalization`). The spec's ``bits``
    are kept, its ``integer_bits`` are replaced.
    """

    mode: Literal["qat", "ptq"] = "qat"
    method: Literal["mmse", "max"] = "mmse"
    bias_correction: bool = True
    equalization: bool = False
    rounding: Literal["nearest", "gptq", "adaround"] = "nearest"
    format_search: bool = False
    activation_equalization: bool = False
    calibration_jets: int = Field(default=5000, ge=1)


@dataclass(frozen=True)
class ResolvedLayer:
    """A dense layer with the defaults applied and its Keras layer names.

    ``activation_name`` is ``None`` for a linear layer (no activation layer); ``bn_name`` is ``None``
    without batch norm. Quantizers ``None`` mean float.
    """

    index: int
    units: int
    activation: Literal["relu", "linear"]
    weight: QuantizerSpec | None
    bias: QuantizerSpec | None
    activation_quantizer: QuantizerSpec | None
    batch_norm: bool
    accumulator_bits: int | None
    accumulator_method: str | None
    dense_name: str
    bn_name: str | None
    activation_name: str | None

    @property
    def quantized(self) -> bool:
        """True when any of the layer's weight/bias/activation quantizers is set."""
        return any(q is not None for q in (self.weight, self.bias, self.activation_quantizer))


class ModelSpec(StrictModel):
    """A validated model spec (see the module docstring for the YAML schema)."""

    name: str
    description: str = ""
    input_features: int = Field(default=16, ge=1)
    input_quantizer: QuantizerSpec | None = None
    input_feature_quantizers: tuple[QuantizerSpec, ...] | None = None
    defaults: Defaults = Defaults()
    layers: tuple[LayerSpec, ...] = Field(min_length=1)
    output_quantizer: QuantizerSpec | None = None
    pruning: PruningSpec | None = None
    training: TrainingSpec = TrainingSpec()
    precision: PrecisionSpec | None = None

    @property
    def learned_precision(self) -> bool:
        """True when the bit widths are learned during training (``precision.mode: learned``)."""
        return self.precision is not None and self.precision.mode == "learned"

    quantization: QuantizationSpec = QuantizationSpec()

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        if self.quantization.mode == "ptq":
            if self.learned_precision:
                raise ValueError(
                    "quantization.mode: ptq fixes bit widths, precision.mode learned trains them"
                )
            if self.pruning is not None:
                raise ValueError(
                    "quantization.mode: ptq does not prune (pruning needs training): drop pruning"
                )
            if any(layer.accumulator_bits is not None for layer in self.resolved_layers()):
                raise ValueError("quantization.mode: ptq cannot constrain accumulators (A2Q trains)")
        for key, quantizer in (
            ("input_quantizer", self.input_quantizer),
            ("output_quantizer", self.output_quantizer),
        ):
            if quantizer is not None:
                _check_quantizer(quantizer, True, key)
        if self.input_feature_quantizers is not None:
            _check_feature_quantizers(self)
        for index, layer in enumerate(self.resolved_layers()):
            where = f"layers.{index}"
            for key, quantizer, signed in (
                ("weight", layer.weight, True),
                ("bias", layer.bias, True),
                ("activation_quantizer", layer.activation_quantizer, False),
            ):
                if quantizer is not None:
                    _check_quantizer(quantizer, signed, f"{where}.{key} (or defaults)")
            if layer.accumulator_bits is not None:
                if layer.accumulator_bits < 2:
                    raise ValueError(f"{where}.accumulator_bits: must be >= 2, got {layer.accumulator_bits}")
                if layer.accumulator_method is None:
                    raise ValueError(f"{where}.accumulator_method: required with accumulator_bits")
                if layer.weight is None:
                    raise ValueError(f"{where}.accumulator_bits: needs a quantized weight")
            if layer.batch_norm and layer.quantized:
                raise ValueError(
                    f"{where}.batch_norm: not allowed in a quantized layer (breaks bit-exactness)"
                )
            if self.layers[index].activation_quantizer is not None and layer.activation == "linear":
                raise ValueError(f"{where}.activation_quantizer: a linear layer has no activation")
        if self.learned_precision:
            _check_learned(self)
        if self.layers[-1].activation != "linear":
            last = len(self.layers) - 1
            raise ValueError(
                f"layers.{last}.activation: the last layer must be linear (logits out, no softmax)"
            )
        return self

    @property
    def quantized(self) -> bool:
        """True when the model has any quantizer."""
        return self.input_quantizer is not None or any(layer.quantized for layer in self.resolved_layers())

    @property
    def n_classes(self) -> int:
        """Number of logits (units of the last layer)."""
        return self.layers[-1].units

    def resolved_layers(self) -> tuple[ResolvedLayer, ...]:
        """The layers with defaults applied and their stable Keras names."""
        resolved = []
        relu_count = 0
        defaults = self.defaults
        for index, layer in enumerate(self.layers):
            k = index + 1
            batch_norm = defaults.batch_norm if layer.batch_norm is None else layer.batch_norm
            activation_name = None
            if layer.activation == "relu":
                relu_count += 1
                activation_name = f"relu_{relu_count}"
            set_fields = layer.model_fields_set
            resolved.append(
                ResolvedLayer(
                    index=index,
                    units=layer.units,
                    activation=layer.activation,
                    weight=layer.weight if "weight" in set_fields else defaults.weight,
                    bias=layer.bias if "bias" in set_fields else defaults.bias,
                    activation_quantizer=(
                        layer.activation_quantizer
                        if "activation_quantizer" in set_fields
                        else defaults.activation
                    )
                    if layer.activation == "relu"
                    else None,
                    batch_norm=batch_norm,
                    accumulator_bits=layer.accumulator_bits
                    if "accumulator_bits" in set_fields
                    else defaults.accumulator_bits,
                    accumulator_method=layer.accumulator_method
                    if "accumulator_method" in set_fields
                    else defaults.accumulator_method,
                    dense_name=f"dense_{k}",
                    bn_name=f"bn_{k}" if batch_norm else None,
                    activation_name=activation_name,
                )
            )
        return tuple(resolved)


def _check_learned(spec: ModelSpec) -> None:
    """A learned-precision spec needs initial widths everywhere (input, weights, biases, activations)."""
    if spec.input_quantizer is None:
        raise ValueError("input_quantizer: precision mode learned needs an initial input quantizer")
    for index, layer in enumerate(spec.resolved_layers()):
        for key in ("weight", "bias"):
            if getattr(layer, key) is None:
                raise ValueError(f"layers.{index}.{key} (or defaults): precision mode learned needs it")
        if layer.activation == "relu" and layer.activation_quantizer is None:
            raise ValueError(
                f"layers.{index}.activation_quantizer (or defaults): precision mode learned needs it"
            )
        if layer.batch_norm:
            raise ValueError(f"layers.{index}: batch_norm is not supported with learned precision")
    if spec.output_quantizer is not None:
        raise ValueError("output_quantizer: not supported with learned precision")


def _check_feature_quantizers(spec: ModelSpec) -> None:
    """``input_feature_quantizers``: one valid signed format per input feature, each exact in the
    ``input_quantizer`` (the container the network's input keeps): no more fractional bits, no more
    integer bits (then its whole range lies inside the container's)."""
    key = "input_feature_quantizers"
    formats = spec.input_feature_quantizers or ()
    if spec.learned_precision:
        raise ValueError(f"{key}: precision mode learned learns them during train; remove the key")
    if spec.quantization.mode == "ptq":
        raise ValueError(f"{key}: not supported with quantization.mode ptq (it chooses the input format)")
    container = spec.input_quantizer
    if container is None:
        raise ValueError(f"{key}: needs input_quantizer, the container that holds every per-feature format")
    if len(formats) != spec.input_features:
        raise ValueError(f"{key}: {len(formats)} formats for input_features = {spec.input_features}")
    container_fractional = container.bits - 1 - container.integer_bits
    for index, fmt in enumerate(formats):
        _check_quantizer(fmt, True, f"{key}.{index}")
        fractional = fmt.bits - 1 - fmt.integer_bits
        if fractional > container_fractional or fmt.integer_bits > container.integer_bits:
            raise ValueError(
                f"{key}.{index}: {{bits: {fmt.bits}, integer_bits: {fmt.integer_bits}}} is not exact in "
                f"input_quantizer {{bits: {container.bits}, integer_bits: {container.integer_bits}}} "
                f"(fractional bits {fractional} vs {container_fractional}, integer bits {fmt.integer_bits} "
                f"vs {container.integer_bits}): widen input_quantizer or narrow the feature's format"
            )


def _check_quantizer(quantizer: QuantizerSpec, signed: bool, key: str) -> None:
    try:
        quantizer.check(signed)
    except ValueError as error:
        raise ValueError(f"{key}: {error}") from None


def parse_spec(data: object, source: str, expected_name: str | None = None) -> ModelSpec:
    """Validate a parsed YAML mapping as a :class:`ModelSpec`; errors are PipelineErrors naming
    ``source`` and the offending key."""
    if not isinstance(data, dict):
        raise PipelineError(
            "spec", "a model spec must be a YAML mapping", input=source, fix="see models/*.yaml"
        )
    try:
        spec = ModelSpec.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if not key:  # whole-spec checks put the key first: "layers.0.weight (or defaults): ..."
            key, _, message = message.partition(": ")
        raise PipelineError(
            "spec",
            f"invalid model spec at key '{key}': {message}",
            input=f"{source}: {key}",
            fix="correct the key (schema in pipeline/models/spec.py)",
        ) from error
    if expected_name is not None and spec.name != expected_name:
        raise PipelineError(
            "spec",
            f"spec name '{spec.name}' differs from the file name '{expected_name}'",
            input=f"{source}: name",
            fix=f"set name: {expected_name}",
        )
    return spec


def load_spec(path: Path) -> ModelSpec:
    """Read and validate ``models/<name>.yaml``; the spec's ``name`` must equal the file stem."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise PipelineError("spec", f"cannot read model spec: {error}", input=str(path)) from error
    except yaml.YAMLError as error:
        raise PipelineError("spec", f"model spec is not valid YAML: {error}", input=str(path)) from error
    # a learned-precision model's frozen spec (train/<model>/frozen_spec.yaml) is named by its directory
    expected = path.parent.name if path.name == "frozen_spec.yaml" else path.stem
    return parse_spec(data, str(path), expected_name=expected)


def dump_spec(spec: ModelSpec) -> str:
    """The spec as YAML text (round-trips through :func:`parse_spec`)."""
    import yaml

    return yaml.safe_dump(spec.model_dump(mode="json", exclude_unset=True), sort_keys=False)
