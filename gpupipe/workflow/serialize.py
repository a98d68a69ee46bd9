"""Saving and loading fitted workflows: JSON plus parquet artifacts, never pickle.

Layout of a save directory::

    workflow.json        format, format_version, gpupipe_version, label, input dtypes, nodes
                         (selection + ops: type, params, scalar state, artifact names),
                         output schema, and the sha256 of every artifact file
    artifacts/*.parquet  frames from ops' ``to_state`` (vocabularies, group statistics) and
                         frame-valued parameters

Saving is atomic (:func:`gpupipe._files.atomic_write_dir`): everything is written to a temporary
directory beside the target, fsynced, and swapped in by rename (the old save is renamed aside
first, put back if the swap fails, and removed last). A crash leaves either the old save or the
new one under the name; in the instant between the two renames the old save sits at
``.<name>.old-<id>`` beside it, and :func:`load_workflow` names it.

On object storage (``s3://``, ``gs://``, ``memory://``; ``http(s)://`` loads only) there is no
rename: each artifact is written under ``artifacts/<first 16 hex digits of its sha256>/`` (a new
name for new content, so the previous save's files are never overwritten) and ``workflow.json`` is
uploaded last, in one piece; it is what publishes the save. A failed save leaves the previous
``workflow.json`` and every artifact it lists; the files of the previous save that the new one
no longer lists are deleted once it is published.

This module only encodes and decodes: what it writes is :meth:`Workflow.to_spec()
<gpupipe.workflow.Workflow.to_spec>` (plain data and frames), and what it reads is handed to
:meth:`Workflow.from_spec <gpupipe.workflow.Workflow.from_spec>`, which builds the ops and the workflow.

Loading trusts nothing: invalid or truncated JSON, a newer ``format_version``, an op type not in
:data:`gpupipe.ops.base.REGISTRY`, an artifact whose sha256 differs from the recorded one, or an
artifact path outside ``artifacts/`` each raise :class:`~gpupipe.errors.WorkflowFormatError`
naming the file. Only registered op classes are instantiated, with JSON values; no code from
the save is run.

JSON encoding of parameters and state: ``None``, bools, numbers, strings, lists and
string-keyed dicts as themselves; tuples as ``{"__tuple__": [...]}``; frames as
``{"__artifact__": name}`` (a parquet artifact; loaded back as a pandas frame). Anything else
(functions, arbitrary objects) cannot be saved and raises WorkflowFormatError naming the op and
the parameter.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._files import SavedFiles, atomic_write_dir, sha256_bytes, sha256_file
from .._version import __version__
from ..errors import WorkflowFormatError

__all__ = ["FORMAT", "FORMAT_VERSION", "load_workflow", "save_workflow"]

FORMAT = "gpupipe-workflow"
FORMAT_VERSION = 1
_JSON = "workflow.json"
_ARTIFACTS = "artifacts"
_RESERVED = ("__tuple__", "__artifact__")


# ---------------------------------------------------------------------- encoding
class _Encoder:
    """Turns params/state into JSON values, collecting frames as artifacts."""

    def __init__(self, where: str, prefix: str) -> None:
        self.where = where
        self.prefix = prefix
        self.frames: dict[str, Any] = {}

    def encode(self, value: Any, path: str) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        item = getattr(value, "item", None)
        if callable(item) and getattr(value, "shape", None) == ():  # NumPy/CuPy scalar
            return self.encode(item(), path)
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            bad = [k for k in value if not isinstance(k, str) or k in _RESERVED]
            if bad:
                msg = (f"{self.where}: {path} has key(s) {bad!r:.80}; only string keys (other than "
                       f"{list(_RESERVED)}) can be saved as JSON")
                raise WorkflowFormatError(msg)
            return {k: self.encode(v, f"{path}.{k}") for k, v in value.items()}
        if _is_frame(value):
            name = f"{self.prefix}-{_safe(path)}"
            self.frames[name] = value
            return {"__artifact__": name}
        msg = (f"{self.where}: {path} is a {type(value).__module__}.{type(value).__qualname__}, which cannot be saved "
               "(gpupipe saves JSON values and frames, never pickles). Use a JSON-able value or a frame")
        raise WorkflowFormatError(msg)


def _decode(value: Any, artifacts: dict[str, Any], where: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, artifacts, where) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"} and isinstance(value["__tuple__"], list):
            return tuple(_decode(v, artifacts, where) for v in value["__tuple__"])
        if set(value) == {"__artifact__"}:
            name = value["__artifact__"]
            if name not in artifacts:
                raise WorkflowFormatError(f"{where}: refers to artifact {name!r}, which the save does not list")
            return artifacts[name]
        return {k: _decode(v, artifacts, where) for k, v in value.items()}
    return value


def _is_frame(value: Any) -> bool:
    from ..backend import backend_of

    try:
        backend_of(value)
    except TypeError:
        return False
    return hasattr(value, "columns")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "x"


# ---------------------------------------------------------------------- saving
def workflow_target(directory: str | os.PathLike, storage_options: Mapping[str, Any] | None = None,
                    where: str = "Workflow.save") -> tuple[Path | str, bool]:
    """``(target, remote)`` of a workflow save to ``directory``, refused before anything is written when it holds
    anything but a previous saved workflow (:func:`gpupipe._files.save_target`): ``workflow.json`` and its
    artifacts, nothing else (a save replaces the whole directory, so any other file would be deleted)."""
    from .._files import save_target

    def foreign(names: list[str]) -> list[str]:
        if _JSON not in names:
            return names
        return [n for n in names if n not in (_JSON, _ARTIFACTS) and not _ARTIFACT.match(n)]

    return save_target(directory, storage_options, where, "workflow", foreign)


def save_workflow(wf: Any, directory: str | os.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> Path | str:
    """Write a fitted workflow to ``directory`` (a path or a URL; see the module docstring). Returns it.

    What is written is :meth:`Workflow.to_spec() <gpupipe.workflow.Workflow.to_spec>`, encoded.

    Raises
    ------
    NotFittedError
        If the workflow is not fitted.
    WorkflowFormatError
        If an op cannot be saved (LambdaOp, Filter: Python functions) or holds a parameter or
        state that is not JSON-able or a frame; nothing is written then.
    """
    import pyarrow.parquet as pq

    from ..io.convert import to_arrow

    spec = wf.to_spec()  # NotFittedError, or an unsaveable op, before anything is written
    target, remote = workflow_target(directory, storage_options)

    # Encode everything first: an unsaveable value must fail before any file is written.
    nodes = []
    frames: dict[str, Any] = {}
    for n, node_spec in enumerate(spec["nodes"]):
        ops = []
        for k, op_spec in enumerate(node_spec["ops"]):
            kind = op_spec["type"]
            where = f"{_describe(kind, op_spec['params'])} (node {n}, op {k})"
            enc_params = _Encoder(where, f"n{n:02d}-op{k:02d}-{kind}-param")
            params = {name: enc_params.encode(v, f"parameter {name}") for name, v in op_spec["params"].items()}
            enc_state = _Encoder(where, f"n{n:02d}-op{k:02d}-{kind}-state")
            state = enc_state.encode(op_spec["state"], "state")
            art_names = {}
            for name, frame in op_spec["artifacts"].items():
                if not _is_frame(frame):
                    msg = f"{where}: artifact {name!r} is a {type(frame).__name__}; artifacts must be frames"
                    raise WorkflowFormatError(msg)
                file_name = f"n{n:02d}-op{k:02d}-{kind}-{_safe(str(name))}"
                enc_state.frames[file_name] = frame
                art_names[str(name)] = file_name
            frames.update(enc_params.frames)
            frames.update(enc_state.frames)
            ops.append({"type": kind, "params": params, "state": state, "artifacts": art_names})
        nodes.append({"selection": list(node_spec["selection"]), "ops": ops})

    def write(tmp: Path) -> None:
        (tmp / _ARTIFACTS).mkdir()
        hashes = {}
        for name, frame in frames.items():
            rel = f"{_ARTIFACTS}/{name}.parquet"
            pq.write_table(to_arrow(frame), tmp / rel)
            digest = sha256_file(tmp / rel)
            if remote:  # named by content: never overwrites a file the previous save lists
                rel = f"{_ARTIFACTS}/{digest[:16]}/{name}.parquet"
                (tmp / rel).parent.mkdir(exist_ok=True)
                os.replace(tmp / _ARTIFACTS / f"{name}.parquet", tmp / rel)
            hashes[rel] = digest
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "gpupipe_version": __version__,
            "label": spec["label"],
            "input_dtypes": spec["input_dtypes"],
            "nodes": nodes,
            "output_schema": spec["output_schema"],
            "artifacts": hashes,
        }
        with open(tmp / _JSON, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, allow_nan=True)

    atomic_write_dir(target, write, manifest=_JSON, storage_options=storage_options)
    return target


def _describe(kind: str, params: dict[str, Any]) -> str:
    """How the op prints (``Op.__repr__``), rebuilt from its spec: ``Clip(lower=0, upper=None)``."""
    return f"{kind}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


# ---------------------------------------------------------------------- loading
def load_workflow(directory: str | os.PathLike, *, storage_options: Mapping[str, Any] | None = None) -> Any:
    """Load a workflow saved by :func:`save_workflow` from a directory or a URL, verifying it (see the
    module docstring).

    The files are decoded into a spec, from which :meth:`Workflow.from_spec
    <gpupipe.workflow.Workflow.from_spec>` builds the workflow.

    Raises
    ------
    FileNotFoundError
        If ``directory`` or its ``workflow.json`` does not exist.
    WorkflowFormatError
        If the save is truncated, tampered with, of a newer format, or names an unknown op.
    """
    from ..io._sources import check_storage_options

    check_storage_options(directory, storage_options, "Workflow.load")
    store = _Store(directory, storage_options)
    jf = store.where(_JSON)
    if not store.is_file(_JSON):
        hint = ""
        d = store.root
        if store.url is None:
            olds = sorted(d.parent.glob(f".{d.name}.old-*")) if d.parent.exists() else []
            if olds:
                hint = f"; a save was interrupted and the previous one is at {olds[-1]}: rename it to {d}"
        raise FileNotFoundError(2, f"no saved workflow ({_JSON} missing){hint}", jf)
    try:
        doc = json.loads(store.read(_JSON).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"{jf} is not valid JSON ({exc}); the file is truncated or corrupted. Save the workflow again"
        raise WorkflowFormatError(msg) from None
    try:
        spec = _spec_from_doc(doc, store, jf)
        from .workflow import Workflow

        try:
            return Workflow.from_spec(spec)
        except WorkflowFormatError as exc:
            raise WorkflowFormatError(f"{jf}: {exc}") from None
    except WorkflowFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        msg = f"{jf} does not describe a valid workflow ({type(exc).__name__}: {exc}); it was edited or is damaged"
        raise WorkflowFormatError(msg) from None


class _Store(SavedFiles):
    """The files of a workflow save."""

    def inside(self, rel: str) -> bool:
        """Whether ``rel`` names a file inside the save (no escape through ``..`` or a symlink)."""
        if self.url is None:
            root = (self.root / _ARTIFACTS).resolve()
            path = (self.root / rel).resolve()
            return path.parent == root or path.parent.parent == root
        return True  # object keys are names, not paths: the pattern check is the whole check


# artifacts/<name>.parquet (a local save) or artifacts/<16 hex digits of its sha256>/<name>.parquet (object storage)
_ARTIFACT = re.compile(rf"^{_ARTIFACTS}/(?:[0-9a-f]{{16}}/)?([^/]+)\.parquet$")


def _spec_from_doc(doc: Any, store: _Store, jf: str) -> dict[str, Any]:
    """Check ``workflow.json``'s header, verify and read every artifact, and decode the ops into a spec."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..io.convert import arrow_to_pandas

    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise WorkflowFormatError(f"{jf} is not a gpupipe workflow save (its 'format' is not {FORMAT!r})")
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise WorkflowFormatError(f"{jf} has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        msg = (f"{jf} has format_version {version}, written by gpupipe {doc.get('gpupipe_version')}; this gpupipe "
               f"({__version__}) reads up to version {FORMAT_VERSION}. Upgrade gpupipe to load it")
        raise WorkflowFormatError(msg)

    # Verify every artifact before reading any.
    hashes = doc["artifacts"]
    if not isinstance(hashes, dict):
        raise WorkflowFormatError(f"{jf}: 'artifacts' must map file names to sha256 digests")
    artifacts: dict[str, Any] = {}
    for rel, digest in hashes.items():
        m = _ARTIFACT.match(rel) if isinstance(rel, str) else None
        if m is None or not store.inside(rel):
            raise WorkflowFormatError(f"{jf} lists artifact {rel!r}, which is not a parquet file inside "
                                      f"{store.where(_ARTIFACTS)}")
        path = store.where(rel)
        try:
            data = store.read(rel)
        except FileNotFoundError:
            raise WorkflowFormatError(f"artifact {path} listed in {jf} is missing; the save is incomplete") from None
        if sha256_bytes(data) != digest:
            msg = (f"artifact {path} does not match the sha256 recorded in {jf}; it was modified or damaged. "
                   "Refusing to load; save the workflow again")
            raise WorkflowFormatError(msg)
        try:
            artifacts[m.group(1)] = arrow_to_pandas(pq.read_table(pa.BufferReader(data)))
        except (pa.ArrowException, OSError) as exc:
            raise WorkflowFormatError(f"artifact {path} could not be read as parquet: {exc}") from None

    nodes = []
    for n, node in enumerate(doc["nodes"]):
        ops = []
        for k, op in enumerate(node["ops"]):
            where = f"{jf}: {op['type']} (node {n}, op {k})"
            names = op.get("artifacts", {})
            missing = [v for v in names.values() if v not in artifacts]
            if missing:
                raise WorkflowFormatError(f"{where}: refers to artifact(s) {missing} that the save does not list")
            ops.append({"type": op["type"], "params": _decode(op["params"], artifacts, where),
                        "state": _decode(op["state"], artifacts, where),
                        "artifacts": {name: artifacts[file] for name, file in names.items()}})
        nodes.append({"selection": node["selection"], "ops": ops})
    return {"label": doc.get("label"), "input_dtypes": doc["input_dtypes"], "nodes": nodes,
            "output_schema": doc["output_schema"]}
