"""The serving graph holds the PAA kernels as baked (T, T) constants, not their construction."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from onnx import numpy_helper

from tests.export.conftest import MAX_LEN, ExportedFactory
from tests.utils.tiny_models import ALL_VARIANTS, PAA_VARIANTS

# Ops that building or normalising a kernel from g or W would need; none is in the graph.
CONSTRUCTION_OPS = {"ReduceL2", "ReduceSumSquare", "LpNormalization", "Sqrt", "Div", "Pow"}
KERNEL_PARAMETERS = ("key_kernels", "value_kernels")


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_no_kernel_construction_ops_or_parameters_are_left_in_the_graph(
    exported: ExportedFactory, variant: str
) -> None:
    graph = exported(variant).graph.graph
    ops = Counter(node.op_type for node in graph.node)
    assert not CONSTRUCTION_OPS & set(ops), ops
    # The only Trilu is the attention's causal mask, which every model has: the NoPE graph
    # shows how many that is.
    baseline = Counter(node.op_type for node in exported("nope").graph.graph.node)
    assert ops["Trilu"] == baseline["Trilu"]
    names = [init.name for init in graph.initializer]
    assert not [name for name in names if any(p in name for p in KERNEL_PARAMETERS)]


@pytest.mark.parametrize("variant", PAA_VARIANTS)
def test_each_distinct_kernel_is_one_t_by_t_constant_equal_to_the_trained_matrix(
    exported: ExportedFactory, variant: str
) -> None:
    bundle = exported(variant)
    constants = {
        init.name: numpy_helper.to_array(init)
        for init in bundle.graph.graph.initializer
        if init.name.startswith("kernel_")
    }
    with torch.no_grad():
        pairs = bundle.model.block_kernels(MAX_LEN)
    distinct: list[np.ndarray] = []
    for pair in pairs:
        for kernel in pair:
            assert kernel is not None
            matrix = kernel.numpy()
            if not any(matrix is seen or np.array_equal(matrix, seen) for seen in distinct):
                distinct.append(matrix)
    # paa: 2 key + 1 shared value; paa-tt / paa-ft: 2 + 2; paa-tf-shared: 1 + 1.
    expected_count = {"paa": 3, "paa-tt": 4, "paa-ft": 4, "paa-tf-shared": 2}[variant]
    assert len(distinct) == len(constants) == expected_count
    for name, value in constants.items():
        assert value.shape == (MAX_LEN, MAX_LEN), name
        assert any(np.array_equal(value, matrix) for matrix in distinct), name


@pytest.mark.parametrize("variant", sorted(set(ALL_VARIANTS) - set(PAA_VARIANTS)))
def test_baselines_have_no_kernel_constants(exported: ExportedFactory, variant: str) -> None:
    names = [init.name for init in exported(variant).graph.graph.initializer]
    assert not [name for name in names if name.startswith("kernel_")]
