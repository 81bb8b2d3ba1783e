import os
import pathlib
import subprocess

import openai
import pytest

from server_fixture import Server

ROOT = pathlib.Path(__file__).resolve().parents[2]


def bin_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("TURBINE_BIN", ROOT / "build" / "bin"))


@pytest.fixture(scope="session")
def turbine() -> pathlib.Path:
    exe = bin_dir() / "turbine"
    if not exe.exists():
        pytest.fail(f"{exe} is missing: build first (scripts/setup)")
    return exe


@pytest.fixture(scope="session")
def gemma3_model() -> str:
    """Gemma-3 270M Q4_K_M; fetched by scripts/fetch-model gemma3 if needed."""
    path = os.environ.get("TURBINE_GEMMA3_MODEL")
    if not path:
        path = subprocess.run([str(ROOT / "scripts" / "fetch-model"), "gemma3"], check=True,
                              capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return path


@pytest.fixture(scope="session")
def real_model() -> str:
    """The default SmolLM2 model; fetched by scripts/fetch-model if needed."""
    path = os.environ.get("TURBINE_MODEL")
    if not path:
        path = subprocess.run([str(ROOT / "scripts" / "fetch-model")], check=True,
                              capture_output=True, text=True).stdout.strip().splitlines()[-1]
    return path


@pytest.fixture(scope="session")
def tiny_model(turbine, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("models") / "tiny.gguf"
    subprocess.run([str(turbine), "synth", "-o", str(path), "--layers", "2", "--hidden", "64",
                    "--ffn", "128", "--heads", "4", "--kv-heads", "2", "--vocab", "512"],
                   check=True, capture_output=True)
    return str(path)


# The default server and client of a module: SmolLM2 with room for 8 sequences, no API key
# (test_structured_output and test_tool_calls use them; modules that need other flags
# define their own `server`, which takes precedence).
@pytest.fixture(scope="module")
def server(turbine, real_model):
    s = Server(turbine, real_model, "--kv-blocks", "512", "--max-running", "8")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base + "/v1", api_key="unused", max_retries=0)
