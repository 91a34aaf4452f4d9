"""A process that rendered an image exits cleanly: kaleido's Chromium is closed before its profile
folder is removed. The CI run of 2026-12-07 failed once on a ``servicewatch subscription send`` whose
stderr ended in a traceback from ``tempfile``'s finalizer ("Directory not empty: 'Default'"), because
``atexit`` removed the folder while Chromium still wrote into it. The process below records, from that
finalizer, whether kaleido's server was still running: it must never be."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="kaleido needs Chromium (make system)")

SCRIPT = textwrap.dedent("""
    import tempfile
    import kaleido
    import plotly.graph_objects as go
    from metrics.present import export

    plain = tempfile.TemporaryDirectory._cleanup.__func__

    def watched(cls, *args, **kwargs):
        print("finalizer removes a folder; kaleido running:", kaleido._global_server.is_running(), flush=True)
        plain(cls, *args, **kwargs)

    tempfile.TemporaryDirectory._cleanup = classmethod(watched)
    png = export.figure_image(go.Figure(go.Bar(x=[1, 2], y=[3, 4])))
    print("rendered", png[:4] == b"\\x89PNG", flush=True)
""")


def test_chromium_is_closed_before_its_profile_folder_is_removed() -> None:
    p = subprocess.run([sys.executable, "-W", "ignore", "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "rendered True" in p.stdout, p.stdout
    assert "kaleido running: True" not in p.stdout, p.stdout
    assert "Traceback" not in p.stderr, p.stderr
