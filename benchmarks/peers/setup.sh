#!/usr/bin/env sh
# One command: the peers' own virtualenv (benchmarks/peers/.venv, git-ignored) with the pinned
# frameworks of requirements.txt and Baton itself (editable, no extras). Never touches the
# project's .venv. PYTHON=python3.12 picks the interpreter (default: python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="$here/.venv"
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt" -e "$root"
echo "peers venv ready: $venv"
"$venv/bin/python" - <<'PY'
from importlib.metadata import version
import platform
names = ["baton-agents", "ag2", "pydantic-ai-slim", "openai-agents", "openai", "langgraph",
         "langgraph-prebuilt", "langchain-core", "pydantic", "matplotlib", "pyinstrument"]
print(f"Python {platform.python_version()}: " + ", ".join(f"{n} {version(n)}" for n in names))
PY
