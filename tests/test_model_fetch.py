"""fetch_model against a local HTTP server serving small fake model archives."""

from __future__ import annotations

import hashlib
import http.server
import io
import struct
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from assistant.errors import CoachError, ModelError
from assistant.model import (
    MANIFEST_NAME,
    ModelSpec,
    fetch_model,
    find_model,
    models_dir,
    validate_model,
)

NAME = "vosk-model-test-0.1"


def _fst_header(kind: str, version: int, flags: int, states: int, arcs: int) -> bytes:
    def text(value: str) -> bytes:
        return struct.pack("<i", len(value)) + value.encode()

    return (
        struct.pack("<I", 0x7EB2FDD6)
        + text(kind)
        + text("standard")
        + struct.pack("<iiQqqq", version, flags, 0, 0, states, arcs)
    )


def _lookahead_fst(states: int = 3, arcs: int = 4) -> bytes:
    data = _fst_header("olabel_lookahead", 1, 0, 0, 0) + struct.pack("<I", 0x1A9FD15A)
    data += _fst_header("const", 2, 0, states, arcs)
    data += b"\0" * (-len(data) % 16) + b"\1" * (20 * states)
    data += b"\0" * (-len(data) % 16) + b"\2" * (16 * arcs)
    return data + b"lookahead data"


FAKE_MODEL: dict[str, bytes] = {
    "README": b"A fake model for tests\n",
    "am/final.mdl": b"\0B<TransitionModel> <Topology> fake",
    "conf/model.conf": b"--min-active=200\n--beam=10.0\n",
    "conf/mfcc.conf": b"--use-energy=false\n--sample-frequency=16000\n",
    "graph/HCLr.fst": _lookahead_fst(),
    "graph/Gr.fst": _fst_header("ngram", 4, 3, 10, 0) + b"symbols and n-grams",
    "graph/disambig_tid.int": b"11\n12\n13\n",
    "graph/phones/word_boundary.int": b"1 nonword\n",
    "ivector/final.ie": b"ie",
    "ivector/final.mat": b"mat",
    "ivector/final.dubm": b"dubm",
    "ivector/global_cmvn.stats": b"stats",
    "ivector/online_cmvn.conf": b"# no options\n",
    "ivector/splice.conf": b"--left-context=3\n",
}


def _zip(files: dict[str, bytes], prefix: str = f"{NAME}/") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        if prefix:
            bundle.writestr(prefix, b"")
        for name, data in files.items():
            bundle.writestr(prefix + name, data)
    return buffer.getvalue()


@dataclass
class Route:
    body: bytes
    status: int = 200
    send_bytes: int | None = None
    """Send only this many bytes of the body (Content-Length still says all of it)."""


@dataclass
class FakeServer:
    url: str
    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    state = FakeServer(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits.append(self.path)
            route = state.routes.get(self.path, Route(b"not found", status=404))
            self.send_response(route.status)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body[: route.send_bytes])
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _spec(server: FakeServer, body: bytes, *, sha256: str | None = None, **route: int) -> ModelSpec:
    server.routes["/model.zip"] = Route(body, **route)
    digest = sha256 or hashlib.sha256(body).hexdigest()
    return ModelSpec(name=NAME, url=f"{server.url}/model.zip", sha256=digest, size=len(body))


def _leftovers(data_dir: Path) -> list[str]:
    folder = models_dir(data_dir)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_fetch_downloads_verifies_and_installs(server: FakeServer, tmp_path: Path) -> None:
    body = _zip(FAKE_MODEL)
    spec = _spec(server, body)
    progress = io.StringIO()
    began = time.perf_counter()
    installed = fetch_model(tmp_path, spec, progress=progress)
    seconds = time.perf_counter() - began
    print(f"\nfetched and installed {len(body)} bytes in {seconds * 1000:.1f} ms")
    assert installed == tmp_path / "models" / NAME
    assert find_model(tmp_path, spec) == installed
    assert (installed / "graph" / "HCLr.fst").read_bytes() == FAKE_MODEL["graph/HCLr.fst"]
    assert (installed / MANIFEST_NAME).is_file()
    validate_model(installed)
    shown = progress.getvalue()
    assert f"Downloading {NAME}" in shown and "100%" in shown and "\r" in shown
    assert f"Installed {NAME}" in shown
    assert _leftovers(tmp_path) == [NAME]  # no .part file, no staging folder
    again = io.StringIO()
    assert fetch_model(tmp_path, spec, progress=again) == installed
    assert "already installed" in again.getvalue()
    assert server.hits == ["/model.zip"]


def test_find_model_is_none_until_installed_and_after_damage(
    server: FakeServer, tmp_path: Path
) -> None:
    spec = _spec(server, _zip(FAKE_MODEL))
    assert find_model(tmp_path, spec) is None
    installed = fetch_model(tmp_path, spec)
    (installed / "graph" / "Gr.fst").write_bytes(b"cut")  # size differs from the manifest
    assert find_model(tmp_path, spec) is None
    with pytest.raises(ModelError, match=r"graph/Gr.fst has 3 bytes, expected"):
        validate_model(installed)
    assert fetch_model(tmp_path, spec) == installed  # a damaged install is replaced
    validate_model(installed)
    assert _leftovers(tmp_path) == [NAME]


def test_wrong_checksum_installs_nothing(server: FakeServer, tmp_path: Path) -> None:
    spec = _spec(server, _zip(FAKE_MODEL), sha256="0" * 64)
    with pytest.raises(ModelError, match="checksum mismatch") as caught:
        fetch_model(tmp_path, spec, progress=io.StringIO())
    print(f"\n{caught.value}")
    assert "nothing was installed" in str(caught.value)
    assert _leftovers(tmp_path) == []
    assert find_model(tmp_path, spec) is None


def test_truncated_download_is_a_clear_error(server: FakeServer, tmp_path: Path) -> None:
    body = _zip(FAKE_MODEL)
    spec = _spec(server, body, send_bytes=len(body) // 2)
    with pytest.raises(ModelError, match=r"incomplete \(\d+ of \d+ bytes\)") as caught:
        fetch_model(tmp_path, spec)
    print(f"\n{caught.value}")
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("status", [404, 500])
def test_server_error_is_a_clear_error(server: FakeServer, tmp_path: Path, status: int) -> None:
    spec = _spec(server, b"oops", status=status)
    with pytest.raises(ModelError, match=f"answered {status}"):
        fetch_model(tmp_path, spec)
    assert _leftovers(tmp_path) == []


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    with http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]
    spec = ModelSpec(name=NAME, url=f"http://127.0.0.1:{port}/model.zip", sha256="0" * 64)
    with pytest.raises(ModelError, match="cannot connect"):
        fetch_model(tmp_path, spec, timeout=5)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "evil", ["../escaped.txt", f"{NAME}/../../escaped.txt", "/escaped-absolute.txt"]
)
def test_zip_with_path_traversal_is_refused(server: FakeServer, tmp_path: Path, evil: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in FAKE_MODEL.items():
            bundle.writestr(f"{NAME}/{name}", data)
        bundle.writestr(zipfile.ZipInfo(evil), b"gotcha")
    data_dir = tmp_path / "data"
    spec = _spec(server, buffer.getvalue())
    with pytest.raises(ModelError, match="refusing to unpack"):
        fetch_model(data_dir, spec)
    assert not list(tmp_path.rglob("escaped*.txt"))
    assert not Path("/escaped-absolute.txt").exists()
    assert _leftovers(data_dir) == []


def test_zip_with_symlink_is_refused(server: FakeServer, tmp_path: Path) -> None:
    link = zipfile.ZipInfo(f"{NAME}/graph/link")
    link.external_attr = (0o120777 << 16) | 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr(link, "/etc/passwd")
    with pytest.raises(ModelError, match="symbolic link"):
        fetch_model(tmp_path, _spec(server, buffer.getvalue()))
    assert _leftovers(tmp_path) == []


def test_archive_without_a_model_installs_nothing(server: FakeServer, tmp_path: Path) -> None:
    files = {k: v for k, v in FAKE_MODEL.items() if not k.startswith("graph/")}
    with pytest.raises(ModelError, match=r"graph/HCLr.fst is missing; graph/Gr.fst is missing"):
        fetch_model(tmp_path, _spec(server, _zip(files)))
    assert _leftovers(tmp_path) == []


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def test_validate_lists_every_problem(tmp_path: Path) -> None:
    files = dict(FAKE_MODEL)
    del files["conf/model.conf"]
    files["am/final.mdl"] = b"PK\3\4 not a model"
    files["graph/HCLr.fst"] = _lookahead_fst(states=1000, arcs=1000)[:400]
    files["graph/Gr.fst"] = b""
    files["ivector/final.ie"] = b""
    folder = _write(tmp_path / "model", files)
    with pytest.raises(ModelError) as caught:
        validate_model(folder)
    message = str(caught.value)
    print(f"\n{message}")
    assert isinstance(caught.value, CoachError)
    for problem in (
        "am/final.mdl is not a Kaldi acoustic model",
        "conf/model.conf is missing",
        "graph/HCLr.fst is truncated",
        "graph/Gr.fst is empty",
        "ivector/final.ie is empty",
    ):
        assert problem in message


def test_validate_missing_folder_and_static_graph(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no speech model there"):
        validate_model(tmp_path / "nothing")
    files = {k: v for k, v in FAKE_MODEL.items() if not k.startswith("graph/")}
    files["graph/HCLG.fst"] = _fst_header("const", 2, 0, 0, 0)
    with pytest.raises(ModelError, match="cannot take a command grammar"):
        validate_model(_write(tmp_path / "big", files))
    with pytest.raises(ModelError, match="line 1 is not a --name=value"):
        validate_model(_write(tmp_path / "conf", {**FAKE_MODEL, "conf/mfcc.conf": b"garbage\n"}))
