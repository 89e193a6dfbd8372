"""python -m export: ONNX files, validation, variants, models.json, bad input, atomic writes."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from cats_dit.classifier import BreedClassifier
from cats_dit.onnx.export import ExportError, run_export
from cats_dit.onnx.models_json import check_folder, sha256_file
from cats_dit.onnx.testing import exported_tiny_models
from cats_dit.onnx.validate import TOLERANCES, ExportValidationError, output_error, psnr_db
from cats_dit.pipeline_cats_dit import CatsDiTPipeline
from cats_dit.testing import make_tiny_models
from export.__main__ import main as export_main

GEN_FILES = {"fp32": "generator.onnx", "fp16": "generator_fp16.onnx", "int8": "generator_int8.onnx"}
CLF_FILES = {"fp32": "classifier.onnx", "fp16": "classifier_fp16.onnx", "int8": "classifier_int8.onnx"}


@pytest.fixture(scope="module")
def exported():
    pipe_dir, clf_dir, models = exported_tiny_models()
    return pipe_dir, clf_dir, models, json.loads((models / "models.json").read_text())


@pytest.fixture(scope="module")
def saved_once(tmp_path_factory):
    return make_tiny_models(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def tiny_dirs(tmp_path, saved_once):
    """A private copy of the tiny models (tests edit them)."""
    copies = [shutil.copytree(d, tmp_path / "src" / d.name) for d in saved_once]
    return tuple(Path(c) for c in copies)


def session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.slow  # shares one full export of the tiny models (~20-40 s on 2 busy cores)
def test_models_json_is_complete_and_every_file_matches(exported):
    _, _, models, doc = exported
    assert doc["format_version"] == 1
    assert len(doc["labels"]) == 13 and len(doc["display_names"]) == 13 and doc["null_class_id"] == 13
    g, c = doc["generator"], doc["classifier"]
    assert (g["sample_size"], g["in_channels"], g["num_classes"]) == (16, 3, 13)
    assert g["scheduler"] == {
        "num_train_timesteps": 1000,
        "shift": 1.0,
        "prediction_type": "velocity",
        "min_sigma_for_x_pred": 0.05,
    }
    assert g["defaults"] == {
        "num_inference_steps": 20,
        "guidance_scale": 3.0,
        "solver": "euler",
        "guidance_interval": [0.0, 1.0],  # the pipeline's own (saved without one: every step)
    }
    assert c["preprocess"] == {
        "image_size": 32, "resize_size": 37, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
        "interpolation": "bilinear", "antialias": False,
    }  # fmt: skip
    assert {p: e["name"] for p, e in g["files"].items()} == GEN_FILES
    assert {p: e["name"] for p, e in c["files"].items()} == CLF_FILES
    for section in (g, c):
        assert section["default_precision"] in section["files"]
        for precision, entry in section["files"].items():
            path = models / entry["name"]
            assert entry["precision"] == precision
            assert path.stat().st_size == entry["size"] and sha256_file(path) == entry["sha256"]
            assert path.stat().st_size < 100e6
    check_folder(models)  # the same check, as the library does it
    assert not [p for p in models.parent.iterdir() if ".tmp-" in p.name], "temporary export folder left behind"


@pytest.mark.slow  # shares one full export of the tiny models (~20-40 s on 2 busy cores)
def test_generator_files_run_batches_1_2_5_and_match_torch(exported):
    pipe_dir, _, models, _ = exported
    transformer = CatsDiTPipeline.from_pretrained(pipe_dir).transformer.eval()
    sessions = {p: session(models / name) for p, name in GEN_FILES.items()}
    assert [i.name for i in sessions["fp32"].get_inputs()] == ["sample", "timestep", "class_labels"]
    assert [o.name for o in sessions["fp32"].get_outputs()] == ["out_sample"]
    assert [i.type for i in sessions["int8"].get_inputs()] == ["tensor(float)", "tensor(float)", "tensor(int64)"]
    gen = torch.Generator().manual_seed(7)
    for batch in (1, 2, 5):
        x = torch.randn(batch, 3, 16, 16, generator=gen)
        t = torch.rand(batch, generator=gen) * 1000
        c = torch.randint(0, 14, (batch,), generator=gen)
        with torch.no_grad():
            ref = transformer(x, t, c).sample.numpy()
        assert ref.std() > 0.1  # the comparison means something
        for precision, sess in sessions.items():
            out = sess.run(None, {"sample": x.numpy(), "timestep": t.numpy(), "class_labels": c.numpy()})[0]
            assert out.shape == ref.shape and out.dtype == np.float32
            assert output_error(out, ref) <= TOLERANCES["generator"][precision], precision


@pytest.mark.slow  # shares one full export of the tiny models (~20-40 s on 2 busy cores)
def test_classifier_files_run_batches_1_2_5_and_match_torch(exported):
    _, clf_dir, models, _ = exported
    clf = BreedClassifier.from_pretrained(clf_dir)
    gen = torch.Generator().manual_seed(3)
    for batch in (1, 2, 5):
        x = torch.randn(batch, 3, 32, 32, generator=gen)
        with torch.no_grad():
            ref = clf(x).numpy()
        assert ref.std() > 0.1
        for precision, name in CLF_FILES.items():
            out = session(models / name).run(["logits"], {"pixel_values": x.numpy()})[0]
            assert out.shape == (batch, 13)
            assert output_error(out, ref) <= TOLERANCES["classifier"][precision], precision


@pytest.mark.slow  # shares one full export of the tiny models (~20-40 s on 2 busy cores)
def test_variants_are_smaller_use_standard_ops_and_record_quality(exported):
    _, _, models, doc = exported
    g, c = doc["generator"]["files"], doc["classifier"]["files"]
    assert g["fp16"]["size"] < 0.6 * g["fp32"]["size"]
    assert g["int8"]["size"] < 0.5 * g["fp32"]["size"]
    assert c["fp16"]["size"] < 0.6 * c["fp32"]["size"]
    for name in [*GEN_FILES.values(), *CLF_FILES.values()]:
        model = onnx.load(str(models / name))
        assert {n.domain for n in model.graph.node} <= {"", "ai.onnx"}, name  # onnxruntime-web WASM runs them
        assert model.opset_import[0].version == 17
    int8_ops = {n.op_type for n in onnx.load(str(models / "generator_int8.onnx")).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= int8_ops
    fp16 = onnx.load(str(models / "generator_fp16.onnx"))
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in fp16.graph.initializer)
    # Quality of what users see, measured at export time.
    assert g["fp32"]["quality"]["psnr_db"] >= 60
    assert g["fp16"]["quality"]["psnr_db"] >= 40
    assert 20 <= g["int8"]["quality"]["psnr_db"] <= g["fp16"]["quality"]["psnr_db"]
    assert c["fp32"]["quality"]["top1_agreement"] == 1.0
    for entry in c.values():
        assert 0.5 <= entry["quality"]["top1_agreement"] <= 1.0
        assert "cartoon" in entry["quality"]["images"]
    # default = the smallest variant that keeps PSNR >= 35 dB / agreement >= 99%
    ok = [p for p, e in g.items() if e["quality"]["psnr_db"] >= 35]
    assert doc["generator"]["default_precision"] == min(ok, key=lambda p: g[p]["size"])
    ok = [p for p, e in c.items() if e["quality"]["top1_agreement"] >= 0.99]
    assert doc["classifier"]["default_precision"] == min(ok, key=lambda p: c[p]["size"])


def test_psnr_db():
    a = np.zeros((2, 4, 4, 3))
    assert psnr_db(a, a) == 100.0
    assert psnr_db(a, a + 0.1) == pytest.approx(20.0)


def test_not_a_pipeline_folder(tmp_path, tiny_dirs):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ExportError, match="not a pipeline folder: model_index.json is missing"):
        run_export(empty, tiny_dirs[1], tmp_path / "out")
    with pytest.raises(ExportError, match="does not exist"):
        run_export(tmp_path / "nope", tiny_dirs[1], tmp_path / "out")
    with pytest.raises(ExportError, match="not a classifier folder"):
        run_export(tiny_dirs[0], empty, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_config_that_does_not_match_its_weights(tmp_path, tiny_dirs):
    pipe_dir, clf_dir = tiny_dirs
    config_file = pipe_dir / "transformer" / "config.json"
    config = json.loads(config_file.read_text())
    config["hidden_size"] = 128
    config_file.write_text(json.dumps(config))
    with pytest.raises(ExportError, match=r"do not match .*config.json.*other shapes"):
        run_export(pipe_dir, clf_dir, tmp_path / "out")
    config["hidden_size"], config["depth"] = 64, 3
    config_file.write_text(json.dumps(config))
    with pytest.raises(ExportError, match="tensors missing"):
        run_export(pipe_dir, clf_dir, tmp_path / "out")
    # classifier config naming another backbone than its weights
    config["depth"] = 2
    config_file.write_text(json.dumps(config))
    clf_config = json.loads((clf_dir / "config.json").read_text())
    clf_config["backbone"] = "resnet18"
    (clf_dir / "config.json").write_text(json.dumps(clf_config))
    with pytest.raises(ExportError, match="does not match its config"):
        run_export(pipe_dir, clf_dir, tmp_path / "out")


def test_unwritable_output_folder(tmp_path, tiny_dirs, capsys):
    if os.geteuid() == 0:
        target = Path("/sys/cats_dit_models")  # even root cannot create files in sysfs
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        target = locked / "models"
    with pytest.raises(ExportError, match=f"Output folder {target} is not writable"):
        run_export(*tiny_dirs, target)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ExportError, match="exists and is not a folder"):
        run_export(*tiny_dirs, a_file)
    # the CLI turns it into one line and exit code 1
    assert (
        export_main(["--pipeline", str(tiny_dirs[0]), "--classifier", str(tiny_dirs[1]), "--output", str(a_file)]) == 1
    )
    assert "error: Output" in capsys.readouterr().err


@pytest.mark.slow  # shares one full export of the tiny models (~20-40 s on 2 busy cores)
def test_failed_export_leaves_no_models_json(tmp_path, tiny_dirs, exported):
    pipe_dir, _ = tiny_dirs
    impossible = {"generator": {"int8": 1e-12}}  # int8 cannot meet it: the export fails after writing files
    fresh = tmp_path / "fresh"
    with pytest.raises(
        ExportValidationError,
        match=r"generator int8 .* failed validation against PyTorch: error .* exceeds the tolerance 1e-12",
    ):
        run_export(pipe_dir, None, fresh, tolerances=impossible)
    assert not (fresh / "models.json").exists()
    assert not any(fresh.iterdir()) if fresh.exists() else True
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    # Over an existing export: the old models.json and the files it lists stay intact.
    old = tmp_path / "old"
    shutil.copytree(exported[2], old)
    before = (old / "models.json").read_text()
    with pytest.raises(ExportValidationError):
        run_export(pipe_dir, None, old, tolerances=impossible)
    assert (old / "models.json").read_text() == before
    check_folder(old)


def test_large_files_split_into_external_data_and_only_default_kept(tmp_path, tiny_dirs):
    from cats_dit.onnx_pipeline import OnnxCatsDiTPipeline

    out = tmp_path / "split"
    doc = run_export(
        tiny_dirs[0],
        None,
        out,
        precisions=["fp32", "fp16"],
        max_file_bytes=300_000,
        only_default=True,
        log=lambda *_: None,
    )
    assert "classifier" not in doc
    default = doc["generator"]["default_precision"]
    assert default == "fp16"  # smaller than fp32 and far above 35 dB
    assert list(doc["generator"]["files"]) == ["fp16"]
    entry = doc["generator"]["files"]["fp16"]
    assert len(entry["external_data"]) >= 1
    listed = {entry["name"], *(x["name"] for x in entry["external_data"])}
    assert {p.name for p in out.iterdir()} == listed | {"models.json"}  # fp32 files were dropped
    for item in [entry, *entry["external_data"]]:
        assert (out / item["name"]).stat().st_size <= 300_000
    check_folder(out)
    assert entry["quality"]["psnr_db"] >= 60  # the split file gives the same images
    images = OnnxCatsDiTPipeline.from_folder(out)("Bengal", num_inference_steps=2)
    assert images.shape == (1, 16, 16, 3)


def test_cli_help_and_bad_precisions(tiny_dirs, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        export_main(["--help"])
    assert info.value.code == 0
    assert "--precisions" in capsys.readouterr().out
    with pytest.raises(ExportError, match="precisions must be"):
        run_export(*tiny_dirs, tmp_path / "o", precisions=["fp8"])


ORT_WEB = Path(__file__).resolve().parents[1] / "static_site/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs"


@pytest.mark.slow  # shares one full export of the tiny models
@pytest.mark.skipif(
    shutil.which("node") is None or not ORT_WEB.is_file(), reason="needs node and static_site npm install"
)
def test_every_variant_runs_in_onnxruntime_web_wasm(exported):
    """The browser's runtime (onnxruntime-web WASM, run in Node) loads every file and agrees with onnxruntime."""
    import subprocess

    _, _, models, doc = exported
    script = Path(__file__).resolve().parents[1] / "export/check_ort_web.mjs"
    proc = subprocess.run(["node", str(script), str(models), str(ORT_WEB)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    web = json.loads(proc.stdout)

    def ramp(n, scale):  # same inputs as check_ort_web.mjs
        return (np.sin(np.arange(n, dtype=np.float64) * 0.37) * scale).astype(np.float32)

    g = doc["generator"]
    s = g["sample_size"]
    feeds = {
        "sample": ramp(2 * 3 * s * s, 1.5).reshape(2, 3, s, s),
        "timestep": np.array([700, 700], np.float32),
        "class_labels": np.array([3, doc["null_class_id"]], np.int64),
    }
    assert set(web) == {f"generator/{p}" for p in GEN_FILES} | {f"classifier/{p}" for p in CLF_FILES}
    for precision, name in GEN_FILES.items():
        ref = session(models / name).run(None, feeds)[0].ravel()
        # int8: WASM and native quantize activations with different kernels; on an untrained model
        # they may differ by up to the exporter's own int8 bound against torch.
        atol = TOLERANCES["generator"]["int8"] if precision == "int8" else 1e-3
        np.testing.assert_allclose(web[f"generator/{precision}"], ref, atol=atol)
    size = doc["classifier"]["preprocess"]["image_size"]
    pixels = ramp(2 * 3 * size * size, 2.0).reshape(2, 3, size, size)
    for precision, name in CLF_FILES.items():
        ref = session(models / name).run(None, {"pixel_values": pixels})[0].ravel()
        # logits reach |70| on this untrained classifier: compare relative to their scale
        scale = max(1.0, float(np.abs(ref).max()))
        np.testing.assert_allclose(
            web[f"classifier/{precision}"], ref, atol=(5e-2 if precision == "int8" else 1e-3) * scale
        )
