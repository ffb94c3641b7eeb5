"""PAA kernels against their definitions in spec/paa.md, and how variants share them."""

from __future__ import annotations

import pytest
import torch

from tests.utils.tiny_models import ALL_VARIANTS, PAA_VARIANTS, tiny_model
from training.models.kernels import FullKernel, ToeplitzKernel, make_kernel
from training.models.positions import PositionAwareKernels

T = 7


def toeplitz_by_definition(g: torch.Tensor) -> torch.Tensor:
    """``A[t, s] = ĝ[t - s]`` for ``s <= t`` and 0 above the diagonal, ``ĝ = g / ‖g‖₂``."""
    g_hat = g / torch.sqrt((g**2).sum())
    matrix = torch.zeros(len(g), len(g))
    for t in range(len(g)):
        for s in range(t + 1):
            matrix[t, s] = g_hat[t - s]
    return matrix


@pytest.mark.parametrize("key_side", [True, False], ids=["key", "value"])
def test_toeplitz_matrix_matches_its_definition(key_side: bool) -> None:
    torch.manual_seed(0)
    kernel = ToeplitzKernel(T, freeze_first=key_side)
    with torch.no_grad():
        kernel.g.copy_(torch.randn_like(kernel.g))  # any taps, not only the initial ones
    g = torch.cat([torch.ones(1), kernel.g.detach()]) if key_side else kernel.g.detach()
    expected = toeplitz_by_definition(g)
    torch.testing.assert_close(kernel.matrix(), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(kernel.profile(), expected[:, 0], atol=1e-6, rtol=0)
    assert torch.count_nonzero(kernel.matrix().triu(1)) == 0


def test_key_side_toeplitz_first_tap_is_frozen_at_one() -> None:
    torch.manual_seed(0)
    kernel = ToeplitzKernel(T, freeze_first=True)
    parameters = dict(kernel.named_parameters())
    assert list(parameters) == ["g"]
    assert parameters["g"].shape == (T - 1,)  # only g[1:] is learned
    assert "head" not in parameters and torch.equal(kernel.head, torch.ones(1))
    kernel.matrix().diagonal().sum().backward()
    assert kernel.head.grad is None
    optimizer = torch.optim.SGD(kernel.parameters(), lr=10.0)
    optimizer.step()
    assert torch.equal(kernel.head, torch.ones(1))  # training never moves it


def test_value_side_toeplitz_learns_every_tap() -> None:
    torch.manual_seed(0)
    kernel = ToeplitzKernel(T, freeze_first=False)
    assert [name for name, _ in kernel.named_parameters()] == ["g"]
    assert kernel.g.shape == (T,) and kernel.g.requires_grad
    kernel.matrix().sum().backward()
    assert kernel.g.grad is not None and torch.count_nonzero(kernel.g.grad) == T


@pytest.mark.parametrize("key_side", [True, False], ids=["key", "value"])
def test_toeplitz_initialisation_is_one_then_small_non_negative_taps(key_side: bool) -> None:
    torch.manual_seed(0)
    kernel = ToeplitzKernel(50, freeze_first=key_side)
    g = torch.cat([kernel.head, kernel.g]) if key_side else kernel.g
    assert g[0] == 1.0
    tail = g[1:].detach()
    assert (tail >= 0).all() and (tail < 0.1).all()
    assert 0.005 < tail.mean() < 0.03  # E|N(0, 0.02)| = 0.016


def test_full_matrix_is_the_frobenius_normalised_lower_triangle() -> None:
    torch.manual_seed(0)
    kernel = FullKernel(T)
    with torch.no_grad():
        kernel.weight.copy_(torch.randn(T, T))  # the upper triangle must be ignored
    lower = torch.tril(kernel.weight.detach())
    expected = lower / torch.sqrt((lower**2).sum())
    torch.testing.assert_close(kernel.matrix(), expected, atol=1e-6, rtol=0)
    assert torch.linalg.matrix_norm(kernel.matrix()).item() == pytest.approx(1.0, abs=1e-6)


def test_full_initialisation_is_identity_plus_small_non_negative_lower_triangle() -> None:
    torch.manual_seed(0)
    weight = FullKernel(30).weight.detach()
    assert torch.equal(weight.diagonal(), torch.ones(30))
    assert torch.count_nonzero(weight.triu(1)) == 0
    below = weight[torch.ones(30, 30, dtype=torch.bool).tril(-1)]
    assert (below >= 0).all() and (below < 0.1).all()
    assert 0.005 < below.mean() < 0.03


def test_unknown_kernel_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kernel kind 'conv'"):
        make_kernel("conv", T, key_side=True)


# (key kind, key count, value kind, value count) with 3 blocks
EXPECTED_BANKS = {
    "paa": (ToeplitzKernel, 3, FullKernel, 1),
    "paa-tt": (ToeplitzKernel, 3, ToeplitzKernel, 3),
    "paa-ft": (FullKernel, 3, ToeplitzKernel, 3),
    "paa-tf-shared": (ToeplitzKernel, 1, FullKernel, 1),
}


@pytest.mark.parametrize("variant", PAA_VARIANTS)
def test_kernel_kinds_and_counts_follow_the_variant(variant: str) -> None:
    model = tiny_model(variant, 10, max_len=T, blocks=3)
    scheme = model.scheme
    assert isinstance(scheme, PositionAwareKernels)
    key_kind, key_count, value_kind, value_count = EXPECTED_BANKS[variant]
    assert len(scheme.key_kernels) == key_count
    assert len(scheme.value_kernels) == value_count
    assert all(type(k) is key_kind for k in scheme.key_kernels)
    assert all(type(k) is value_kind for k in scheme.value_kernels)
    # The key-side Toeplitz kernel freezes g[0]; a value-side one does not.
    for kernel in scheme.key_kernels:
        assert not isinstance(kernel, ToeplitzKernel) or kernel.freeze_first
    for kernel in scheme.value_kernels:
        assert not isinstance(kernel, ToeplitzKernel) or not kernel.freeze_first


@pytest.mark.parametrize("variant", PAA_VARIANTS)
def test_every_block_gets_its_own_or_the_shared_kernel(variant: str) -> None:
    model = tiny_model(variant, 10, max_len=T, blocks=3)
    scheme = model.scheme
    assert isinstance(scheme, PositionAwareKernels)
    pairs = model.block_kernels(T)
    assert len(pairs) == 3
    for side, bank in ((0, scheme.key_kernels), (1, scheme.value_kernels)):
        for block, pair in enumerate(pairs):
            kernel = pair[side]
            assert kernel is not None
            source = bank[0] if len(bank) == 1 else bank[block]
            assert torch.equal(kernel, source.matrix())  # type: ignore[operator]


@pytest.mark.parametrize("variant", PAA_VARIANTS)
def test_a_shorter_history_uses_the_bottom_right_corner(variant: str) -> None:
    model = tiny_model(variant, 10, max_len=T, blocks=2)
    full, short = model.block_kernels(T), model.block_kernels(3)
    for (key, value), (short_key, short_value) in zip(full, short, strict=True):
        assert key is not None and value is not None
        assert torch.equal(short_key, key[-3:, -3:])  # type: ignore[arg-type]
        assert torch.equal(short_value, value[-3:, -3:])  # type: ignore[arg-type]


@pytest.mark.parametrize("variant", sorted(set(ALL_VARIANTS) - set(PAA_VARIANTS)))
def test_baselines_have_no_positional_kernels(variant: str) -> None:
    model = tiny_model(variant, 10, max_len=T, blocks=2)
    assert model.block_kernels(T) == [(None, None), (None, None)]
    names = [name for name, _ in model.named_parameters() if name.startswith("scheme.")]
    assert names == (["scheme.embedding.weight"] if variant == "sasrec" else [])


def test_named_kernels_say_whether_they_are_shared() -> None:
    model = tiny_model("paa", 10, max_len=T, blocks=2)
    assert isinstance(model.scheme, PositionAwareKernels)
    assert sorted(model.scheme.named_kernels()) == ["key.0", "key.1", "value.shared"]
