"""TinyDiTModel: shapes, patch order, AdaLN-Zero init, presets, checkpointing."""

import pytest
import torch

from cats_dit.modeling_tinydit import PRESETS, TinyDiTModel, patchify, unpatchify


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return TinyDiTModel.from_preset("tiny")


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_shapes_and_dtypes(tiny, batch):
    x = torch.randn(batch, 3, 16, 16)
    out = tiny(x, torch.rand(batch) * 1000, torch.randint(0, 14, (batch,)))
    assert out.sample.shape == x.shape and out.sample.dtype == torch.float32
    (tensor,) = tiny(x, torch.full((batch,), 500.0), torch.zeros(batch, dtype=torch.long), return_dict=False)
    assert tensor.shape == x.shape


def test_scalar_timestep_broadcasts(tiny):
    x = torch.randn(3, 3, 16, 16)
    assert tiny(x, 250.0, torch.tensor([0, 1, 2])).sample.shape == x.shape


def test_unpatchify_inverts_patchify():
    x = torch.randn(2, 3, 16, 24)
    assert torch.equal(unpatchify(patchify(x, 4), 4, 3, 16, 24), x)


def test_each_token_maps_back_to_its_own_patch():
    p, h, w = 4, 8, 12
    n = (h // p) * (w // p)
    tokens = torch.arange(n, dtype=torch.float32)[None, :, None].expand(1, n, p * p * 3)
    img = unpatchify(tokens, p, 3, h, w)
    for i in range(n):
        r, c = divmod(i, w // p)
        patch = img[0, :, r * p : (r + 1) * p, c * p : (c + 1) * p]
        assert torch.all(patch == i), f"token {i} did not land on patch ({r}, {c})"


def test_zero_initialised_model_outputs_zeros():
    model = TinyDiTModel.from_preset("tiny")
    out = model(torch.randn(2, 3, 16, 16), torch.tensor([10.0, 900.0]), torch.tensor([3, 13])).sample
    assert torch.count_nonzero(out) == 0


def test_class_table_has_null_row(tiny):
    assert tiny.class_embed.num_embeddings == tiny.config.num_classes + 1 == 14


def test_conditioning_changes_output(tiny):
    model = TinyDiTModel.from_preset("tiny")
    torch.manual_seed(1)
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    x = torch.randn(1, 3, 16, 16)
    a = model(x, torch.tensor([500.0]), torch.tensor([0])).sample
    b = model(x, torch.tensor([500.0]), torch.tensor([1])).sample
    c = model(x, torch.tensor([100.0]), torch.tensor([0])).sample
    assert not torch.allclose(a, b) and not torch.allclose(a, c)


def test_presets_sizes():
    counts = {name: sum(p.numel() for p in TinyDiTModel.from_preset(name).parameters()) for name in PRESETS}
    assert counts["tiny"] < 1_000_000
    assert counts["demo"] < 8_000_000
    assert 20_000_000 <= counts["s128"] <= 35_000_000
    assert TinyDiTModel.from_preset("s128").config.sample_size == 128
    with pytest.raises(ValueError, match="Unknown preset"):
        TinyDiTModel.from_preset("huge")


def test_gradient_checkpointing_gives_same_gradients():
    torch.manual_seed(0)
    model = TinyDiTModel.from_preset("tiny")
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    x, t, y = torch.randn(2, 3, 16, 16), torch.tensor([100.0, 700.0]), torch.tensor([1, 13])

    def grads():
        model.zero_grad()
        model(x, t, y).sample.square().mean().backward()
        return [p.grad.clone() for p in model.parameters()]

    plain = grads()
    model.enable_gradient_checkpointing()
    assert model.gradient_checkpointing
    checkpointed = grads()
    for a, b in zip(plain, checkpointed):
        torch.testing.assert_close(a, b)


def test_final_conv_starts_as_identity_and_mixes_neighbouring_patches():
    torch.manual_seed(2)
    plain = TinyDiTModel.from_preset("tiny")
    for p in plain.parameters():
        p.data.normal_(0, 0.05)
    with_conv = TinyDiTModel.from_preset("tiny", final_conv=True)
    missing, unexpected = with_conv.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ["conv_out.weight", "conv_out.bias"] and unexpected == []
    x, t, y = torch.randn(2, 3, 16, 16), torch.tensor([700.0, 30.0]), torch.tensor([5, 13])
    with torch.no_grad():
        torch.testing.assert_close(with_conv(x, t, y).sample, plain(x, t, y).sample, rtol=0, atol=1e-6)
        # Once trained away from identity, a pixel depends on the neighbouring patch's token.
        with_conv.conv_out.weight.normal_(0, 0.1)
        tokens = torch.zeros(1, 16, 4 * 4 * 3)
        tokens[0, 0] = 1.0  # only patch (0, 0) is non-zero
        img = with_conv.conv_out(unpatchify(tokens, 4, 3, 16, 16))
    assert img[0, :, :4, 4].abs().sum() > 0  # column 4 belongs to patch (0, 1)
