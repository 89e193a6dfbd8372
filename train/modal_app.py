"""Train cats_dit on Modal GPUs: data -> generator + classifier -> ONNX -> eval -> (optional) Hub, one command.

    modal setup                                                   # once: log in
    modal secret create huggingface-secret HF_TOKEN=hf_...        # once, only for --push
    modal run --detach train/modal_app.py --preset s128 --gpu A100-80GB:2 --steps 200000 \
        --run-name s128-a100 [--push --repo-id you/cats-dit]

Stages run as separate Modal Functions, so each gets the hardware it needs:

    prepare_data      CPU   Oxford-IIIT Pet (or cartoon cats) into the data volume + pre-resized cache
    train_dit         GPU   accelerate launch --num_processes <gpus> --mixed_precision bf16 train/train_dit.py
    train_classifier  GPU   accelerate launch ... train/train_classifier.py
    export            CPU   python -m export (ONNX fp32/fp16/int8 + models.json)
    evaluate          CPU   python -m cats_dit.eval (eval.json + plots, needed by the model card)
    push_to_hub       CPU   python -m cats_dit.hub push (HF_TOKEN from the Modal Secret)

Each is callable alone, e.g. ``modal run train/modal_app.py::train_dit --preset s128 --gpu H100:4``:
a GPU type and count are chosen at call time with ``Function.with_options(gpu=...)``.

Long runs survive preemption and the 24 h limit per attempt: training always passes
``--resume latest``, checkpoints are written atomically by the training script and the runs
volume is committed as soon as each one appears, and every GPU Function has
``retries=modal.Retries(...)``. A waiting Function records the id of the GPU call it waits for
in the runs volume, so when it is itself restarted it re-attaches to that call instead of
starting a second trainer.

Everything below the Modal objects is plain Python (``build_*_command``, ``run_*``) that the
Modal Functions call with the volume mount points; tests run it locally against a temporary
folder standing in for the volumes. Importing this file needs no Modal credentials and no network.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import modal
from modal.file_pattern_matcher import FilePatternMatcher

# ----------------------------------------------------------------------------------------------
# Names and places
APP_NAME = "cats-dit"
PYTHON_VERSION = "3.11"
DATA_VOLUME_NAME = "cats-dit-data"
RUNS_VOLUME_NAME = "cats-dit-runs"
HF_SECRET_NAME = "huggingface-secret"
DATA_DIR = Path("/data")  # mount point of the data volume: datasets + pre-resized cache
RUNS_DIR = Path("/runs")  # mount point of the runs volume: one folder per --run-name
PROJECT_DIR = Path("/root")  # train/ and export/ live here in the container; cats_dit is importable from here

DEFAULT_GPU = "A100-80GB:2"
DEFAULT_RUN_NAME = "s128"
DAY = 24 * 3600  # Modal's longest timeout per attempt; retries give a run more attempts
TRAIN_RETRIES = modal.Retries(max_retries=6, backoff_coefficient=1.0, initial_delay=30.0)
CPU_RETRIES = modal.Retries(max_retries=2, backoff_coefficient=2.0, initial_delay=10.0)

DATASETS = {"oxford": "oxford-iiit-pet", "cartoon": "cartoon-cats"}  # --dataset -> folder in the data volume
# Packages of requirements.txt the training image does not need (tests, browser, UI).
DEV_ONLY_PACKAGES = {"pytest", "pytest-timeout", "playwright", "ruff", "gradio"}

REPO_ROOT = Path(__file__).resolve().parent.parent


def image_requirements(requirements_txt: Path) -> list[str]:
    """The lines of requirements.txt the training image installs (comments and dev-only tools dropped)."""
    keep = []
    for line in requirements_txt.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].strip().lower()
        if name not in DEV_ONLY_PACKAGES:
            keep.append(line)
    return keep


# ----------------------------------------------------------------------------------------------
# Modal objects: all lazy, so importing this module needs no credentials and no network.
app = modal.App(APP_NAME)

_requirements = REPO_ROOT / "requirements.txt"
image = (
    modal.Image.debian_slim(python_version=PYTHON_VERSION)
    # In the container this file is re-imported without requirements.txt beside it; the image is already built.
    .uv_pip_install(*(image_requirements(_requirements) if _requirements.is_file() else []))
    .env({"PYTHONUNBUFFERED": "1", "TORCH_HOME": str(DATA_DIR / "torch-cache"), "HF_HOME": str(DATA_DIR / "hf")})
    # the package's .py files plus its model card template (hub.py renders it for --push)
    .add_local_python_source("cats_dit", ignore=~FilePatternMatcher("**/*.py", "**/*.jinja"))
    .add_local_dir(REPO_ROOT / "train", str(PROJECT_DIR / "train"), ignore=["__pycache__", "*.pyc"])
    .add_local_dir(REPO_ROOT / "export", str(PROJECT_DIR / "export"), ignore=["__pycache__", "*.pyc"])
)

data_volume = modal.Volume.from_name(DATA_VOLUME_NAME, create_if_missing=True)
runs_volume = modal.Volume.from_name(RUNS_VOLUME_NAME, create_if_missing=True)
# Looked up only when a push is asked for (attached with .with_options), so runs without one never need it.
hf_secret = modal.Secret.from_name(HF_SECRET_NAME)

VOLUMES = {str(DATA_DIR): data_volume, str(RUNS_DIR): runs_volume}


# ----------------------------------------------------------------------------------------------
# Pure helpers: GPU specs, run layout, commands
def parse_gpu(spec: str) -> tuple[str, int]:
    """'H100:4' -> ('H100', 4); 'A10G' -> ('A10G', 1). Raises ValueError naming the bad spec."""
    m = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9\-!+]*)(?::(\d+))?\s*", spec or "")
    if not m:
        raise ValueError(f"--gpu {spec!r} is not a Modal GPU spec such as 'A10G', 'A100-80GB:2' or 'H100:4'")
    count = int(m.group(2) or 1)
    if not 1 <= count <= 8:
        raise ValueError(f"--gpu {spec!r}: Modal attaches 1 to 8 GPUs to a container, not {count}")
    return m.group(1), count


def run_paths(runs_dir: Path, run_name: str) -> dict[str, Path]:
    """Where each stage of run ``run_name`` writes, inside the runs volume."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", run_name or ""):
        raise ValueError(f"--run-name {run_name!r}: use letters, digits, '.', '_' and '-' only")
    root = Path(runs_dir) / run_name
    return {
        "root": root,
        "generator": root / "generator",  # train_dit.py --output-dir: checkpoints/, logs/, samples/, pipeline/
        "pipeline": root / "generator" / "pipeline",
        "classifier_run": root / "classifier",  # train_classifier.py --output-dir
        "classifier": root / "classifier" / "classifier",
        "onnx": root / "onnx",
        "eval": root / "eval",
        "hub": root / "hub-upload",  # the exact folder a push uploads (written by dry runs)
        "calls": root / "modal-calls",  # ids of running GPU calls, for re-attaching after a restart
    }


def dataset_root(data_dir: Path, dataset: str) -> Path:
    if dataset not in DATASETS:
        raise ValueError(f"--dataset {dataset!r}: choose one of {', '.join(DATASETS)}")
    return Path(data_dir) / DATASETS[dataset]


def build_accelerate_command(
    script: str, num_processes: int, script_args: Sequence[str], mixed_precision: str = "bf16", cpu: bool = False
) -> list[str]:
    from cats_dit.accelerate_launch import accelerate_command

    return accelerate_command(script, num_processes, script_args, mixed_precision, cpu)


def build_train_dit_command(
    preset: str,
    gpus: int,
    steps: int | None,
    data_dir: Path,
    run_dir: Path,
    mixed_precision: str = "bf16",
    checkpointing_steps: int | None = None,
    batch_size: int | None = None,
    cache_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    cpu: bool = False,
    preload: bool = True,
) -> list[str]:
    """The generator's training command; ``--resume latest`` always, so a restarted attempt continues.

    ``preload`` decodes the (small, pre-resized) training set into RAM once, so a fast GPU is not
    left waiting on JPEG decoding: Oxford-IIIT Pet at 128 px is ~180 MB.
    """
    args = ["--data-root", str(data_dir), "--output-dir", str(run_dir), "--preset", preset, "--resume", "latest"]
    if steps:
        args += ["--max-steps", str(steps)]
    if checkpointing_steps:
        args += ["--checkpointing-steps", str(checkpointing_steps)]
    if batch_size:
        args += ["--batch-size", str(batch_size)]
    if cache_dir is not None:
        args += ["--cache-dir", str(cache_dir)]
    if preload:
        args.append("--preload")
    args += list(extra_args)
    return build_accelerate_command("train/train_dit.py", gpus, args, mixed_precision, cpu)


def build_train_classifier_command(
    backbone: str,
    gpus: int,
    data_dir: Path,
    run_dir: Path,
    mixed_precision: str = "bf16",
    epochs: int | None = None,
    max_steps: int | None = None,
    pretrained: bool = True,
    cache_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    cpu: bool = False,
) -> list[str]:
    """The classifier's training command (minutes, not hours: it has no resume and restarts on preemption)."""
    args = ["--data-root", str(data_dir), "--output-dir", str(run_dir), "--backbone", backbone]
    if pretrained:
        args.append("--pretrained")
    if epochs:
        args += ["--epochs", str(epochs)]
    if max_steps:
        args += ["--max-steps", str(max_steps)]
    if cache_dir is not None:
        args += ["--cache-dir", str(cache_dir)]
    args += list(extra_args)
    return build_accelerate_command("train/train_classifier.py", gpus, args, mixed_precision, cpu)


def build_export_command(pipeline: Path, classifier: Path, output: Path, extra_args: Sequence[str] = ()) -> list[str]:
    return [sys.executable, "-m", "export", "--pipeline", str(pipeline), "--classifier", str(classifier),
            "--output", str(output), *extra_args]  # fmt: skip


def build_eval_command(
    pipeline: Path, classifier: Path, real: Path, out: Path, per_breed: int = 50, extra_args: Sequence[str] = ()
) -> list[str]:
    return [sys.executable, "-m", "cats_dit.eval", "--generator", str(pipeline), "--classifier", str(classifier),
            "--real", str(real), "--out", str(out), "--per-breed", str(per_breed), *extra_args]  # fmt: skip


def build_push_command(paths: dict[str, Path], repo_id: str, dry_run: bool) -> list[str]:
    cmd = [sys.executable, "-m", "cats_dit.hub", "push", "--repo-id", repo_id, "--pipeline", str(paths["pipeline"]),
           "--classifier", str(paths["classifier"]), "--onnx", str(paths["onnx"]),
           "--eval-json", str(paths["eval"] / "eval.json")]  # fmt: skip
    if dry_run:
        cmd += ["--dry-run", "--out", str(paths["hub"])]
    return cmd


# ----------------------------------------------------------------------------------------------
# Running commands
def subprocess_env(project_dir: Path) -> dict[str, str]:
    """The environment for training/export subprocesses: the project importable, output unbuffered."""
    import cats_dit

    package_parent = str(Path(cats_dit.__file__).resolve().parent.parent)
    paths = [str(project_dir), package_parent, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def stream_command(cmd: Sequence[str], cwd: Path, log_file: Path | None = None) -> None:
    """Run ``cmd``, echoing its output line by line (to the Modal logs) and to ``log_file``; raise on failure."""
    header = "$ " + " ".join(cmd)
    print(header, flush=True)
    log = open(log_file, "a") if log_file else None  # noqa: SIM115 (closed below)
    try:
        if log:  # one header per attempt, so a restarted run's log shows where each attempt began
            log.write(header + "\n")
        proc = subprocess.Popen(
            list(cmd), cwd=cwd, env=subprocess_env(cwd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)
            if log:
                log.write(line)
                log.flush()
        code = proc.wait()
    finally:
        if log:
            log.close()
    if code != 0:
        raise subprocess.CalledProcessError(code, list(cmd))


class CheckpointCommitter:
    """Calls ``commit()`` whenever a new ``checkpoint-<step>`` folder appears, and once at the end.

    The training script renames a checkpoint into place only when it is complete, so a folder
    named ``checkpoint-<step>`` is safe to persist the moment it is seen.
    """

    def __init__(self, checkpoints_dir: Path, commit: Callable[[], None], poll_seconds: float = 30.0):
        self.dir, self.commit, self.poll = Path(checkpoints_dir), commit, poll_seconds
        self.seen: set[str] = set(self._names())
        self.committed: list[str] = []  # checkpoint names, in the order they were committed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="checkpoint-committer", daemon=True)

    def _names(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.name for p in self.dir.iterdir() if re.fullmatch(r"checkpoint-\d+", p.name) and p.is_dir())

    def check(self) -> list[str]:
        """Commit if new checkpoints appeared since the last look; returns their names."""
        new = [n for n in self._names() if n not in self.seen]
        if new:
            self.seen.update(new)
            self.commit()
            self.committed += new
            print(f"[modal_app] committed the runs volume after {', '.join(new)}", flush=True)
        return new

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.check()
            except Exception as exc:  # a failed commit must not kill training; the next one retries
                print(f"[modal_app] volume commit failed, will retry: {exc}", flush=True)

    def __enter__(self) -> CheckpointCommitter:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.check()
        self.commit()  # samples, logs, the final pipeline


def _noop() -> None:
    pass


# ----------------------------------------------------------------------------------------------
# Function bodies (plain Python; the Modal Functions call them with the volume mount points)
def run_prepare_data(
    data_dir: Path,
    dataset: str = "oxford",
    cache_sizes: Sequence[int] = (128,),
    per_class: int = 100,
    seed: int = 0,
    project_dir: Path = PROJECT_DIR,
) -> dict:
    """Download (or draw) the dataset into ``data_dir`` once, check every file, fill the pre-resized cache.

    Idempotent: a dataset already in place is not fetched again and cached images are reused.
    """
    from tqdm.auto import tqdm

    from cats_dit.data import ImageDataset, load_records

    root = dataset_root(data_dir, dataset)
    done = root / "prepared.json"
    if not (root / "annotations" / "trainval.txt").is_file():
        if dataset == "oxford":
            stream_command([sys.executable, "-m", "cats_dit.data", "download", "--root", str(root)], project_dir)
        else:
            stream_command([sys.executable, "-m", "cats_dit.data", "cartoon", "--root", str(root),
                            "--per-class", str(per_class), "--seed", str(seed)], project_dir)  # fmt: skip
    summary = {"dataset": dataset, "root": str(root), "splits": {}, "skipped": [], "cache_sizes": list(cache_sizes)}
    for split in ("trainval", "test"):
        dataset_ = ImageDataset(load_records(root, split=split), cache_dir=None, progress=True)
        summary["splits"][split] = len(dataset_)
        summary["skipped"] += [f"{p.name}: {why}" for p, why in dataset_.skipped]
        for size in cache_sizes:  # the training scripts read these small files instead of full-size JPEGs
            cached = ImageDataset(dataset_.records, cache_dir=Path(data_dir) / "cache", cache_size=size, verify=False)
            for i in tqdm(range(len(cached)), desc=f"cache {split} @{size}px", unit="img", mininterval=5):
                cached.load_image(i)
    done.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "skipped"} | {"skipped": len(summary["skipped"])}))
    return summary


def run_train_dit(
    data_dir: Path,
    runs_dir: Path,
    run_name: str,
    preset: str = "s128",
    gpus: int = 1,
    steps: int | None = None,
    dataset: str = "oxford",
    mixed_precision: str = "bf16",
    checkpointing_steps: int | None = None,
    batch_size: int | None = None,
    extra_args: Sequence[str] = (),
    cpu: bool = False,
    commit: Callable[[], None] = _noop,
    poll_seconds: float = 30.0,
    project_dir: Path = PROJECT_DIR,
) -> dict:
    """Train (or continue training) the generator of ``run_name``; returns summary.json plus the commit log."""
    paths = run_paths(runs_dir, run_name)
    paths["generator"].mkdir(parents=True, exist_ok=True)
    cmd = build_train_dit_command(
        preset, gpus, steps, dataset_root(data_dir, dataset), paths["generator"], mixed_precision,
        checkpointing_steps, batch_size, Path(data_dir) / "cache", extra_args, cpu,
    )  # fmt: skip
    with CheckpointCommitter(paths["generator"] / "checkpoints", commit, poll_seconds) as committer:
        stream_command(cmd, project_dir, log_file=paths["generator"] / "train_dit.log")
    summary = json.loads((paths["generator"] / "summary.json").read_text())
    return {**summary, "committed_checkpoints": committer.committed, "pipeline": str(paths["pipeline"])}


def run_train_classifier(
    data_dir: Path,
    runs_dir: Path,
    run_name: str,
    backbone: str = "efficientnet_b0",
    gpus: int = 1,
    dataset: str = "oxford",
    mixed_precision: str = "bf16",
    epochs: int | None = 15,
    max_steps: int | None = None,
    pretrained: bool = True,
    extra_args: Sequence[str] = (),
    cpu: bool = False,
    commit: Callable[[], None] = _noop,
    project_dir: Path = PROJECT_DIR,
) -> dict:
    paths = run_paths(runs_dir, run_name)
    paths["classifier_run"].mkdir(parents=True, exist_ok=True)
    cmd = build_train_classifier_command(
        backbone, gpus, dataset_root(data_dir, dataset), paths["classifier_run"], mixed_precision, epochs,
        max_steps, pretrained, Path(data_dir) / "cache", extra_args, cpu,
    )  # fmt: skip
    stream_command(cmd, project_dir, log_file=paths["classifier_run"] / "train_classifier.log")
    commit()
    return json.loads((paths["classifier_run"] / "metrics.json").read_text())


def run_export(runs_dir: Path, run_name: str, extra_args: Sequence[str] = (), project_dir: Path = PROJECT_DIR) -> dict:
    paths = run_paths(runs_dir, run_name)
    for key, what in (("pipeline", "train_dit"), ("classifier", "train_classifier")):
        if not paths[key].is_dir():
            raise FileNotFoundError(f"{paths[key]} does not exist: run {what} for run {run_name!r} first")
    stream_command(build_export_command(paths["pipeline"], paths["classifier"], paths["onnx"], extra_args), project_dir)
    return json.loads((paths["onnx"] / "models.json").read_text())


def run_evaluate(
    data_dir: Path,
    runs_dir: Path,
    run_name: str,
    dataset: str = "oxford",
    per_breed: int = 50,
    extra_args: Sequence[str] = (),
    project_dir: Path = PROJECT_DIR,
) -> dict:
    paths = run_paths(runs_dir, run_name)
    cmd = build_eval_command(
        paths["pipeline"], paths["classifier"], dataset_root(data_dir, dataset), paths["eval"], per_breed, extra_args
    )
    stream_command(cmd, project_dir)
    return json.loads((paths["eval"] / "eval.json").read_text())["summary"]


class MissingTokenError(RuntimeError):
    pass


def run_push_to_hub(
    runs_dir: Path, run_name: str, repo_id: str, dry_run: bool = False, project_dir: Path = PROJECT_DIR
) -> str:
    """Upload the run (pipeline, classifier, ONNX, eval, model card); a dry run writes that folder instead."""
    paths = run_paths(runs_dir, run_name)
    if not dry_run and not os.environ.get("HF_TOKEN"):
        raise MissingTokenError(
            f"HF_TOKEN is not set, so nothing was uploaded to {repo_id}. Create the Modal Secret once with "
            f"`modal secret create {HF_SECRET_NAME} HF_TOKEN=hf_...` (a write token from "
            "https://huggingface.co/settings/tokens), or pass --dry-run to only write the upload folder."
        )
    if dry_run and paths["hub"].exists():  # the folder is rebuilt from the run's current files each time
        import shutil

        shutil.rmtree(paths["hub"])
    stream_command(build_push_command(paths, repo_id, dry_run), project_dir)
    return str(paths["hub"]) if dry_run else f"https://huggingface.co/{repo_id}"


# ----------------------------------------------------------------------------------------------
# Modal Functions
@app.function(image=image, volumes=VOLUMES, cpu=8, memory=16384, timeout=4 * 3600, retries=CPU_RETRIES)
def prepare_data(dataset: str = "oxford", preset: str = "s128", per_class: int = 100) -> dict:
    """Download + verify the dataset and fill the pre-resized cache for ``preset`` (idempotent)."""
    from cats_dit import PRESETS

    summary = run_prepare_data(DATA_DIR, dataset, cache_sizes=(PRESETS[preset]["sample_size"],), per_class=per_class)
    data_volume.commit()
    return summary


def _gpu_count() -> int:
    import torch

    count = torch.cuda.device_count()
    if count < 1:
        raise RuntimeError("No CUDA device in this container: call the GPU functions through train_dit/main")
    return count


@app.function(image=image, gpu=DEFAULT_GPU, volumes=VOLUMES, cpu=8, memory=65536, timeout=DAY, retries=TRAIN_RETRIES)
def train_dit_gpu(
    run_name: str, preset: str, steps: int, dataset: str, checkpointing_steps: int, batch_size: int, extra_args: str
) -> dict:
    """The GPU worker: one accelerate process per attached GPU (the GPU comes from ``with_options``)."""
    runs_volume.reload()  # a retried attempt sees every checkpoint committed by the previous one
    return run_train_dit(
        DATA_DIR, RUNS_DIR, run_name, preset, _gpu_count(), steps or None, dataset, "bf16",
        checkpointing_steps or None, batch_size or None, extra_args.split(), commit=runs_volume.commit,
    )  # fmt: skip


@app.function(image=image, gpu="A10G", volumes=VOLUMES, cpu=8, memory=32768, timeout=DAY, retries=TRAIN_RETRIES)
def train_classifier_gpu(run_name: str, backbone: str, dataset: str, epochs: int, extra_args: str) -> dict:
    return run_train_classifier(
        DATA_DIR, RUNS_DIR, run_name, backbone, _gpu_count(), dataset, "bf16", epochs or None,
        extra_args=extra_args.split(), commit=runs_volume.commit,
    )  # fmt: skip


def wait_for_gpu_call(fn: modal.Function, gpu: str, marker: Path, kwargs: dict):
    """Run ``fn`` on ``gpu`` and wait for it, re-attaching to the call recorded in ``marker`` while it runs.

    The waiting Function may itself be restarted (timeout, preemption, retry); without the
    marker a restart would start a second trainer writing to the same run folder. A training
    failure (an error of the script, not of Modal) is recorded so that retries of this same
    call do not start it again; a new invocation does.
    """
    runs_volume.reload()
    me = modal.current_function_call_id()
    job = {"gpu": gpu, "kwargs": kwargs}
    record = {**job, "waiter": me}
    if marker.is_file():
        saved = json.loads(marker.read_text())
        if {k: saved.get(k) for k in job} == job:
            if saved.get("failed") and saved.get("waiter") == me:
                raise RuntimeError(f"The {gpu} run failed in an earlier attempt of this call: {saved['failed']}")
            if not saved.get("failed"):
                call = modal.FunctionCall.from_id(saved["call_id"])
                try:
                    return call.get(timeout=0)  # it already finished
                except TimeoutError:  # the builtin one: still running, so wait for it
                    print(f"Re-attaching to the running call {saved['call_id']}", flush=True)
                    return _await(call, marker, {**record, "call_id": saved["call_id"]})
                except Exception as exc:  # cancelled, timed out, expired or failed: a new attempt resumes
                    print(f"Previous call {saved['call_id']} ended with {type(exc).__name__}; starting a new attempt")
    call = fn.with_options(gpu=gpu).spawn(**kwargs)
    record["call_id"] = call.object_id
    _write_marker(marker, record)
    print(f"Started call {call.object_id} on {gpu}; follow it with `modal app logs {APP_NAME}`", flush=True)
    return _await(call, marker, record)


def _write_marker(marker: Path, record: dict) -> None:
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(record, indent=2) + "\n")
    runs_volume.commit()


def _await(call: modal.FunctionCall, marker: Path, record: dict):
    try:
        return call.get()
    except Exception as exc:
        if not isinstance(exc, modal.exception.Error):  # the script failed: retrying this call would fail again
            _write_marker(marker, {**record, "failed": f"{type(exc).__name__}: {exc}"[:1000]})
        raise


WAIT = dict(image=image, volumes=VOLUMES, cpu=1, timeout=DAY, retries=TRAIN_RETRIES)


@app.function(**WAIT)
def train_dit(
    run_name: str = DEFAULT_RUN_NAME,
    preset: str = "s128",
    gpu: str = DEFAULT_GPU,
    steps: int = 200_000,
    dataset: str = "oxford",
    checkpointing_steps: int = 0,
    batch_size: int = 0,
    extra_args: str = "",
) -> dict:
    """Train the generator on ``gpu`` (e.g. 'H100:4'); resumes the run's latest checkpoint if there is one."""
    parse_gpu(gpu)
    kwargs = dict(run_name=run_name, preset=preset, steps=steps, dataset=dataset,
                  checkpointing_steps=checkpointing_steps, batch_size=batch_size, extra_args=extra_args)  # fmt: skip
    marker = run_paths(RUNS_DIR, run_name)["calls"] / "train_dit.json"
    return wait_for_gpu_call(train_dit_gpu, gpu, marker, kwargs)


@app.function(**WAIT)
def train_classifier(
    run_name: str = DEFAULT_RUN_NAME,
    backbone: str = "efficientnet_b0",
    gpu: str = "A10G",
    dataset: str = "oxford",
    epochs: int = 15,
    extra_args: str = "",
) -> dict:
    """Train the breed classifier (ImageNet-pretrained backbone) on ``gpu``."""
    parse_gpu(gpu)
    kwargs = dict(run_name=run_name, backbone=backbone, dataset=dataset, epochs=epochs, extra_args=extra_args)
    marker = run_paths(RUNS_DIR, run_name)["calls"] / "train_classifier.json"
    return wait_for_gpu_call(train_classifier_gpu, gpu, marker, kwargs)


@app.function(image=image, volumes=VOLUMES, cpu=8, memory=16384, timeout=2 * 3600, retries=CPU_RETRIES)
def export(run_name: str = DEFAULT_RUN_NAME, extra_args: str = "") -> dict:
    """ONNX export of the run's pipeline and classifier into <run>/onnx (fp32/fp16/int8 + models.json)."""
    runs_volume.reload()
    models = run_export(RUNS_DIR, run_name, extra_args.split())
    runs_volume.commit()
    return models


@app.function(image=image, volumes=VOLUMES, cpu=16, memory=32768, timeout=6 * 3600, retries=CPU_RETRIES)
def evaluate(run_name: str = DEFAULT_RUN_NAME, dataset: str = "oxford", per_breed: int = 50, extra_args: str = ""):
    """Breed fidelity, FD/KID, precision/recall against the real test split -> <run>/eval/eval.json."""
    runs_volume.reload()
    summary = run_evaluate(DATA_DIR, RUNS_DIR, run_name, dataset, per_breed, extra_args.split())
    runs_volume.commit()
    return summary


@app.function(image=image, volumes=VOLUMES, timeout=3600, retries=CPU_RETRIES)
def push_to_hub(run_name: str = DEFAULT_RUN_NAME, repo_id: str = "", dry_run: bool = False) -> str:
    """Upload the run to the Hub (HF_TOKEN from the Modal Secret); ``--dry-run`` writes <run>/hub-upload only."""
    if not repo_id:
        raise ValueError("--repo-id is required, e.g. --repo-id your-name/cats-dit")
    runs_volume.reload()
    where = run_push_to_hub(RUNS_DIR, run_name, repo_id, dry_run)
    runs_volume.commit()
    return where


def hub_secret_or_exit() -> modal.Secret:
    """The Hub secret, checked before any GPU time is spent; exits with the command that creates it."""
    try:
        hf_secret.hydrate()
    except modal.exception.NotFoundError:
        sys.exit(
            f"--push needs the Modal Secret {HF_SECRET_NAME!r} with HF_TOKEN. Create it once with\n"
            f"  modal secret create {HF_SECRET_NAME} HF_TOKEN=hf_...\nor drop --push."
        )
    return hf_secret


@app.function(**WAIT)
def run_all(
    run_name: str, preset: str, gpu: str, steps: int, dataset: str, classifier_gpu: str, backbone: str,
    classifier_epochs: int, per_breed: int, push: bool, repo_id: str, dry_run: bool,
) -> dict:  # fmt: skip
    """The whole job, server-side, so it carries on after the laptop that started it disconnects."""
    from cats_dit import PRESETS

    out = {"data": prepare_data.remote(dataset, preset if preset in PRESETS else "s128")}
    out["train_dit"] = train_dit.remote(run_name=run_name, preset=preset, gpu=gpu, steps=steps, dataset=dataset)
    out["train_classifier"] = train_classifier.remote(
        run_name=run_name, backbone=backbone, gpu=classifier_gpu, dataset=dataset, epochs=classifier_epochs
    )
    out["export"] = export.remote(run_name)
    out["eval"] = evaluate.remote(run_name, dataset, per_breed)
    if push or dry_run:
        pusher = push_to_hub.with_options(secrets=[hf_secret]) if push and not dry_run else push_to_hub
        out["hub"] = pusher.remote(run_name, repo_id, dry_run)
    return out


@app.local_entrypoint()
def main(
    preset: str = "s128",
    gpu: str = DEFAULT_GPU,
    steps: int = 200_000,
    run_name: str = "",
    dataset: str = "oxford",
    classifier_gpu: str = "A10G",
    backbone: str = "efficientnet_b0",
    classifier_epochs: int = 15,
    per_breed: int = 50,
    push: bool = False,
    repo_id: str = "",
    dry_run: bool = False,
):
    """data -> train_dit + train_classifier -> export -> evaluate -> (optional) push, all on Modal."""
    parse_gpu(gpu)
    parse_gpu(classifier_gpu)
    run_name = run_name or f"{preset}-{dataset}"
    run_paths(RUNS_DIR, run_name)  # validates the name
    if (push or dry_run) and not repo_id:
        sys.exit("--push/--dry-run need --repo-id your-name/cats-dit")
    if push and not dry_run:
        hub_secret_or_exit()
    kwargs = dict(run_name=run_name, preset=preset, gpu=gpu, steps=steps, dataset=dataset,
                  classifier_gpu=classifier_gpu, backbone=backbone, classifier_epochs=classifier_epochs,
                  per_breed=per_breed, push=push, repo_id=repo_id, dry_run=dry_run)  # fmt: skip
    # spawn, not remote: with `modal run --detach` the job must not be tied to this terminal's connection.
    call = run_all.spawn(**kwargs)
    print(f"Run {run_name!r} started (call {call.object_id}). Outputs: volume {RUNS_VOLUME_NAME}, folder /{run_name}/")
    print(f"Logs: `modal app logs {APP_NAME}`; files: `modal volume ls {RUNS_VOLUME_NAME} /{run_name}`")
    print(json.dumps(call.get(), indent=2, default=str))
