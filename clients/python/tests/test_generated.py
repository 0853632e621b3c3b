"""The checked-in stubs (tally_client/_proto) are exactly what scripts/generate.sh makes from the
current proto/ files. Fix a failure by running clients/python/scripts/generate.sh."""

import filecmp
import os
import shutil
import subprocess
from pathlib import Path

from conftest import CLIENT_DIR, require

SCRIPT = CLIENT_DIR / "scripts" / "generate.sh"
CHECKED_IN = CLIENT_DIR / "tally_client" / "_proto"


def tree(root: Path) -> set:
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_checked_in_stubs_match_the_proto(tmp_path):
    require(CHECKED_IN.is_dir(), f"no checked-in stubs at {CHECKED_IN} (testing an installed copy?)")
    require(shutil.which("protoc") and shutil.which("grpc_python_plugin"),
            "protoc and grpc_python_plugin are not installed "
            "(Debian: protobuf-compiler protobuf-compiler-grpc)")
    recorded = (CHECKED_IN / "__init__.py").read_text()
    version = subprocess.run(["protoc", "--version"], capture_output=True, text=True).stdout.strip()
    require(f'"{version}"' in recorded,
            f"protoc is {version!r}, the stubs were generated with another version "
            f"({recorded.strip().splitlines()[-1]}): the output would differ")
    out = tmp_path / "_proto"
    subprocess.run(["bash", str(SCRIPT), str(out)], check=True, env=dict(os.environ, PROTOC="protoc"))
    want, have = tree(out), tree(CHECKED_IN)
    assert have == want, f"files differ: missing {want - have}, extra {have - want}"
    _, mismatch, errors = filecmp.cmpfiles(out, CHECKED_IN, sorted(want), shallow=False)
    assert not mismatch and not errors, (
        f"stale generated files {mismatch + errors}: run clients/python/scripts/generate.sh")


def test_generated_modules_import_from_the_package():
    import tally_client
    from tally_client._proto import googleapis
    from tally_client._proto.tally.v1 import sampler_pb2, sampler_pb2_grpc

    assert tally_client.sampler_pb2 is sampler_pb2
    assert sampler_pb2.DESCRIPTOR.name == "tally/v1/sampler.proto"
    assert sampler_pb2.SessionResponse.DESCRIPTOR.fields_by_name["error"].message_type \
        is googleapis.status_pb2.Status.DESCRIPTOR
    assert hasattr(sampler_pb2_grpc, "SamplerStub")
    # every name the contract enum lists is a known Tally error code
    assert "UNKNOWN_SEQUENCE" in sampler_pb2.ErrorCode.keys()
