"""The README's Python quick start (the ```python title="quickstart" block) runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import ADDRESS, env, live

README = Path(__file__).resolve().parents[3] / "README.md"


def quickstart() -> str:
    blocks = re.findall(r'^```python title="quickstart"\n(.*?)^```$', README.read_text(), flags=re.M | re.S)
    assert len(blocks) == 1, "README.md needs exactly one ```python title=\"quickstart\" block"
    return blocks[0]


@live
def test_the_readme_quick_start_runs_verbatim(bucket: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", quickstart()],
        cwd=tmp_path,  # an empty directory, as the README says
        env={
            **os.environ,
            "STORAGE_GRPC_ADDRESS": ADDRESS,
            "STORAGE_API_KEY": env("LUMENSLATE_GRPC_TOKEN"),
            "STORAGE_BUCKET": bucket,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"^stored demo/hello.txt: 18 bytes, sha256 [0-9a-f]{64}$", result.stdout, flags=re.M), result.stdout
    assert "listed demo/hello.txt (18 bytes)" in result.stdout
    assert re.search(r"^deleted: NOT_FOUND \(request id \S+\)$", result.stdout, flags=re.M), result.stdout
    assert (tmp_path / "hello-copy.txt").read_text() == "hello from Python\n"
