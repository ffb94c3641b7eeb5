"""Run the installed ``paarec`` command as a real subprocess and check how it failed."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

PAAREC = Path(sys.executable).parent / "paarec"


@dataclass(frozen=True)
class CliResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"paarec {' '.join(self.args)} -> exit {self.returncode}\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


def run_paarec(*args: str | Path, cwd: Path, timeout: float = 120.0) -> CliResult:
    """``paarec ARGS`` in ``cwd`` with a single-threaded, display-less environment."""
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NO_COLOR": "1",
        "TERM": "dumb",
        "COLUMNS": "200",
    }
    command = [str(PAAREC), *(str(arg) for arg in args)]
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return CliResult(tuple(command[1:]), done.returncode, done.stdout, done.stderr)


def run_paarec_many(
    commands: dict[str, tuple[list[str | Path], Path]], workers: int = 4, timeout: float = 240.0
) -> dict[str, CliResult]:
    """Run independent ``name -> (args, cwd)`` commands concurrently; results by name.

    Each run is still a separate real process; running them side by side only hides the
    interpreter start-up and import time (seconds each) that dominates these tiny commands.
    """
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {
            name: pool.submit(run_paarec, *args, cwd=cwd, timeout=timeout)
            for name, (args, cwd) in commands.items()
        }
        return {name: future.result() for name, future in futures.items()}


def assert_succeeded(result: CliResult) -> None:
    assert result.returncode == 0, result.describe()
    assert "Traceback" not in result.stderr, result.describe()


def assert_user_error(result: CliResult, *fragments: str) -> str:
    """A non-zero exit with one ``error:`` line naming the problem and no traceback.

    Returns the error line; every fragment must occur in it (case-insensitive).
    """
    assert result.returncode != 0, result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.describe()
    line = errors[0]
    for fragment in fragments:
        assert fragment.lower() in line.lower(), f"{fragment!r} not in {line!r}"
    return line


def invoke_paarec(*args: str | Path) -> CliResult:
    """``paarec ARGS`` in this process (typer's runner), without a new interpreter's start-up.

    An exception that escapes the command is reported as a ``Traceback`` line in ``stderr``,
    which is what a user would see from the real command.
    """
    import traceback

    from typer.testing import CliRunner

    from export.cli import register_export
    from training.cli import app

    if not any(command.name == "export" for command in app.registered_commands):
        register_export(app)  # what ``main()`` does before running the app
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))  # "Traceback (...)"
    return CliResult(tuple(str(arg) for arg in args), result.exit_code, result.stdout, stderr)
