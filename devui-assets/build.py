#!/usr/bin/env python3
"""Rebuild the dev page's vendored AG-UI client (``baton/devui/static/agui-client.js``).

    python3 devui-assets/build.py

For maintainers, when ``package.json`` here changes (a new ``@ag-ui/client``): installs the
pinned packages with ``npm ci`` into ``devui-assets/node_modules`` and bundles ``entry.mjs``
with esbuild into one minified script that defines ``window.AGUIClient``. The result is
committed; nothing here runs when Baton is installed or used (no node, no network, no CDN).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = HERE.parent / "baton" / "devui" / "static" / "agui-client.js"


def main() -> int:
    npm = shutil.which("npm")
    if npm is None:
        print("build.py needs npm (Node.js) on the PATH", file=sys.stderr)
        return 2
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    lock = json.loads((HERE / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/@ag-ui/client"]["version"]
    banner = (
        f"/* @ag-ui/client {version} (MIT), bundled by devui-assets/build.py for the baton dev "
        "page; do not edit: rebuild it */"
    )
    subprocess.run(
        [
            str(HERE / "node_modules" / ".bin" / "esbuild"),
            "entry.mjs",
            "--bundle",
            "--minify",
            "--format=iife",
            "--global-name=AGUIClient",
            "--platform=browser",
            "--target=es2020",
            "--legal-comments=eof",  # the bundled packages' licence notices, kept
            f"--banner:js={banner}",
            f"--outfile={TARGET}",
        ],
        cwd=HERE,
        check=True,
    )
    print(f"wrote {TARGET.relative_to(HERE.parent)} ({TARGET.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
