"""python -m cats_dit.hub: the dry-run folder loads in a fresh process, the card carries the
measured numbers, and a push never starts without a token nor leaks the one it has."""

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard

from cats_dit.classifier import BreedClassifier
from cats_dit.data import make_cartoon_dataset
from cats_dit.eval import EvalSettings, run_eval
from cats_dit.eval.judge import Judge
from cats_dit.hub import _f, main
from cats_dit.testing import build_tiny_pipeline

REPO = "someone/cats-dit-tiny"
FAKE_TOKEN = "hf_" + "thisIsNotARealTokenButMustNeverBeShown42"  # split: no token-shaped literal in the repo


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Tiny pipeline, classifier, its fp32 ONNX export (python -m export's run_export) and an eval.json."""
    from cats_dit.onnx.export import run_export

    root = tmp_path_factory.mktemp("hub")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    pipe = build_tiny_pipeline(seed=0)
    pipe.save_pretrained(root / "pipeline")
    BreedClassifier("resnet18", image_size=32).save_pretrained(root / "classifier")
    run_export(root / "pipeline", root / "classifier", root / "onnx", precisions=["fp32"], log=lambda *_: None)
    make_cartoon_dataset(root / "cartoon", per_class=12, seed=4, test_fraction=0.4, progress=False)
    Judge(image_size=16).save_pretrained(root / "judge")  # untrained: the card only renders its numbers
    result = run_eval(
        EvalSettings(
            generator=str(root / "pipeline"),
            classifier=str(root / "classifier"),
            real=str(root / "cartoon"),
            out=str(root / "eval"),
            per_breed=4,
            steps=2,
            guidance_interval=[0.2, 1.0],
            breeds=["Birman", "Persian", "Sphynx"],
            guidance_sweep=[1.0, 3.0],
            kid_subsets=3,
            judge=str(root / "judge"),
        )
    )
    torch.set_num_threads(before)
    return root, result


def _args(root: Path, *extra: str) -> list[str]:
    return [
        "push",
        "--repo-id",
        REPO,
        "--pipeline",
        str(root / "pipeline"),
        "--classifier",
        str(root / "classifier"),
        "--onnx",
        str(root / "onnx"),
        "--eval-json",
        str(root / "eval" / "eval.json"),
        *extra,
    ]


@pytest.fixture(scope="module")
def dry_run(inputs, tmp_path_factory):
    root, _ = inputs
    out = tmp_path_factory.mktemp("dry") / "upload"
    assert main(_args(root, "--dry-run", "--out", str(out))) == 0
    return out


def test_dry_run_layout(dry_run):
    assert (dry_run / "model_index.json").is_file() and (dry_run / "pipeline_cats_dit.py").is_file()
    assert (dry_run / "transformer" / "modeling_tinydit.py").is_file()
    assert (dry_run / "classifier" / "model.safetensors").is_file()
    meta = json.loads((dry_run / "onnx" / "models.json").read_text())
    assert (dry_run / "onnx" / meta["generator"]["files"]["fp32"]["name"]).is_file()
    for name in ("eval.json", "samples.png", "confusion_matrix.png", "guidance_sweep.png"):
        assert (dry_run / "eval" / name).is_file(), name
    BreedClassifier.from_pretrained(dry_run / "classifier")  # the classifier folder is complete


@pytest.mark.slow  # a fresh Python that imports torch + diffusers
def test_dry_run_folder_loads_in_a_fresh_process_without_the_package(inputs, dry_run, tmp_path):
    root, _ = inputs
    # The same images from the package's pipeline, for comparison.
    from cats_dit import CatsDiTPipeline

    expected = CatsDiTPipeline.from_pretrained(root / "pipeline")(
        "Persian", num_images_per_prompt=2, seed=7, num_inference_steps=3, output_type="np"
    ).images
    script = (
        "import sys, numpy as np\n"
        "sys.modules['cats_dit'] = None  # any import of the package now fails\n"
        "from diffusers import DiffusionPipeline\n"
        f"pipe = DiffusionPipeline.from_pretrained({str(dry_run)!r}, trust_remote_code=True)\n"
        "assert not type(pipe).__module__.startswith('cats_dit'), type(pipe).__module__\n"
        "out = pipe('Persian', num_images_per_prompt=2, seed=7, num_inference_steps=3, output_type='np').images\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, out)\n"
        "print(type(pipe).__name__, type(pipe.transformer).__name__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "CatsDiTPipeline TinyDiTModel" in proc.stdout
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-5)


def test_card_holds_the_measured_numbers(inputs, dry_run):
    _, result = inputs
    s = result["summary"]
    card = ModelCard.load(dry_run / "README.md")
    assert card.data.library_name == "diffusers"
    # the sampling settings measured, the guidance interval included, and how to reproduce them
    assert "guidance 3 at noise levels 0.2-1" in card.text and "--guidance-interval 0.2,1" in card.text
    by_metric = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert by_metric["accuracy"] == pytest.approx(s["breed_fidelity"], abs=1e-5)
    assert by_metric["frechet_distance"] == pytest.approx(s["fd"], abs=1e-5)
    assert by_metric["precision"] == pytest.approx(s["precision"], abs=1e-5)
    text = card.text
    assert f"| {100 * s['breed_fidelity']:.1f}% | {100 * s['real_test_accuracy']:.1f}% |" in text
    assert f"| {s['fd']:.2f} | {s['fd_floor']:.2f} |" in text
    assert f"| {100 * s['judge_fidelity']:.1f}% | {100 * s['judge_real_test_accuracy']:.1f}% |" in text
    assert f"| {_f(s['judge_fd'], 2)} | {_f(s['judge_fd_floor'], 2)} |" in text
    assert f"| {s['precision']:.3f} | {s['precision_floor']:.3f} |" in text
    assert f"| {s['density']:.3f} | {s['density_floor']:.3f} |" in text
    assert f"| {s['class_recall']:.3f} | {s['class_recall_floor']:.3f} |" in text
    for name, value in result["metrics"]["breed_fidelity"]["per_breed"].items():
        assert f"| {name.replace('_', ' ')} | {100 * value:.1f}% |" in text
    for row in result["guidance_sweep"]:
        assert (
            f"| {row['guidance_scale']:g} | {100 * row['breed_fidelity']:.1f}% | {row['frechet_distance']:.2f} |"
            in text
        )
    assert f'DiffusionPipeline.from_pretrained("{REPO}", trust_remote_code=True)' in text
    assert f"https://huggingface.co/{REPO}/resolve/main/onnx/" in text
    assert "generator.onnx" in text and "eval/samples.png" in text
    assert "n/a" not in text.split("Per breed:")[0]  # every headline number is measured
    for heading in ("## How to use", "## Evaluation", "## Training", "## Data", "## Intended use", "## Limitations"):
        assert heading in text


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A local stand-in for the Hub endpoint that refuses everything and remembers what it saw."""

    seen: list = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        type(self).seen.append((self.command, self.path, self.headers.get("Authorization")))
        body = b'{"error": "Invalid credentials"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_HEAD = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint():
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.seen
    server.shutdown()
    server.server_close()


def _run_cli(args, tmp_path, **env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=str(tmp_path / "empty_hf_home"), OMP_NUM_THREADS="1", **env_extra)
    (tmp_path / "empty_hf_home").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "cats_dit.hub", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )


@pytest.mark.slow  # a fresh Python that imports torch + diffusers
def test_push_without_a_token_stops_before_any_request(inputs, endpoint, tmp_path):
    root, _ = inputs
    url, seen = endpoint
    proc = _run_cli(_args(root, "--out", str(tmp_path / "copy")), tmp_path, HF_TOKEN="", HF_ENDPOINT=url)
    assert proc.returncode == 1
    assert (
        "No Hugging Face token" in proc.stderr and "HF_TOKEN" in proc.stderr and "Nothing was uploaded" in proc.stderr
    )
    assert seen == []  # not a single request reached the endpoint
    assert not (tmp_path / "copy").exists()


@pytest.mark.slow  # a fresh Python that imports torch + diffusers
def test_push_uses_the_token_and_never_shows_or_writes_it(inputs, endpoint, tmp_path):
    root, _ = inputs
    url, seen = endpoint
    out = tmp_path / "copy"
    proc = _run_cli(_args(root, "--out", str(out)), tmp_path, HF_TOKEN=FAKE_TOKEN, HF_ENDPOINT=url)
    assert proc.returncode == 1
    assert f"Upload to {REPO} failed" in proc.stderr
    assert seen and seen[0][0] == "POST" and seen[0][1] == "/api/repos/create"
    assert seen[0][2] == f"Bearer {FAKE_TOKEN}"  # the token went to the endpoint, and only there
    assert FAKE_TOKEN not in proc.stdout + proc.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "README.md" for p in written)  # --out got the folder that would have gone up
    for p in written:
        assert FAKE_TOKEN.encode() not in p.read_bytes(), p


def test_bad_inputs_are_named(inputs, tmp_path, capsys):
    root, _ = inputs
    assert main(_args(root, "--dry-run")) == 1
    assert "--dry-run needs --out" in capsys.readouterr().err
    bad = _args(root, "--dry-run", "--out", str(tmp_path / "a"))
    bad[bad.index("--pipeline") + 1] = str(root / "classifier")
    assert main(bad) == 1
    assert "is not a pipeline folder" in capsys.readouterr().err
    bad = _args(root, "--dry-run", "--out", str(tmp_path / "b"))
    bad[bad.index("--repo-id") + 1] = "no-slash"
    assert main(bad) == 1
    assert "must look like 'user/name'" in capsys.readouterr().err
    other = tmp_path / "other_classifier"
    BreedClassifier("resnet18", image_size=32).save_pretrained(other)
    bad = _args(root, "--dry-run", "--out", str(tmp_path / "d"))
    bad[bad.index("--classifier") + 1] = str(other)
    assert main(bad) == 1
    assert "measured on a different classifier" in capsys.readouterr().err
    not_eval = tmp_path / "x.json"
    not_eval.write_text("{}")
    bad = _args(root, "--dry-run", "--out", str(tmp_path / "c"))
    bad[bad.index("--eval-json") + 1] = str(not_eval)
    assert main(bad) == 1
    assert "not a cats_dit.eval result" in capsys.readouterr().err
