"""Model checkpoints: a state_dict and a JSON description, never a pickle of code.

A checkpoint is a directory holding

``model.pt``
    the model's ``state_dict`` written by ``torch.save`` and read with
    ``torch.load(weights_only=True)``, so loading it cannot run code;
``model.json``
    format and gpupipe versions, the model class (one registered with
    :func:`gpupipe.models.register_model`), its constructor ``config``, the Schema it was built
    from, user ``extra`` data, and the sha256 and size of ``model.pt``.

Saving is atomic (:func:`gpupipe._files.atomic_write_dir`, as for workflow saves): both files are
written to a temporary sibling directory, fsynced, which then replaces the checkpoint directory; a
failed save, or a failed swap, leaves the previous checkpoint whole under its name (only a crash in
the instant between the swap's two renames leaves it at a hidden ``.NAME.old-*`` sibling). Loading checks the hash before it
reads the weights; anything tampered, truncated, unknown or of a newer format raises
:class:`~gpupipe.errors.WorkflowFormatError` naming the file.

A checkpoint may live at a URL (``s3://``, ``gs://``, ``memory://``; ``http(s)://`` to load), with
fsspec ``storage_options``. Object storage has no rename, so there the weights are written as
``model.<first 16 hex digits of their sha256>.pt`` (new weights, a new name) and ``model.json``,
which names them, is uploaded last in one piece: a failed save leaves the previous checkpoint
loadable; the previous weights are deleted once the new ``model.json`` is published.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from .._files import SavedFiles, atomic_write_dir, sha256_bytes, sha256_file
from .._version import __version__
from ..errors import WorkflowFormatError

__all__ = ["FORMAT", "FORMAT_VERSION", "check_checkpointable", "checkpoint_info", "load_checkpoint", "save_checkpoint"]

FORMAT = "gpupipe.checkpoint"
FORMAT_VERSION = 1
WEIGHTS, META = "model.pt", "model.json"
# model.pt (a local checkpoint) or model.<16 hex digits of its sha256>.pt (object storage)
_WEIGHTS_NAME = re.compile(r"^model(?:\.[0-9a-f]{16})?\.pt$")


def checkpoint_target(directory: str | os.PathLike, storage_options: Mapping[str, Any] | None = None,
                      where: str = "save_checkpoint") -> tuple[Path | str, bool]:
    """``(target, remote)`` of a checkpoint save to ``directory``, refused before anything is written when it holds
    anything but a previous checkpoint (:func:`gpupipe._files.save_target`)."""
    from .._files import save_target

    return save_target(directory, storage_options, where, "checkpoint",
                       lambda names: [n for n in names if n != META and not _WEIGHTS_NAME.match(n)])


def check_checkpointable(model: torch.nn.Module, where: str = "save_checkpoint") -> None:
    """WorkflowFormatError unless ``model`` is of a registered model class with a JSON ``config`` (what
    :func:`load_checkpoint` rebuilds it from). ``gp.train(checkpoint=...)`` checks it before the first epoch."""
    from ..models import MODEL_CLASSES

    cls_name = type(model).__name__
    if MODEL_CLASSES.get(cls_name) is not type(model) or not isinstance(getattr(model, "config", None), Mapping):
        msg = (f"{where}: cannot checkpoint a {type(model).__module__}.{cls_name}: a checkpoint needs a model with a "
               f"JSON `config` whose class is registered with gpupipe.models.register_model (known: "
               f"{sorted(MODEL_CLASSES)}); for other modules save model.state_dict() with torch.save yourself")
        raise WorkflowFormatError(msg)


def save_checkpoint(model: torch.nn.Module, directory: str | os.PathLike, extra: Mapping[str, Any] | None = None, *,
                    storage_options: Mapping[str, Any] | None = None) -> Path | str:
    """Save ``model`` as ``directory/model.pt`` (state_dict) + ``directory/model.json``, atomically.

    Parameters
    ----------
    model : a gpupipe model (TabularMLP, DCNv2 or a class registered with ``register_model``)
        It needs a JSON ``config`` from which ``type(model)(**config)`` rebuilds it.
    directory : path
        Created if missing. An existing directory is replaced as a whole, so it may only hold a
        previous checkpoint (anything else raises, rather than being deleted).
    extra : mapping, optional
        JSON-able data stored alongside (epoch, metrics, ...); read back with :func:`checkpoint_info`.
    storage_options : dict, optional
        fsspec options when ``directory`` is a URL (module docstring).

    Returns
    -------
    Path of the checkpoint directory (the URL, for a URL).

    Examples
    --------
    >>> import tempfile, gpupipe as gp
    >>> from gpupipe.schema import ColumnSchema, Schema
    >>> s = Schema([ColumnSchema("x", "cont", "float32"), ColumnSchema("y", "label", "float32")])
    >>> model = gp.models.TabularMLP.from_schema(s, hidden=(4,))
    >>> d = gp.save_checkpoint(model, tempfile.mkdtemp() + "/ckpt", extra={"epoch": 1})
    >>> type(gp.load_checkpoint(d)).__name__
    'TabularMLP'
    """
    from .. import _validate as V

    V.output_dir(directory, "directory", "save_checkpoint")
    if extra is not None and not (isinstance(extra, Mapping) and all(isinstance(k, str) for k in extra)):
        V.fail("save_checkpoint", "extra", extra, "None or a dict of str keys to JSON values (numbers, strings, lists)")
    check_checkpointable(model)
    cls_name = type(model).__name__
    config = model.config
    schema = getattr(model, "schema", None)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "gpupipe_version": __version__,
        "torch_version": torch.__version__,
        "model_class": cls_name,
        "config": dict(config),
        "schema": None if schema is None else schema.to_dict(),
        "extra": None if extra is None else dict(extra),
    }
    try:
        meta_probe = json.dumps(meta)
    except (TypeError, ValueError) as exc:
        msg = f"checkpoint metadata for {os.fspath(directory)} is not JSON-serialisable ({exc}); pass plain numbers/strings in extra"
        raise WorkflowFormatError(msg) from None
    del meta_probe

    target, remote = checkpoint_target(directory, storage_options)

    def write(tmp: Path) -> None:
        weights = tmp / WEIGHTS
        with open(weights, "wb") as f:
            torch.save(model.state_dict(), f)
        digest = sha256_file(weights)
        name = WEIGHTS
        if remote:  # named by content: never overwrites the weights the previous model.json lists
            name = f"model.{digest[:16]}.pt"
            os.replace(weights, tmp / name)
        meta["files"] = {name: {"sha256": digest, "bytes": (tmp / name).stat().st_size}}
        (tmp / META).write_bytes(json.dumps(meta, indent=2, sort_keys=True).encode())

    atomic_write_dir(target, write, manifest=META, storage_options=storage_options)
    return target


class _Files(SavedFiles):
    """A checkpoint's files, its storage options checked first."""

    def __init__(self, directory: str | os.PathLike, storage_options: Mapping[str, Any] | None) -> None:
        from ..io._sources import check_storage_options

        check_storage_options(directory, storage_options, "load_checkpoint")
        super().__init__(directory, storage_options)


def checkpoint_info(directory: str | os.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The checked contents of ``model.json`` (class, config, schema, extra, versions, file hashes).

    Raises
    ------
    FileNotFoundError
        If ``directory`` does not exist.
    WorkflowFormatError
        If ``model.json`` is missing, not JSON, not a gpupipe checkpoint or of a newer format.
    """
    return _info(_Files(directory, storage_options))


def _info(files: _Files) -> dict[str, Any]:
    root = files.url or files.root
    if files.url is None and not files.root.is_dir():
        raise FileNotFoundError(2, "no such checkpoint directory; check the path", str(root))
    path = files.where(META)
    try:
        raw = files.read(META)
    except FileNotFoundError:
        if files.url is not None:
            raise
        raise WorkflowFormatError(f"{path} is missing: {root} is not a gpupipe checkpoint (save one with save_checkpoint)") from None
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{path} is not valid JSON ({exc}); the checkpoint is truncated or was edited, save it again"
        raise WorkflowFormatError(msg) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise WorkflowFormatError(f"{path} is not a gpupipe checkpoint description (no format {FORMAT!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        msg = (f"{path} has checkpoint format version {version!r}, but this gpupipe ({__version__}) reads up to "
               f"{FORMAT_VERSION}; upgrade gpupipe to load it")
        raise WorkflowFormatError(msg)
    for key in ("model_class", "config", "files"):
        if key not in meta:
            raise WorkflowFormatError(f"{path} lacks the key {key!r}; the checkpoint is damaged, save it again")
    files_ = meta["files"]
    if not (isinstance(files_, dict) and len(files_) == 1 and all(_WEIGHTS_NAME.match(str(k)) for k in files_)):
        raise WorkflowFormatError(f"{path} must list exactly one weights file ({WEIGHTS}); the checkpoint is damaged")
    return meta


def load_checkpoint(directory: str | os.PathLike, map_location: str | torch.device | None = "cpu", *,
                    storage_options: Mapping[str, Any] | None = None) -> torch.nn.Module:
    """Rebuild a model saved by :func:`save_checkpoint`; it comes back in eval mode.

    Parameters
    ----------
    directory : path
    map_location : device, default "cpu"
        Where the weights are loaded, so a model saved on a GPU loads on a CPU-only machine.
    storage_options : dict, optional
        fsspec options when ``directory`` is a URL (``s3://``, ``gs://``, ``http(s)://``, ``memory://``).

    Returns
    -------
    The model, with ``model.schema`` set from the checkpoint (or ``None``).

    Raises
    ------
    WorkflowFormatError
        Naming ``model.json`` or ``model.pt`` when either is missing, tampered with, truncated,
        of a newer format, or names a model class this process does not know.
    """
    from .. import _validate as V
    from ..models import MODEL_CLASSES
    from ..schema import Schema

    V.path(directory, "directory", "load_checkpoint")
    map_location = V.device(map_location, "load_checkpoint", "map_location")
    files = _Files(directory, storage_options)
    meta = _info(files)
    name = next(iter(meta["files"]))
    meta_path, weights = files.where(META), files.where(name)
    cls = MODEL_CLASSES.get(str(meta["model_class"]))
    if cls is None:
        msg = (f"{meta_path} names the model class {meta['model_class']!r}, which is not registered here "
               f"(known: {sorted(MODEL_CLASSES)}); import the module that defines it (decorated with "
               f"gpupipe.models.register_model) before loading")
        raise WorkflowFormatError(msg)
    # a local file is hashed and loaded from disk; a remote one is fetched once, then hashed and loaded
    source: Any = files.root / name
    if files.url is None and not source.is_file():
        raise WorkflowFormatError(f"{weights} is missing; the checkpoint is incomplete, save it again")
    if files.url is not None:
        try:
            source = io.BytesIO(files.read(name))
        except FileNotFoundError:
            raise WorkflowFormatError(f"{weights} is missing; the checkpoint is incomplete, save it again") from None
    expected = (meta["files"][name] or {}).get("sha256")
    actual = sha256_file(source) if files.url is None else sha256_bytes(source.getvalue())
    if expected != actual:
        msg = (f"{weights} does not match the sha256 recorded in {meta_path} (expected {expected}, got {actual}): "
               f"the file was modified, truncated or replaced; restore it or save the checkpoint again")
        raise WorkflowFormatError(msg)
    try:
        state = torch.load(source, map_location=map_location, weights_only=True)
    except Exception as exc:  # any unpickling failure means the file is not what we wrote
        msg = f"{weights} could not be read as a state_dict ({type(exc).__name__}: {exc}); save the checkpoint again"
        raise WorkflowFormatError(msg) from None
    try:
        model = cls(**meta["config"])
    except (TypeError, ValueError) as exc:
        msg = f"{meta_path}: the config does not rebuild a {cls.__name__} ({exc}); the file was edited or is from another version"
        raise WorkflowFormatError(msg) from None
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        msg = f"{weights} does not fit the {cls.__name__} described in {meta_path}: {first}"
        raise WorkflowFormatError(msg) from None
    if map_location is not None:
        model.to(map_location)
    if meta.get("schema") is not None:
        try:
            model.schema = Schema.from_dict(meta["schema"])
        except (TypeError, ValueError) as exc:  # SchemaError is a ValueError
            raise WorkflowFormatError(f"{meta_path}: the saved schema is invalid ({exc})") from None
    return model.eval()
