"""What is committed is exactly what generate.sh makes from the .proto now: the Python stubs and
the descriptor set the server's reflection serves."""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
ROOT = HERE.parent.parent
STUBS = [
    f"{proto}{suffix}"
    for proto in ("storage", "admin")
    for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
]
DESCRIPTOR_SET = ROOT / "src/transports/grpc/descriptor-set.binpb"


def test_generated_files_match_the_proto(tmp_path: Path) -> None:
    subprocess.run(
        ["bash", str(HERE / "generate.sh"), str(tmp_path), str(tmp_path / "descriptor-set.binpb")],
        check=True,
        env={**os.environ, "PYTHON": sys.executable},
    )
    for name in STUBS:
        fresh = (tmp_path / "lumenslate/storage/v1" / name).read_text()
        committed = (HERE / "lumenslate/storage/v1" / name).read_text()
        assert fresh == committed, f"{name} is stale: run clients/python/generate.sh"
    assert (tmp_path / "descriptor-set.binpb").read_bytes() == DESCRIPTOR_SET.read_bytes(), (
        "src/transports/grpc/descriptor-set.binpb is stale: run clients/python/generate.sh"
    )
