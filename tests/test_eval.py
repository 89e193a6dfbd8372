"""python -m cats_dit.eval on tiny models: features, outputs, CLI, and the Inception weights path."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from cats_dit.breeds import LABELS
from cats_dit.classifier import BreedClassifier
from cats_dit.data import make_cartoon_dataset
from cats_dit.eval import SUMMARY_KEYS, ClassifierFeatures, EvalSettings, run_eval
from cats_dit.eval.__main__ import main
from cats_dit.testing import build_tiny_pipeline


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # 2 shared cores: one torch thread is several times faster than two fighting over them
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny pipeline with random non-zero weights, a random resnet18 classifier, cartoon cats."""
    root = tmp_path_factory.mktemp("tiny_eval")
    pipe = build_tiny_pipeline(seed=0)
    pipe.save_pretrained(root / "pipeline")
    BreedClassifier("resnet18", image_size=32).save_pretrained(root / "classifier")
    make_cartoon_dataset(root / "cartoon", per_class=12, seed=3, test_fraction=0.4, progress=False)
    return root


def _settings(tiny, out, **kw):
    base = dict(
        generator=str(tiny / "pipeline"),
        classifier=str(tiny / "classifier"),
        real=str(tiny / "cartoon"),
        out=str(out),
        per_breed=4,
        steps=3,
        breeds=["Abyssinian", "Bombay", "Siamese", "other"],
        guidance_sweep=[1.0, 3.0],
        kid_subsets=5,
    )
    base.update(kw)
    return EvalSettings(**base)


@pytest.mark.parametrize("backbone", ["resnet18", "mobilenet_v3_small"])
def test_features_are_the_input_of_the_last_layer(backbone):
    clf = BreedClassifier(backbone, image_size=32).eval()
    images = torch.rand(5, 3, 20, 24)
    feats, probs = ClassifierFeatures(clf, batch_size=2)(images)
    head = clf.model.fc if backbone.startswith("resnet") else clf.model.classifier[-1]
    assert feats.shape == (5, head.in_features)
    logits = torch.from_numpy(feats) @ head.weight.T + head.bias
    assert torch.allclose(logits.softmax(-1), torch.from_numpy(probs), atol=1e-5)
    assert torch.allclose(torch.from_numpy(probs), clf.predict_proba(list(images)), atol=1e-5)


def test_run_eval_writes_every_metric_json_and_pictures(tiny, tmp_path):
    result = run_eval(_settings(tiny, tmp_path / "out"))
    on_disk = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert on_disk["summary"] == result["summary"]
    for key in SUMMARY_KEYS + ("best_guidance_by_fd", "best_guidance_by_fidelity"):
        assert math.isfinite(result["summary"][key]), key
    assert result["summary"]["chance"] == pytest.approx(1 / len(LABELS))
    assert result["breeds"] == ["Abyssinian", "Bombay", "Siamese", "other"]
    m = result["metrics"]
    assert set(m["breed_fidelity"]["per_breed"]) == set(result["breeds"])
    for side in ("generated_vs_train", "real_test_vs_train"):
        for name in ("fd", "kid", "kid_std", "precision", "recall"):
            assert math.isfinite(m[side][name]), (side, name)
        assert all(math.isfinite(v["fd"]) and math.isfinite(v["kid"]) for v in m[side]["per_breed"].values())
    assert m["real_test_vs_train"]["fd"] > 0  # held-out real images differ from the training ones
    counts = np.array(result["confusion_matrix"]["counts"])
    assert counts.shape == (4, len(LABELS)) and (counts.sum(1) == 4).all()
    diag = counts[np.arange(4), [LABELS.index(b) for b in result["breeds"]]]
    assert diag.sum() / counts.sum() == pytest.approx(result["summary"]["breed_fidelity"])
    assert [r["guidance_scale"] for r in result["guidance_sweep"]] == [1.0, 3.0]
    assert result["guidance_sweep"][1]["frechet_distance"] == pytest.approx(result["summary"]["fd"])
    assert result["real"]["generator_resolution"] == 16
    for name in ("confusion_matrix.png", "samples.png", "guidance_sweep.png"):
        with Image.open(tmp_path / "out" / name) as im:
            assert im.format == "PNG" and im.width > 200 and im.height > 200
            assert np.asarray(im.convert("L")).std() > 5  # something is drawn


def test_cli_help_and_bad_inputs(tiny, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0 and "--inception-weights" in capsys.readouterr().out
    common = ["--classifier", str(tiny / "classifier"), "--real", str(tiny / "cartoon"), "--out", str(tmp_path)]
    assert main(["--generator", str(tmp_path / "nope"), *common]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["--generator", str(tiny / "classifier"), *common]) == 1
    assert "neither a pipeline folder" in capsys.readouterr().err
    assert main(["--generator", str(tiny / "pipeline"), *common, "--breeds", "Tabby"]) == 1
    assert "Tabby" in capsys.readouterr().err
    assert main(["--generator", str(tiny / "pipeline"), *common, "--per-breed", "2"]) == 2


def test_cli_runs_end_to_end(tiny, tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["--generator", str(tiny / "pipeline"), "--classifier", str(tiny / "classifier")]
    argv += ["--real", str(tiny / "cartoon"), "--out", str(out), "--per-breed", "4", "--steps", "2"]
    argv += ["--breeds", "Bengal,Sphynx", "--guidance-sweep", "none", "--kid-subsets", "3"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out.split("\nwrote")[0])
    result = json.loads((out / "eval.json").read_text())
    assert printed == result["summary"] and result["guidance_sweep"] == []
    assert not (out / "guidance_sweep.png").exists()


def _inception_skeleton_state() -> dict:
    """torch-fidelity's InceptionV3 with random weights: the real file format, without a download."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class Skeleton(FeatureExtractorInceptionV3):
        def load_state_dict(self, *args, **kwargs):  # keep the random init
            return None

    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pt") as f:
        torch.save({}, f.name)
        torch.manual_seed(0)
        return Skeleton("inception-v3-compat", ["2048"], feature_extractor_weights_path=f.name).state_dict()


def test_inception_weights_missing_or_wrong_file_is_a_clear_error(tiny, tmp_path, capsys):
    common = ["--generator", str(tiny / "pipeline"), "--classifier", str(tiny / "classifier")]
    common += ["--real", str(tiny / "cartoon"), "--out", str(tmp_path / "o")]
    assert main([*common, "--inception-weights", str(tmp_path / "missing.pth")]) == 1
    err = capsys.readouterr().err
    assert "missing.pth does not exist" in err and "never downloads" in err
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    assert main([*common, "--inception-weights", str(garbage)]) == 1
    assert "garbage.pth is not a PyTorch state dict" in capsys.readouterr().err
    wrong = tmp_path / "resnet.pth"
    torch.save(BreedClassifier("resnet18", image_size=32).model.state_dict(), wrong)
    assert main([*common, "--inception-weights", str(wrong)]) == 1
    assert "does not match torch-fidelity's InceptionV3" in capsys.readouterr().err
    pickled = tmp_path / "pickled.pth"
    torch.save({"fc.weight": torch.zeros(2), "config": object()}, pickled)  # not loadable with weights_only
    assert main([*common, "--inception-weights", str(pickled)]) == 1
    assert "not a PyTorch state dict of plain tensors" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # failed before any generation


@pytest.mark.slow
def test_inception_fid_and_kid_from_a_local_weights_file(tiny, tmp_path):
    from safetensors.torch import save_file

    weights = tmp_path / "inception.safetensors"
    save_file({k: v.contiguous() for k, v in _inception_skeleton_state().items()}, weights)
    s = _settings(tiny, tmp_path / "out", breeds=["Bengal", "other"], guidance_sweep=[], max_real_per_breed=5)
    result = run_eval(EvalSettings(**{**s.__dict__, "inception_weights": str(weights)}))
    inc = result["metrics"]["inception"]
    assert inc["weights"] == "inception.safetensors"
    for key in ("fid", "kid", "fid_floor", "kid_floor"):
        assert math.isfinite(inc[key])
    assert inc["fid"] > 0 and inc["fid_floor"] > 0
    assert result["summary"]["fid"] == inc["fid"]
