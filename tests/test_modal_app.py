"""The Modal training backend (train/modal_app.py + train/cloud/), offline and without Modal credentials.

The Modal Functions are thin wrappers around plain functions (``train.cloud.*.run_*``) that take
the volume mount points as arguments; here those run the real training scripts through the exact
``accelerate launch`` commands the GPU Functions build, against a temporary folder standing in
for the two volumes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from train.cloud.argv import call_main, to_argv  # noqa: E402
from train.cloud.gpu import parse_gpu  # noqa: E402
from train.cloud.layout import dataset_root, run_paths  # noqa: E402
from train.cloud.prepare import run_prepare_data  # noqa: E402
from train.cloud.publish import MissingTokenError, run_evaluate, run_export, run_push_to_hub  # noqa: E402
from train.cloud.reattach import wait_for_gpu_call  # noqa: E402
from train.cloud.requirements import image_requirements  # noqa: E402
from train.cloud.training import (  # noqa: E402
    build_train_classifier_command,
    build_train_dit_command,
    run_train_classifier,
    run_train_dit,
)

HAS_EXPORT = (REPO / "export" / "__main__.py").is_file()


def offline_env(tmp_path: Path) -> dict[str, str]:
    """No Modal config file, no token variables, no proxy to reach anything."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODAL_")}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {**env, "HOME": str(home), "MODAL_CONFIG_PATH": str(home / "absent.toml")}


# ----------------------------------------------------------------------------------------------
# The module and its Modal objects
def test_module_imports_without_credentials_and_defines_its_objects(tmp_path):
    code = """
import json, modal
import train.modal_app as m
out = {
    "app": isinstance(m.app, modal.App) and m.app.name,
    "image": isinstance(m.image, modal.Image),
    "volumes": [isinstance(v, modal.Volume) for v in (m.data_volume, m.runs_volume)],
    "mounts": sorted(m.VOLUMES),
    "secret": isinstance(m.hf_secret, modal.Secret),
    "functions": {n: isinstance(getattr(m, n), modal.Function) for n in
                  ("prepare_data", "train_dit", "train_dit_gpu", "train_classifier", "train_classifier_gpu",
                   "export", "evaluate", "push_to_hub", "run_all")},
    "entrypoint": type(m.main).__name__,
}
print(json.dumps(out))
"""
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=offline_env(tmp_path), capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["app"] == "cats-dit"
    assert out["image"] and out["volumes"] == [True, True] and out["secret"]
    assert out["mounts"] == ["/data", "/runs"]
    assert all(out["functions"].values()), out["functions"]
    assert out["entrypoint"] == "LocalEntrypoint"


def test_modal_cli_sees_the_one_command_and_the_per_function_commands(tmp_path):
    """`modal run train/modal_app.py --help` parses the file offline: the entrypoint's flags are the documented ones."""
    env = offline_env(tmp_path)
    modal_cli = [sys.executable, "-m", "modal", "run"]
    main = subprocess.run([*modal_cli, "train/modal_app.py", "--help"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert main.returncode == 0, main.stderr
    for flag in ("--preset", "--gpu", "--steps", "--run-name", "--push", "--repo-id", "--dataset"):
        assert flag in main.stdout
    one = subprocess.run([*modal_cli, "train/modal_app.py::train_dit", "--help"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert one.returncode == 0, one.stderr
    for flag in ("--preset", "--gpu", "--steps", "--run-name"):
        assert flag in one.stdout


def test_image_installs_the_project_requirements_without_dev_tools():
    reqs = image_requirements(REPO / "requirements.txt")
    names = {r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in reqs}
    assert {"torch", "diffusers", "accelerate", "optimum-onnx", "huggingface_hub"} <= names
    assert not names & {"pytest", "playwright", "ruff", "gradio"}


# ----------------------------------------------------------------------------------------------
# Commands
def test_parse_gpu():
    assert parse_gpu("H100:4") == ("H100", 4)
    assert parse_gpu("A100-80GB:2") == ("A100-80GB", 2)
    assert parse_gpu("A10G") == ("A10G", 1)
    for bad in ("", "H100:0", "H100:9", "H100:two", "H 100"):
        with pytest.raises(ValueError, match="--gpu"):
            parse_gpu(bad)


def test_gpu_command_is_accelerate_launch_with_one_process_per_gpu_and_resume_latest(tmp_path):
    cmd = build_train_dit_command("s128", 4, 200_000, tmp_path / "data", tmp_path / "run")
    launch = cmd.index("accelerate.commands.launch")
    assert cmd[launch + 1 : launch + 3] == ["--num_processes", "4"]
    assert cmd[cmd.index("--mixed_precision") + 1] == "bf16"
    assert "--multi_gpu" in cmd and "--cpu" not in cmd
    script = cmd.index("train/train_dit.py")
    args = cmd[script + 1 :]
    assert args[args.index("--resume") + 1] == "latest"
    assert args[args.index("--max-steps") + 1] == "200000"
    assert args[args.index("--output-dir") + 1] == str(tmp_path / "run")
    assert "--preload" in args  # the 128 px training set lives in RAM, so the GPUs never wait on JPEGs
    single = build_train_dit_command("s128", 1, 10, tmp_path, tmp_path)
    assert "--multi_gpu" not in single
    clf = build_train_classifier_command("resnet18", 2, tmp_path, tmp_path)
    assert "train/train_classifier.py" in clf and "--pretrained" in clf and "--multi_gpu" in clf
    with pytest.raises(ValueError, match="single process"):
        build_train_dit_command("tiny", 2, 4, tmp_path, tmp_path, cpu=True)


def test_flags_come_from_option_names_and_the_scripts_own_parsers_check_them(tmp_path):
    argv = to_argv(max_steps=10, preload=True, lr=None, cpu=False, out=tmp_path)
    assert argv == ["--max-steps", "10", "--preload", "--out", str(tmp_path)]
    with pytest.raises(ValueError, match="train/train_dit.py does not accept"):
        build_train_dit_command("s128", 1, 10, tmp_path, tmp_path, extra_args=["--no-such-flag"])
    with pytest.raises(ValueError, match="train/train_classifier.py does not accept"):
        build_train_classifier_command("resnet18", 1, tmp_path, tmp_path, extra_args=["--no-such-flag"])


def test_call_main_raises_when_the_cli_fails_and_restores_the_sigterm_handler():
    import signal

    before = signal.getsignal(signal.SIGTERM)

    def fails(argv):
        signal.signal(signal.SIGTERM, lambda *_: None)  # as export's main does
        return 1

    def bad_flag(argv):
        raise SystemExit(2)  # what argparse does

    with pytest.raises(RuntimeError, match=r"`prog --x 1` failed \(exit status 1\)"):
        call_main(fails, ["--x", 1], "prog")
    assert signal.getsignal(signal.SIGTERM) is before
    with pytest.raises(RuntimeError, match="exit status 2"):
        call_main(bad_flag, [], "prog")
    call_main(lambda argv: 0, [], "prog")
    call_main(lambda argv: None, [], "prog")


def test_run_names_and_datasets_are_checked(tmp_path):
    with pytest.raises(ValueError, match="--run-name"):
        run_paths(tmp_path, "../escape")
    with pytest.raises(ValueError, match="--dataset"):
        dataset_root(tmp_path, "imagenet")


# ----------------------------------------------------------------------------------------------
# The function bodies on CPU against a temporary "volume"
TINY = dict(preset="tiny", gpus=1, steps=4, dataset="cartoon", mixed_precision="no", checkpointing_steps=2, cpu=True,
            extra_args=["--sample-every", "0", "--torch-threads", "1"], poll_seconds=0.2, project_dir=REPO)  # fmt: skip


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    """data/ and runs/ folders after prepare_data (cartoon cats) and a 4-step tiny generator run."""
    root = tmp_path_factory.mktemp("modal_volume")
    data, runs = root / "data", root / "runs"
    summary = run_prepare_data(data, dataset="cartoon", cache_sizes=(16,), per_class=6)
    commits = []
    result = run_train_dit(data, runs, "r1", commit=lambda: commits.append(1), **TINY)
    return {"data": data, "runs": runs, "prepare": summary, "train": result, "commits": commits}


@pytest.mark.slow
def test_prepare_data_is_idempotent_and_fills_the_cache(volume):
    summary = volume["prepare"]
    assert summary["splits"]["trainval"] > 0 and summary["splits"]["test"] > 0
    cached = list((volume["data"] / "cache").rglob("*.npy"))
    assert len(cached) == summary["splits"]["trainval"] + summary["splits"]["test"]
    listing = (volume["data"] / "cartoon-cats" / "annotations" / "list.txt").stat().st_mtime_ns
    again = run_prepare_data(volume["data"], dataset="cartoon", cache_sizes=(16,), per_class=6)
    assert again["splits"] == summary["splits"]
    assert (volume["data"] / "cartoon-cats" / "annotations" / "list.txt").stat().st_mtime_ns == listing  # not redrawn
    assert len(list((volume["data"] / "cache").rglob("*.npy"))) == len(cached)


@pytest.mark.slow
def test_train_dit_command_trains_and_commits_after_each_checkpoint(volume):
    paths = run_paths(volume["runs"], "r1")
    assert volume["train"]["step"] == 4
    assert (paths["pipeline"] / "model_index.json").is_file()
    assert sorted(p.name for p in (paths["generator"] / "checkpoints").iterdir()) == ["checkpoint-2", "checkpoint-4"]
    assert volume["train"]["committed_checkpoints"] == ["checkpoint-2", "checkpoint-4"]
    assert len(volume["commits"]) >= 2  # at least once for the checkpoints, once at the end
    log = (paths["generator"] / "train_dit.log").read_text()
    assert "starting from scratch" in log  # --resume latest with an empty volume starts fresh


@pytest.mark.slow
def test_train_dit_resumes_from_the_checkpoint_in_the_volume(volume, tmp_path):
    """A restarted attempt (preemption after checkpoint-2) continues from it instead of starting over."""
    paths = run_paths(volume["runs"], "r1")
    ckpts = paths["generator"] / "checkpoints"
    finished = load_file(ckpts / "checkpoint-4" / "model.safetensors")
    # Leave the volume as a preempted run would: checkpoint-2 committed, nothing after it.
    import shutil

    for p in (ckpts / "checkpoint-4", paths["pipeline"], paths["generator"] / "summary.json"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    state_file = ckpts / "checkpoint-2" / "trainer_state.json"
    state = json.loads(state_file.read_text())
    state["elapsed_seconds"] = 12_345.0  # a marker only the checkpoint carries
    state_file.write_text(json.dumps(state))

    result = run_train_dit(volume["data"], volume["runs"], "r1", **TINY)

    log = (paths["generator"] / "train_dit.log").read_text().split("\n$ ")[-1]  # this attempt's output
    assert f"Resumed from {ckpts / 'checkpoint-2'} at step 2" in log
    assert "starting from scratch" not in log
    assert result["step"] == 4 and result["elapsed_seconds"] >= 12_345  # continued the checkpoint's clock
    assert result["committed_checkpoints"] == ["checkpoint-4"]
    resumed = load_file(ckpts / "checkpoint-4" / "model.safetensors")
    assert resumed.keys() == finished.keys()
    for k in finished:  # exact resume: the same weights as the uninterrupted run
        assert (resumed[k] == finished[k]).all(), k


@pytest.mark.slow
def test_classifier_export_eval_and_push_dry_run(volume, monkeypatch):
    runs = volume["runs"]
    paths = run_paths(runs, "r1")
    metrics = run_train_classifier(
        volume["data"], runs, "r1", backbone="mobilenet_v3_small", dataset="cartoon", mixed_precision="no",
        epochs=None, max_steps=2, pretrained=False, cpu=True, project_dir=REPO,
        extra_args=["--image-size", "64", "--batch-size", "8", "--torch-threads", "1"],
    )  # fmt: skip
    assert "test_accuracy" in metrics and (paths["classifier"] / "model.safetensors").is_file()
    if not HAS_EXPORT:
        pytest.skip("export/__main__.py (python -m export) is not in the tree yet")
    models = run_export(runs, "r1")
    assert models["format_version"] == 1
    for part in ("generator", "classifier"):
        for f in models[part]["files"].values():
            assert (paths["onnx"] / f["name"]).is_file()
    summary = run_evaluate(
        volume["data"], runs, "r1", dataset="cartoon", per_breed=4,
        extra_args=["--steps", "2", "--guidance-sweep", "none", "--max-real-per-breed", "4", "--kid-subsets", "5"],
    )  # fmt: skip
    assert "breed_fidelity" in summary

    # Without a token a real push refuses, naming the Modal secret, and writes nothing.
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(MissingTokenError, match="modal secret create huggingface-secret HF_TOKEN="):
        run_push_to_hub(runs, "r1", "someone/cats-dit", dry_run=False)
    assert not paths["hub"].exists()

    # A dry run writes exactly the folder a push uploads: pipeline at the root, classifier/, onnx/, eval/, card.
    folder = Path(run_push_to_hub(runs, "r1", "someone/cats-dit", dry_run=True))
    assert folder == paths["hub"]

    def files(root: Path, prefix: str = "") -> set[str]:
        return {prefix + str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}

    expected = (files(paths["pipeline"]) - {"README.md"}) | files(paths["classifier"], "classifier/")
    expected |= files(paths["onnx"], "onnx/") | {"README.md", "eval/eval.json"}
    got = files(folder)
    assert expected <= got
    assert {f for f in got - expected if not f.startswith("eval/")} == set()  # nothing else but eval plots
    card = (folder / "README.md").read_text()
    assert "someone/cats-dit" in card and "trust_remote_code=True" in card


def test_push_refuses_without_a_token_before_doing_anything(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(MissingTokenError, match="HF_TOKEN is not set"):
        run_push_to_hub(tmp_path, "r1", "someone/cats-dit", dry_run=False)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------
# Re-attaching after a restart. Modal's servers are out of reach offline, so stand-ins play the
# FunctionCall/Function/Volume roles; what is tested is this module's decision, never Modal.
class _Call:
    def __init__(self, call_id: str, outcome):
        self.object_id, self.outcome = call_id, outcome

    def get(self, timeout=None):
        if self.outcome == "running":
            if timeout == 0:
                raise TimeoutError()
            return {"step": 10}
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


class _Fn:
    def __init__(self, calls: dict, outcome):
        self.calls, self.outcome, self.spawned = calls, outcome, []

    def with_options(self, gpu):
        self.gpu = gpu
        return self

    def spawn(self, **kwargs):
        call = _Call(f"fc-{len(self.calls)}", self.outcome)
        self.calls[call.object_id] = call
        self.spawned.append((self.gpu, kwargs))
        return call


@pytest.fixture
def fake_modal(monkeypatch):
    import modal

    calls: dict = {}
    state = {"me": "fc-waiter-1"}

    class _Volume:
        def reload(self):
            pass

        def commit(self):
            pass

    monkeypatch.setattr(modal, "current_function_call_id", lambda: state["me"])
    monkeypatch.setattr(modal.FunctionCall, "from_id", staticmethod(lambda call_id: calls[call_id]))
    return calls, state, _Volume()


def test_waiter_starts_one_gpu_call_and_reattaches_to_it_after_a_restart(fake_modal, tmp_path):
    import modal

    calls, state, volume = fake_modal
    marker = tmp_path / "modal-calls" / "train_dit.json"
    kwargs = {"run_name": "r1", "steps": 10}
    fn = _Fn(calls, "running")
    assert wait_for_gpu_call(fn, "H100:4", marker, kwargs, volume) == {"step": 10}
    assert fn.spawned == [("H100:4", kwargs)]
    assert json.loads(marker.read_text())["call_id"] == "fc-0"

    # The waiter is restarted while the GPU call still runs: it waits on that call, no second trainer.
    calls["fc-0"].outcome = "running"
    again = _Fn(calls, "running")
    assert wait_for_gpu_call(again, "H100:4", marker, kwargs, volume) == {"step": 10}
    assert again.spawned == []

    # The GPU call timed out (Modal's error): a new attempt starts, and resumes from the checkpoint.
    calls["fc-0"].outcome = modal.exception.FunctionTimeoutError("24 h")
    third = _Fn(calls, {"step": 10})
    assert wait_for_gpu_call(third, "H100:4", marker, kwargs, volume) == {"step": 10}
    assert len(third.spawned) == 1

    # Different settings are a different job: never attached to the old call.
    other = _Fn(calls, {"step": 20})
    assert wait_for_gpu_call(other, "H100:4", marker, {**kwargs, "steps": 20}, volume) == {"step": 20}
    assert len(other.spawned) == 1


def test_a_failed_training_is_not_restarted_by_retries_but_is_by_a_new_invocation(fake_modal, tmp_path):
    calls, state, volume = fake_modal
    marker = tmp_path / "train_dit.json"
    kwargs = {"run_name": "r1"}
    broken = _Fn(calls, subprocess.CalledProcessError(1, ["train_dit.py"]))
    with pytest.raises(subprocess.CalledProcessError):
        wait_for_gpu_call(broken, "A10G", marker, kwargs, volume)
    assert "CalledProcessError" in json.loads(marker.read_text())["failed"]
    # Modal retries this same waiter call: it fails at once instead of paying for the GPU again.
    with pytest.raises(RuntimeError, match="failed in an earlier attempt"):
        wait_for_gpu_call(broken, "A10G", marker, kwargs, volume)
    assert len(broken.spawned) == 1
    # The user fixed the problem and runs the command again (a new call): training starts anew.
    state["me"] = "fc-waiter-2"
    fixed = _Fn(calls, {"step": 5})
    assert wait_for_gpu_call(fixed, "A10G", marker, kwargs, volume) == {"step": 5}
    assert len(fixed.spawned) == 1
