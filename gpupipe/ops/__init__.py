"""Feature-engineering ops (one op per module). See :mod:`gpupipe.ops.base` for the contract."""

from __future__ import annotations

from .base import REGISTRY, ColumnInfo, Op, StatOp, register_op
from .bucketize import Bucketize
from .categorify import OOV_MARKER, Categorify
from .clip import Clip
from .date_parts import DateParts
from .dropna import Dropna
from .fill_median import FillMedian
from .fill_missing import FillMissing
from .filter import Filter
from .hash_bucket import HashBucket
from .join_external import JoinExternal
from .join_groupby import JoinGroupby
from .lambda_op import LambdaOp
from .log_op import LogOp
from .node import Node
from .normalize import Normalize
from .normalize_minmax import NormalizeMinMax
from .rename import Rename
from .target_encoding import TargetEncoding

__all__ = [
    "OOV_MARKER",
    "REGISTRY",
    "Bucketize",
    "Categorify",
    "Clip",
    "ColumnInfo",
    "DateParts",
    "Dropna",
    "FillMedian",
    "FillMissing",
    "Filter",
    "HashBucket",
    "JoinExternal",
    "JoinGroupby",
    "LambdaOp",
    "LogOp",
    "Node",
    "Normalize",
    "NormalizeMinMax",
    "Op",
    "Rename",
    "StatOp",
    "TargetEncoding",
    "register_op",
]
