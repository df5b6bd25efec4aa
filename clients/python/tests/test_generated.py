"""What is committed is exactly what generate.sh makes from the .proto now (the Python stubs in the
package and the descriptor set the server's reflection serves), and the installed package ships
those same stubs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import lumenslate_storage

HERE = Path(__file__).resolve().parent.parent
ROOT = HERE.parent.parent
COMMITTED = HERE / "src/lumenslate_storage/v1"
DESCRIPTOR_SET = ROOT / "src/transports/grpc/descriptor-set.binpb"
PROTOS = sorted(p.stem for p in (ROOT / "proto").rglob("*.proto"))


def stubs(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.glob("*_pb2*.py*"))}


def test_generated_files_match_the_proto(tmp_path: Path) -> None:
    subprocess.run(
        ["bash", str(HERE / "generate.sh"), str(tmp_path / "v1"), str(tmp_path / "descriptor-set.binpb")],
        check=True,
        env={**os.environ, "PYTHON": sys.executable},
    )
    fresh, committed = stubs(tmp_path / "v1"), stubs(COMMITTED)
    # Every .proto under proto/ has its three files.
    assert sorted(fresh) == sorted(f"{p}{s}" for p in PROTOS for s in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"))
    assert sorted(committed) == sorted(fresh), "stubs were added or removed: run npm run gen:grpc"
    for name, text in fresh.items():
        assert committed[name] == text, f"{name} is stale: run npm run gen:grpc"
    assert (tmp_path / "descriptor-set.binpb").read_bytes() == DESCRIPTOR_SET.read_bytes(), (
        "src/transports/grpc/descriptor-set.binpb is stale: run npm run gen:grpc"
    )


@pytest.mark.skipif(not os.environ.get("LUMENSLATE_EXPECT_INSTALLED"), reason="only when testing an installed wheel")
def test_the_installed_package_is_the_wheel_with_the_committed_stubs() -> None:
    installed = Path(lumenslate_storage.__file__).resolve().parent
    assert Path(sys.prefix).resolve() in installed.parents, f"imported from {installed}, not the venv"
    assert (installed / "py.typed").is_file()
    assert stubs(installed / "v1") == stubs(COMMITTED)
