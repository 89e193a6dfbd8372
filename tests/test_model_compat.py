"""Models saved by the first release still load and give the same output.

``tests/fixtures/tinydit_v1`` was saved by the first release's ``TinyDiTModel`` (before the
``qk_norm`` field and the new initialisation existed) together with its output on a fixed input.
"""

from pathlib import Path

import numpy as np
import torch

from cats_dit import TinyDiTModel

FIXTURE = Path(__file__).parent / "fixtures" / "tinydit_v1"


def test_first_release_model_loads_with_qk_norm_and_same_output():
    model = TinyDiTModel.from_pretrained(FIXTURE).eval()
    assert "qk_norm" not in __import__("json").loads((FIXTURE / "config.json").read_text())
    assert model.config.qk_norm is True  # a config without the field means the old architecture
    x = torch.from_numpy(np.load(FIXTURE / "input_sample.npy"))
    with torch.no_grad():
        out = model(x, torch.tensor([999.0, 500.0, 10.0]), torch.tensor([0, 5, 13])).sample
    expected = np.load(FIXTURE / "expected_output.npy")
    assert np.abs(expected).max() > 0.1  # the fixture is not trivially zero
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5, rtol=1e-4)


def test_qk_norm_off_has_no_norm_weights_and_differs():
    on = TinyDiTModel.from_pretrained(FIXTURE)
    off = TinyDiTModel(**{**dict(on.config), "qk_norm": False})
    missing = set(on.state_dict()) - set(off.state_dict())
    assert missing and all("q_norm" in k or "k_norm" in k for k in missing)
