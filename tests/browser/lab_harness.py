"""What the lab tests need: the exact server `make lab` starts, on a free port.

`make lab`'s command is read from ``make -n lab`` (so the tests start what a
student starts), then given a port, a token and no browser. JupyterLab's
runtime, user-settings and workspace folders go to a fresh temporary folder, so
neither a developer's own settings nor a remembered layout change what the test
sees; ``settings`` adds user settings on top of the course's overrides.

Example
-------
>>> command = lab_command()
>>> command[0].endswith("jupyter"), command[1]
(True, 'lab')
"""
from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[2]


class LabDidNotStart(RuntimeError):
    """The server exited or did not answer in time; the message holds its log."""


def _make(*args: str) -> str:
    done = subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT,
                          check=True, capture_output=True, text=True)
    return done.stdout


def lab_command() -> list[str]:
    """The command line `make lab` runs (its last recipe line), split into words."""
    lines = [line for line in _make("-n", "lab").splitlines() if " lab " in f"{line} "]
    if not lines:
        raise LabDidNotStart("`make -n lab` prints no `jupyter lab` command")
    return shlex.split(lines[-1])


def prepare_overrides() -> None:
    """Write the settings overrides, as `make lab` does before it starts the server."""
    from sys import prefix

    overrides = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    _make(str(overrides.relative_to(ROOT)))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api_get(base: str, token: str, path: str) -> Any:
    """GET ``base + path`` with the token; the decoded JSON answer."""
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _write_settings(folder: Path, settings: dict[str, dict[str, Any]]) -> None:
    """``{"@scope/ext:plugin": {...}}`` as JupyterLab's user-settings files."""
    for plugin_id, values in settings.items():
        package, plugin = plugin_id.split(":")
        target = folder / package / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))


@contextlib.contextmanager
def running_lab(work: Path, token: str, env: dict[str, str] | None = None,
                settings: dict[str, dict[str, Any]] | None = None,
                timeout: float = 120) -> Iterator[str]:
    """Start `make lab`'s server in ``work`` (runtime, settings, log); yield its base URL.

    The server is stopped (terminated, then killed) when the block ends.
    """
    prepare_overrides()
    work.mkdir(parents=True, exist_ok=True)
    settings_dir = work / "user-settings"
    _write_settings(settings_dir, settings or {})
    port = free_port()
    log_path = work / "lab.log"
    lab_env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
               "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
               "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"), **(env or {})}
    with log_path.open("w") as log:
        server = subprocess.Popen(
            lab_command() + ["--no-browser", f"--port={port}", "--ip=127.0.0.1",
                             f"--IdentityProvider.token={token}"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=lab_env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    api_get(base, token, "/api/status")
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise LabDidNotStart("JupyterLab did not start:\n"
                                             + log_path.read_text()[-3000:]) from None
                    time.sleep(0.5)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)
