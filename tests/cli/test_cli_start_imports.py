"""What the command line's start costs in imports: parsing the arguments (``servicewatch --help``, and
any command before it runs) imports neither the statistics and chart libraries nor the models that only
some commands use. Each of scipy.stats, plotly's template, lifelines and statsmodels is a second or more
of start-up on this machine's class, paid by every scheduled command and by every test that runs one."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("scipy.stats", "plotly", "lifelines", "statsmodels", "jieba", "streamlit", "reportlab", "pptx",
         "kaleido", "apscheduler")


def test_parsing_the_command_line_imports_no_heavy_library() -> None:
    code = f"""
import json, sys
from metrics.cli.main import build_parser
parser = build_parser()
parser.parse_args(["metric", "csat", "--by", "tier"])
print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_heavy_libraries_are_there_when_a_command_needs_them() -> None:
    """The lazy imports still reach their libraries: an interval (scipy.stats) and a chart (plotly's
    white template as the default, set when the charts are imported)."""
    code = """
import json, sys
from metrics.analysis import stats
lo, hi = stats.mean_interval([10.0], [60.0], [2])
p = float(stats.normal_p(1.959963984540054))
from metrics.present.charts import core
import plotly.io as pio
print(json.dumps({"scipy": "scipy.stats" in sys.modules, "p": p, "template": pio.templates.default}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["scipy"] and abs(got["p"] - 0.05) < 1e-12 and got["template"] == "plotly_white"
