"""Speech models on disk: fetch, verify and install the vosk model; find and check a model folder.

Imports no speech library: ``exercise-coach fetch-model`` and the folder check work without vosk.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import shutil
import stat
import struct
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, TextIO

from assistant.errors import ModelError

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """A downloadable model archive and the folder it installs as."""

    name: str
    """Folder name under ``<data_dir>/models`` (and the archive's top folder)."""
    url: str
    sha256: str
    """Hex SHA-256 of the whole archive."""
    size: int | None = None
    """Bytes of the archive, when known."""


SMALL_EN_US = ModelSpec(
    name="vosk-model-small-en-us-0.15",
    url="https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
    # alphacephei.com publishes no digest. This is the SHA-256 (and size) that several
    # independent projects recorded for this archive, e.g. an Arch Linux PKGBUILD of vosk-api
    # (sha256sums) and numen's model install script; it could not be checked against the
    # server from here (no internet on the development machine).
    sha256="30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498",
    size=41_205_931,
)
"""The official small US English vosk model (about 40 MB; about 300 MB of memory in use)."""

MANIFEST_NAME = ".exercise-coach-manifest.json"
"""Written into an installed model: the size of every file, checked on every start."""

MAX_UNPACKED_BYTES = 2_000_000_000
"""An archive that unpacks to more than this is refused (a small model is about 70 MB)."""

_CHUNK = 64 * 1024
_FST_MAGIC = 0x7EB2FDD6
_ADDON_MAGIC = 0x1A9FD15A
_LOOKAHEAD_TYPES = ("olabel_lookahead", "ilabel_lookahead", "arc_lookahead")
_IVECTOR_FILES = (
    "final.ie",
    "final.mat",
    "final.dubm",
    "global_cmvn.stats",
    "online_cmvn.conf",
    "splice.conf",
)


def models_dir(data_dir: Path) -> Path:
    """Where speech models are installed: ``<data_dir>/models``."""
    return data_dir / "models"


def find_model(data_dir: Path, spec: ModelSpec = SMALL_EN_US) -> Path | None:
    """The installed model folder if it is present and passes ``validate_model``, else None."""
    folder = models_dir(data_dir) / spec.name
    if not folder.is_dir():
        return None
    try:
        validate_model(folder)
    except ModelError as error:
        _LOGGER.warning("Installed model is unusable, fetch it again: %s", error)
        return None
    return folder


# --- checking a model folder ---------------------------------------------------------------


def validate_model(folder: Path) -> None:
    """Check a vosk model folder before vosk sees it; ModelError lists every problem found.

    Catches what would otherwise make libvosk fail with a bare "Failed to create a model" or
    crash the process: missing files, empty or truncated files, files of the wrong kind, and a
    graph that cannot take a command grammar. It reads headers only, so it is quick.
    """
    if not folder.exists():
        raise ModelError(f"{folder}: no speech model there (run `exercise-coach fetch-model`)")
    if not folder.is_dir():
        raise ModelError(f"{folder}: is a file, not a speech model folder")
    problems = _manifest_problems(folder) or _layout_problems(folder)
    if problems:
        raise ModelError(
            f"{folder}: not a usable vosk model: {'; '.join(problems)} "
            "(a partial copy or a damaged download: delete the folder and install it again, "
            "e.g. with `exercise-coach fetch-model`)"
        )


def _manifest_problems(folder: Path) -> list[str]:
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        return []
    try:
        sizes = json.loads(manifest.read_text(encoding="utf-8"))
        if not isinstance(sizes, dict):
            raise ValueError("not a table")
    except (OSError, ValueError) as error:
        return [f"{MANIFEST_NAME} is unreadable ({error})"]
    problems = []
    for name, size in sorted(sizes.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != size:
            problems.append(f"{name} has {path.stat().st_size} bytes, expected {size}")
    return problems


def _layout_problems(folder: Path) -> list[str]:
    problems: list[str] = []

    def need(name: str) -> Path | None:
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
            return None
        if path.stat().st_size == 0:
            problems.append(f"{name} is empty")
            return None
        return path

    if not (folder / "am" / "final.mdl").exists() and (folder / "final.mdl").exists():
        return ["it has the old (v1) vosk layout without am/ and conf/; use a newer model"]
    if (mdl := need("am/final.mdl")) is not None and not _is_kaldi_model(mdl):
        problems.append("am/final.mdl is not a Kaldi acoustic model")
    if (conf := need("conf/model.conf")) is not None:
        problems.extend(_config_problems(folder, conf))
    features = [name for name in ("conf/mfcc.conf", "conf/fbank.conf") if (folder / name).is_file()]
    if not features:
        problems.append("conf/mfcc.conf is missing")
    for name in features:
        problems.extend(_config_problems(folder, folder / name))
    problems.extend(_graph_problems(folder, need))
    if (folder / "ivector").is_dir():
        for name in _IVECTOR_FILES:
            need(f"ivector/{name}")
    return problems


def _graph_problems(folder: Path, need: Callable[[str], Path | None]) -> list[str]:
    graph = folder / "graph"
    if not (graph / "HCLr.fst").exists() and (graph / "HCLG.fst").is_file():
        return [
            "its graph is a static graph/HCLG.fst, which cannot take a command grammar "
            "(use a small model, which has graph/HCLr.fst and graph/Gr.fst)"
        ]
    problems: list[str] = []
    for name in ("graph/HCLr.fst", "graph/Gr.fst"):
        if (path := need(name)) is not None and (problem := _fst_problem(path)):
            problems.append(f"{name} {problem}")
    disambig = need("graph/disambig_tid.int")
    if disambig is not None and not all(word.isdigit() for word in _read_text(disambig).split()):
        problems.append("graph/disambig_tid.int is not a list of numbers")
    return problems


def _read_text(path: Path) -> str:
    with path.open("rb") as file:
        return file.read(1_000_000).decode("utf-8", "replace")


def _is_kaldi_model(path: Path) -> bool:
    with path.open("rb") as file:
        head = file.read(64)
    return head.lstrip(b"\x00B \t\r\n").startswith(b"<TransitionModel>")


def _config_problems(folder: Path, path: Path) -> list[str]:
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#") and not line.startswith("--"):
            return [f"{path.relative_to(folder)} line {number} is not a --name=value setting"]
    return []


@dataclass(frozen=True)
class _FstHeader:
    kind: str
    version: int
    flags: int
    states: int
    arcs: int


def _read_exact(file: BinaryIO, size: int) -> bytes:
    data = file.read(size)
    if len(data) != size:
        raise ValueError("ends inside its header")
    return data


def _read_fst_header(file: BinaryIO) -> _FstHeader:
    (magic,) = struct.unpack("<I", _read_exact(file, 4))
    if magic != _FST_MAGIC:
        raise ValueError("is not an OpenFst file")
    strings = []
    for _ in range(2):
        (length,) = struct.unpack("<i", _read_exact(file, 4))
        if not 0 < length < 256:
            raise ValueError("has a damaged header")
        strings.append(_read_exact(file, length).decode("ascii", "replace"))
    version, flags, _properties, _start, states, arcs = struct.unpack(
        "<iiQqqq", _read_exact(file, 40)
    )
    if states < 0 or arcs < 0:
        raise ValueError("has a damaged header")
    return _FstHeader(strings[0], version, flags, states, arcs)


def _fst_problem(path: Path) -> str | None:
    """Why an FST file is unusable, or None; checks the header and that the body is all there."""
    size = path.stat().st_size
    try:
        with path.open("rb") as file:
            header = _read_fst_header(file)
            if header.kind in _LOOKAHEAD_TYPES and header.flags & 3 == 0:
                (magic,) = struct.unpack("<I", _read_exact(file, 4))
                if magic != _ADDON_MAGIC:
                    return "has a damaged look-ahead header"
                header = _read_fst_header(file)
            # A const FST (version 2: 16-byte aligned) stores 20 bytes a state, 16 an arc.
            if header.kind == "const" and header.version >= 2 and header.flags & 3 == 0:
                needed = _align(_align(file.tell()) + 20 * header.states) + 16 * header.arcs
                if size < needed:
                    return f"is truncated ({size} bytes, needs at least {needed})"
    except ValueError as error:
        return str(error)
    return None


def _align(position: int) -> int:
    return (position + 15) // 16 * 16


# --- fetching ------------------------------------------------------------------------------


def fetch_model(
    data_dir: Path,
    spec: ModelSpec = SMALL_EN_US,
    *,
    progress: TextIO | None = None,
    timeout: float = 30.0,
    force: bool = False,
) -> Path:
    """Download, verify and install ``spec`` under ``<data_dir>/models``; returns the folder.

    Nothing is installed unless the archive's size and SHA-256 match and it unpacks into a
    folder that passes ``validate_model``; the folder appears with one rename, and every
    temporary file is removed whatever happens.
    """
    destination = models_dir(data_dir) / spec.name
    if not force and find_model(data_dir, spec) is not None:
        _say(progress, f"{spec.name} is already installed in {destination}\n")
        return destination
    try:
        models_dir(data_dir).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ModelError(f"cannot create {models_dir(data_dir)}: {error.strerror}") from error
    _remove_leftovers(models_dir(data_dir))
    with _temporary_file(models_dir(data_dir), ".download-", ".zip.part") as archive:
        _download(spec, archive, progress, timeout)
        with _temporary_dir(models_dir(data_dir), ".install-") as staging:
            root = _extract(archive, staging, spec.name)
            validate_model(root)
            _write_manifest(root)
            _install(root, destination)
    _say(progress, f"Installed {spec.name} in {destination}\n")
    return destination


def _say(stream: TextIO | None, text: str) -> None:
    if stream is not None:
        stream.write(text)
        stream.flush()


def _remove_leftovers(folder: Path) -> None:
    # Temporary files of a fetch that was killed: a new fetch starts from scratch.
    for path in folder.glob(".download-*.part"):
        path.unlink(missing_ok=True)
    for path in folder.glob(".install-*"):
        shutil.rmtree(path, ignore_errors=True)
    for path in folder.glob(".old-*"):
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _temporary_file(folder: Path, prefix: str, suffix: str) -> Iterator[Path]:
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder)
    os.close(handle)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


@contextlib.contextmanager
def _temporary_dir(folder: Path, prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=folder))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class _ProgressBar:
    """A one-line text progress bar redrawn with carriage returns."""

    def __init__(self, stream: TextIO | None, label: str, total: int | None) -> None:
        self._stream, self._label, self._total = stream, label, total
        self._shown = ""

    def update(self, done: int) -> None:
        if self._stream is None:
            return
        megabytes = done / 1_000_000
        if self._total:
            fraction = min(done / self._total, 1.0)
            filled = int(fraction * 30)
            line = (
                f"{self._label} [{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} "
                f"{megabytes:.1f}/{self._total / 1_000_000:.1f} MB"
            )
        else:
            line = f"{self._label} {megabytes:.1f} MB"
        if line != self._shown:
            self._shown = line
            _say(self._stream, "\r" + line)

    def close(self) -> None:
        if self._shown:
            _say(self._stream, "\n")


def _download(spec: ModelSpec, target: Path, progress: TextIO | None, timeout: float) -> None:
    where = f"downloading {spec.url}"
    digest = hashlib.sha256()
    received = 0
    try:
        request = urllib.request.Request(spec.url, headers={"User-Agent": "exercise-coach"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            header = response.headers.get("Content-Length")
            expected = int(header) if header and header.isdigit() else spec.size
            bar = _ProgressBar(progress, f"Downloading {spec.name}", expected)
            with target.open("wb") as file:
                while chunk := response.read(_CHUNK):
                    file.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(received)
            bar.close()
    except urllib.error.HTTPError as error:
        raise ModelError(f"{where}: the server answered {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise ModelError(f"{where}: cannot connect ({error.reason})") from None
    except (http.client.HTTPException, OSError) as error:
        broke = str(error) or type(error).__name__
        raise ModelError(f"{where}: the download broke off ({broke})") from None
    except ValueError as error:
        raise ModelError(f"{where}: not a usable address ({error})") from None
    if expected is not None and received != expected:
        raise ModelError(
            f"{where}: the download is incomplete ({received} of {expected} bytes); "
            "nothing was installed, try again"
        )
    if spec.size is not None and received != spec.size:
        raise ModelError(
            f"{where}: got {received} bytes but the archive has {spec.size}; nothing was installed"
        )
    if digest.hexdigest() != spec.sha256.lower():
        raise ModelError(
            f"{where}: checksum mismatch (SHA-256 {digest.hexdigest()}, expected {spec.sha256}): "
            "the file is damaged or not the expected model; nothing was installed"
        )


def _extract(archive: Path, staging: Path, name: str) -> Path:
    """Unpack safely into ``staging``; returns the model folder inside it."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            for member in members:
                if problem := _unsafe(member):
                    raise ModelError(
                        f"{archive.name}: refusing to unpack {member.filename!r}: {problem}; "
                        "nothing was installed"
                    )
            if sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
                raise ModelError(f"{archive.name}: unpacks to more than {MAX_UNPACKED_BYTES} bytes")
            base = staging.resolve()
            for member in members:
                target = (base / member.filename).resolve()
                if not target.is_relative_to(base):  # defence in depth after _unsafe
                    raise ModelError(f"{archive.name}: {member.filename!r} escapes the folder")
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, _CHUNK)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as error:
        raise ModelError(f"{archive.name}: not a readable zip archive ({error})") from None
    except OSError as error:
        raise ModelError(f"unpacking {archive.name}: {error.strerror or error}") from None
    if (staging / name).is_dir():
        return staging / name
    tops = [path for path in staging.iterdir() if path.is_dir()]
    if (staging / "am").is_dir() or len(tops) != 1:
        return staging
    return tops[0]


def _unsafe(member: zipfile.ZipInfo) -> str | None:
    name = member.filename
    path = PurePosixPath(name)
    if "\\" in name or ":" in name or "\x00" in name:
        return "unusual characters in the path"
    if path.is_absolute():
        return "absolute path"
    if ".." in path.parts:
        return "path leads outside the folder"
    if stat.S_ISLNK(member.external_attr >> 16):
        return "symbolic link"
    return None


def _write_manifest(root: Path) -> None:
    sizes = {
        path.relative_to(root).as_posix(): path.stat().st_size
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != MANIFEST_NAME
    }
    (root / MANIFEST_NAME).write_text(json.dumps(sizes, indent=1) + "\n", encoding="utf-8")


def _install(root: Path, destination: Path) -> None:
    old: Path | None = None
    try:
        if destination.exists():
            # A damaged or forced-over model goes aside first: rename cannot replace a folder.
            old = Path(tempfile.mkdtemp(prefix=".old-", dir=destination.parent)) / "model"
            os.replace(destination, old)
        os.replace(root, destination)
    except OSError as error:
        if old is not None and not destination.exists():
            os.replace(old, destination)
        raise ModelError(f"cannot install into {destination}: {error.strerror}") from error
    finally:
        if old is not None:
            shutil.rmtree(old.parent, ignore_errors=True)
