"""--certfile and --keyfile: the server speaks https and wss, with a certificate made on the fly (trustme)."""

from __future__ import annotations

import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import orjson
import pytest
import trustme
from websockets.sync.client import connect

from tools.harness import ROOT, Server


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def pems(tmp_path: Path, ca: trustme.CA) -> tuple[str, str]:
    certificate = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    certificate.cert_chain_pems[0].write_to_path(str(certfile))
    certificate.private_key_pem.write_to_path(str(keyfile))
    return str(certfile), str(keyfile)


def test_https_and_wss_end_to_end(ca: trustme.CA, pems: tuple[str, str]) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with Server("--certfile", pems[0], "--keyfile", pems[1], "--option", "stocks.interval=0.02") as server:
        assert server.url.startswith("https://127.0.0.1:")
        with urllib.request.urlopen(server.url + "api/feeds", context=context, timeout=5) as response:
            assert [feed["name"] for feed in orjson.loads(response.read())] == ["system", "stocks"]
        with connect(server.url.replace("https://", "wss://") + "ws", ssl=context, open_timeout=5) as ws:
            ws.send(orjson.dumps({"op": "subscribe", "feed": "stocks"}).decode())
            assert orjson.loads(ws.recv(timeout=5))["op"] == "subscribed"
            seqs = []
            while len(seqs) < 5:
                message = orjson.loads(ws.recv(timeout=5))
                if message["op"] == "data":
                    seqs.append(message["seq"])
        assert seqs == list(range(seqs[0], seqs[0] + 5))
        # Plain http to the https port gets no page.
        with pytest.raises(OSError):
            urllib.request.urlopen(server.url.replace("https://", "http://"), timeout=5).close()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--certfile", "{cert}"), "--certfile and --keyfile go together"),
        (("--certfile", "{cert}", "--keyfile", "{cert}"), "cannot use --certfile"),
        (("--certfile", "/nonexistent.pem", "--keyfile", "{key}"), "bad value '/nonexistent.pem' for --certfile"),
    ],
)
def test_a_bad_certificate_setting_is_a_one_line_error(
    pems: tuple[str, str], args: tuple[str, ...], expected: str
) -> None:
    filled = [arg.format(cert=pems[0], key=pems[1]) for arg in args]
    result = subprocess.run(
        [sys.executable, "server.py", "--port", "0", *filled],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert expected in result.stderr
