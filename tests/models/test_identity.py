"""Stage identities: which specs train (prune) to the same network."""

import pytest

from pipeline.models.identity import group_by_identity, pruning_identity, training_identity
from pipeline.models.spec import parse_spec
from tests.models.test_spec import base_spec

PRUNING = {"target_sparsity": 0.75, "epochs": 2}


def spec(**changes):
    data = base_spec() | {"name": "m"} | changes
    return parse_spec(data, "test")


def test_training_identity_ignores_only_what_training_never_reads():
    plain = training_identity(spec())
    assert plain is not None
    assert training_identity(spec(name="other", description="x")) == plain
    assert training_identity(spec(pruning=PRUNING)) == plain
    accumulators = base_spec()["defaults"] | {"accumulator_bits": 18, "accumulator_method": "a2q"}
    assert training_identity(spec(defaults=accumulators)) == plain
    # anything training reads makes a different identity
    assert training_identity(spec(training={"epochs": 3})) != plain
    layers = [dict(layer) for layer in base_spec()["layers"]]
    layers[0]["units"] += 1
    assert training_identity(spec(layers=layers)) != plain
    assert training_identity(spec(input_quantizer={"bits": 12, "integer_bits": 6})) != plain


def test_learned_precision_and_ptq_are_never_shared():
    assert training_identity(spec(precision={"mode": "learned", "beta": 1e-6})) is None
    assert training_identity(spec(quantization={"mode": "ptq"})) is None


def test_pruning_identity_needs_the_same_training_and_pruning():
    pruned = pruning_identity(spec(pruning=PRUNING))
    assert pruned is not None and pruning_identity(spec()) is None
    assert pruning_identity(spec(name="twin", pruning=PRUNING)) == pruned
    assert pruning_identity(spec(pruning=PRUNING | {"target_sparsity": 0.5})) != pruned
    assert pruning_identity(spec(pruning=PRUNING, training={"epochs": 3})) != pruned


@pytest.mark.parametrize(
    ("identities", "groups"),
    [
        (["a", None, "a", "b"], [[0, 2], [1], [3]]),
        ([None, None], [[0], [1]]),
        (["b", "a", "b", "a"], [[0, 2], [1, 3]]),
        ([], []),
    ],
)
def test_group_by_identity(identities, groups):
    assert group_by_identity(identities) == groups
