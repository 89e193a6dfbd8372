"""The one builder of ``accelerate launch`` command lines (Modal jobs, the 2-process test, benchmarks)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def accelerate_command(
    script: str,
    num_processes: int,
    script_args: Sequence[str] = (),
    mixed_precision: str = "bf16",
    cpu: bool = False,
    main_process_port: int | None = None,
) -> list[str]:
    """``accelerate launch`` with every launcher setting explicit, so no accelerate config file is consulted.

    Several CPU processes: leave ``cpu`` False (the launcher then uses ``--multi_gpu``, which on a
    machine without CUDA starts gloo processes) and pass the script its own ``--cpu``."""
    if num_processes < 1:
        raise ValueError(f"num_processes must be >= 1, got {num_processes}")
    if cpu and num_processes > 1:  # accelerate's --cpu launcher ignores --num_processes and starts one
        raise ValueError("accelerate launch --cpu runs a single process; use num_processes=1 with cpu=True")
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(num_processes)]
    cmd += ["--num_machines", "1", "--mixed_precision", mixed_precision, "--dynamo_backend", "no"]
    if cpu:
        cmd.append("--cpu")
    elif num_processes > 1:
        cmd.append("--multi_gpu")
    if main_process_port is not None:
        cmd += ["--main_process_port", str(main_process_port)]
    return [*cmd, str(script), *map(str, script_args)]
