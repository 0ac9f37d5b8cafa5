"""Shared bootstrap for the repo's Python scripts (fixture generators, benchmark baselines).

Python is never needed at run time or by `npm test`; scripts that need torch/transformers re-run themselves under
the project venv (.tools/py), creating and filling it from infra/requirements-py.txt first when it is missing.
"""
import importlib
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def ensure_venv(modules=("torch", "transformers")):
    try:
        for name in modules:
            importlib.import_module(name)
        return
    except ImportError:
        pass
    venv = os.path.join(ROOT, ".tools", "py")
    venv_py = os.path.join(venv, "bin", "python")
    if os.environ.get("AGENTRL_VENV_BOOTSTRAPPED") == "1":
        sys.exit(f"{', '.join(modules)} still missing under {sys.executable}: check infra/requirements-py.txt")
    if not os.path.exists(venv_py):
        subprocess.check_call([sys.executable, "-m", "venv", venv], stdout=sys.stderr)
    req = os.path.join(ROOT, "infra", "requirements-py.txt")
    subprocess.check_call([venv_py, "-m", "pip", "install", "-q", "-r", req], stdout=sys.stderr)
    os.environ["AGENTRL_VENV_BOOTSTRAPPED"] = "1"
    os.execv(venv_py, [venv_py, os.path.abspath(sys.argv[0])] + sys.argv[1:])
