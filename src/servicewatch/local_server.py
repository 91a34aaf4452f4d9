"""``streamlit run`` as a local server for the browser tests and the browser benchmark: a free port on
127.0.0.1, headless, no file watcher, no usage statistics; ready when ``/_stcore/health`` answers.
The one place both start the app from (tests/conftest.py ``run_app``, bench/browser.py ``app_server``)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


class ServerDidNotStart(RuntimeError):
    """The server exited or did not answer in time; the message says which, with the port."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(base_url: str) -> bool:
    """Whether the Streamlit server at ``base_url`` answers its health check (2 s timeout)."""
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@contextmanager
def streamlit_server(script: str, cwd: Path, env: Mapping[str, str], log_path: Path,
                     timeout_s: float = 120.0) -> Iterator[str]:
    """``streamlit run <script>`` in ``cwd`` with exactly ``env``, its output to ``log_path``; yields the
    base URL (``http://127.0.0.1:<port>``) once healthy, and stops the server after (terminate, then
    kill after 10 s). Raises :class:`ServerDidNotStart` when it exits or is not healthy in ``timeout_s``
    seconds."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.address", "127.0.0.1",
           "--server.port", str(port), "--server.headless", "true", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout_s
        while not healthy(base_url):
            if proc.poll() is not None or time.monotonic() > deadline:
                what = f"exited with {proc.returncode}" if proc.poll() is not None else "timed out"
                raise ServerDidNotStart(f"streamlit run {script} {what} (port {port})")
            time.sleep(0.25)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
