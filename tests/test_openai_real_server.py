"""The OpenAI-compatible backend against a real llama.cpp server (llama-cpp-python[server]) on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from draftsmith import Assistant
from draftsmith.models.loader import resolve_gguf

pytestmark = pytest.mark.model


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    pytest.importorskip("llama_cpp.server", reason="needs llama-cpp-python[server] (the dev extra)")
    log = (tmp_path_factory.mktemp("server") / "server.log").open("w+b")  # a pipe would fill up and block it
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(resolve_gguf("qwen2.5-0.5b")),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--model_alias",
        "qwen-small",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama.cpp server exited: {log.read().decode(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("llama.cpp server did not start within 120 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_operations_through_a_real_server(server_url):
    a = Assistant(model=f"openai:{server_url}")  # model id discovered from /models
    assert a.model.model == "qwen-small"
    fixed = a.correct("She go to school every day.")
    assert "goes" in fixed.text and "every day" in fixed.text
    pieces: list[str] = []
    result = a.write("Write one sentence about the sea.", temperature=0.0, max_tokens=40, on_text=pieces.append)
    assert len(pieces) > 1 and "".join(pieces).strip() == result.text.strip()
    assert result.usage.completion_tokens > 0


def test_cli_with_an_openai_model(server_url):
    cmd = [
        sys.executable,
        "-c",
        "from draftsmith.cli import entry; entry()",
        "translate",
        "--to",
        "zh",
        "--model",
        f"openai:{server_url}#qwen-small",
    ]
    proc = subprocess.run(cmd, input="Good morning, friends.", capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert any("\u4e00" <= ch <= "\u9fff" for ch in proc.stdout)
