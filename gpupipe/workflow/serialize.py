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
from pathlib import Path
from typing import Any

from .._files import atomic_write_dir, sha256_file
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
def save_workflow(wf: Any, directory: str | os.PathLike) -> Path:
    """Write a fitted workflow to ``directory`` (see the module docstring). Returns the directory.

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

    schema = wf.output_schema  # NotFittedError before anything is written
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise FileExistsError(17, "exists and is not a directory; choose a directory for the workflow", str(target))
    if target.is_dir() and any(target.iterdir()) and not (target / _JSON).exists():
        msg = (f"{target} exists, is not empty and holds no {_JSON}; refusing to replace what is not a saved "
               "workflow. Choose another directory or empty it")
        raise WorkflowFormatError(msg)

    # Encode everything first: an unsaveable op must fail before any file is written.
    nodes = []
    frames: dict[str, Any] = {}
    for n, node in enumerate(wf.nodes):
        ops = []
        for k, op in enumerate(node.ops):
            kind = type(op).__name__
            where = f"{op!r} (node {n}, op {k})"
            if not getattr(op, "serializable", True):
                msg = (f"{where} holds a Python function, and gpupipe never pickles; the workflow cannot be saved. "
                       f"Replace the {kind} with a built-in op, or save without it and recreate it after load")
                raise WorkflowFormatError(msg)
            from ..ops.base import REGISTRY

            if REGISTRY.get(kind) is not type(op):
                msg = (f"{where}: {kind} is not registered with @register_op, so a save could not be loaded; "
                       "register it (gpupipe.ops.register_op) before saving")
                raise WorkflowFormatError(msg)
            enc_params = _Encoder(where, f"n{n:02d}-op{k:02d}-{kind}-param")
            params = {name: enc_params.encode(v, f"parameter {name}") for name, v in op.get_params().items()}
            state, arts = op.to_state()
            enc_state = _Encoder(where, f"n{n:02d}-op{k:02d}-{kind}-state")
            state = enc_state.encode(dict(state), "state")
            art_names = {}
            for name, frame in dict(arts).items():
                if not _is_frame(frame):
                    msg = f"{where}: artifact {name!r} is a {type(frame).__name__}; artifacts must be frames"
                    raise WorkflowFormatError(msg)
                file_name = f"n{n:02d}-op{k:02d}-{kind}-{_safe(str(name))}"
                enc_state.frames[file_name] = frame
                art_names[str(name)] = file_name
            frames.update(enc_params.frames)
            frames.update(enc_state.frames)
            ops.append({"type": kind, "params": params, "state": state, "artifacts": art_names})
        nodes.append({"selection": list(node.selection), "ops": ops})

    def write(tmp: Path) -> None:
        (tmp / _ARTIFACTS).mkdir()
        hashes = {}
        for name, frame in frames.items():
            rel = f"{_ARTIFACTS}/{name}.parquet"
            pq.write_table(to_arrow(frame), tmp / rel)
            hashes[rel] = sha256_file(tmp / rel)
        doc = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "gpupipe_version": __version__,
            "label": wf.label,
            "input_dtypes": dict(wf._input_dtypes),
            "nodes": nodes,
            "output_schema": schema.to_dict(),
            "artifacts": hashes,
        }
        with open(tmp / _JSON, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, allow_nan=True)

    atomic_write_dir(target, write)
    return target


# ---------------------------------------------------------------------- loading
def load_workflow(directory: str | os.PathLike) -> Any:
    """Load a workflow saved by :func:`save_workflow`, verifying it (see the module docstring).

    Raises
    ------
    FileNotFoundError
        If ``directory`` or its ``workflow.json`` does not exist.
    WorkflowFormatError
        If the save is truncated, tampered with, of a newer format, or names an unknown op.
    """
    d = Path(directory)
    jf = d / _JSON
    if not jf.is_file():
        hint = ""
        olds = sorted(d.parent.glob(f".{d.name}.old-*")) if d.parent.exists() else []
        if olds:
            hint = f"; a save was interrupted and the previous one is at {olds[-1]}: rename it to {d}"
        raise FileNotFoundError(2, f"no saved workflow ({_JSON} missing){hint}", str(jf))
    try:
        doc = json.loads(jf.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"{jf} is not valid JSON ({exc}); the file is truncated or corrupted. Save the workflow again"
        raise WorkflowFormatError(msg) from None
    try:
        return _from_doc(doc, d, jf)
    except WorkflowFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        msg = f"{jf} does not describe a valid workflow ({type(exc).__name__}: {exc}); it was edited or is damaged"
        raise WorkflowFormatError(msg) from None


def _from_doc(doc: Any, d: Path, jf: Path) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..io.convert import arrow_to_pandas
    from ..ops import REGISTRY
    from ..schema import Schema
    from .node import Node
    from .workflow import Workflow

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
    root = (d / _ARTIFACTS).resolve()
    hashes = doc["artifacts"]
    if not isinstance(hashes, dict):
        raise WorkflowFormatError(f"{jf}: 'artifacts' must map file names to sha256 digests")
    artifacts: dict[str, Any] = {}
    for rel, digest in hashes.items():
        path = (d / rel).resolve()
        if path.parent != root or not path.name.endswith(".parquet"):
            raise WorkflowFormatError(f"{jf} lists artifact {rel!r}, which is not a parquet file inside {root}")
        if not path.is_file():
            raise WorkflowFormatError(f"artifact {path} listed in {jf} is missing; the save is incomplete")
        if sha256_file(path) != digest:
            msg = (f"artifact {path} does not match the sha256 recorded in {jf}; it was modified or damaged. "
                   "Refusing to load; save the workflow again")
            raise WorkflowFormatError(msg)
        try:
            artifacts[path.name[: -len(".parquet")]] = arrow_to_pandas(pq.read_table(path))
        except (pa.ArrowException, OSError) as exc:
            raise WorkflowFormatError(f"artifact {path} could not be read as parquet: {exc}") from None

    nodes = []
    for n, spec in enumerate(doc["nodes"]):
        ops = []
        for k, op_spec in enumerate(spec["ops"]):
            kind = op_spec["type"]
            cls = REGISTRY.get(kind) if isinstance(kind, str) else None
            if cls is None:
                msg = (f"{jf}: node {n} op {k} has type {kind!r}, which is not a known gpupipe op (known: "
                       f"{sorted(REGISTRY)}). It was saved by a newer gpupipe or the file was edited")
                raise WorkflowFormatError(msg)
            where = f"{jf}: {kind} (node {n}, op {k})"
            params = _decode(op_spec["params"], artifacts, where)
            if not isinstance(params, dict):
                raise WorkflowFormatError(f"{where}: 'params' must be an object")
            try:
                op = cls(**params)
            except TypeError as exc:
                raise WorkflowFormatError(f"{where}: its parameters do not fit {kind}: {exc}") from None
            state = _decode(op_spec["state"], artifacts, where)
            names = op_spec.get("artifacts", {})
            missing = [v for v in names.values() if v not in artifacts]
            if missing:
                raise WorkflowFormatError(f"{where}: refers to artifact(s) {missing} that the save does not list")
            try:
                op.load_state(state, {name: artifacts[file] for name, file in names.items()})
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                msg = f"{where}: its saved state could not be restored ({type(exc).__name__}: {exc})"
                raise WorkflowFormatError(msg) from None
            ops.append(op)
        nodes.append(Node(spec["selection"], ops))

    wf = Workflow(*nodes, label=doc.get("label"))
    wf._input_dtypes = {str(k): str(v) for k, v in doc["input_dtypes"].items()}
    saved = Schema.from_dict(doc["output_schema"])
    wf._finish_fit()
    if wf.output_schema != saved:
        msg = (f"{jf}: the saved output schema {saved} differs from the one its ops give ({wf.output_schema}); "
               "the file was edited or the ops changed incompatibly. Refit and save again")
        raise WorkflowFormatError(msg)
    return wf
