"""The project's command lines as Python: keyword options -> argv, checked by the program's own
parser, and a CLI's ``main(argv)`` called in this process.

Options are spelled as the parser's ``dest`` names (``max_steps`` for ``--max-steps``), so a flag
is never typed twice; ``check_argv`` has the real parser reject one that does not exist.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence


def to_argv(**options) -> list[str]:
    """``max_steps=10, preload=True, lr=None`` -> ``["--max-steps", "10", "--preload"]``.

    None and False leave a flag out; True writes it alone (a ``store_true`` flag)."""
    argv = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        argv += [flag] if value is True else [flag, str(value)]
    return argv


def check_argv(parse_args: Callable[[list[str]], object], argv: Sequence[str], prog: str) -> None:
    """Parse ``argv`` with ``prog``'s own parser, so a wrong flag fails here, before anything is launched."""
    try:
        parse_args(list(argv))
    except SystemExit:  # argparse has printed why
        raise ValueError(f"{prog} does not accept: {' '.join(argv)}") from None


def call_main(main: Callable[[list[str]], int | None], argv: Sequence[str], prog: str) -> None:
    """``main(argv)`` in this process, echoed like a shell command; raises when it fails."""
    argv = [str(a) for a in argv]
    print("$ " + " ".join([prog, *argv]), flush=True)
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors exit; a Modal Function must raise instead
        code = exc.code
    finally:
        if signal.getsignal(signal.SIGTERM) is not sigterm:  # export's main installs its own handler
            signal.signal(signal.SIGTERM, sigterm)
    if code not in (0, None):
        raise RuntimeError(f"`{prog} {' '.join(argv)}` failed (exit status {code}); its error is above")
