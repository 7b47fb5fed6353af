"""Read a Terraform directory into plain Python data with python-hcl2 (v8).

python-hcl2 v8 keeps string literals quoted ('"prod"'), quotes block labels, and adds
``__is_block__``/``__comments__`` keys. ``load_dir`` undoes all three, so callers see
``{"resource": {"google_cloud_run_v2_job": {"pipeline": {...}}}, "variable": {...}}``,
string literals as plain strings, and expressions as ``"${...}"`` strings.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import hcl2

if TYPE_CHECKING:
    from pathlib import Path

_META_KEYS = frozenset({"__is_block__", "__comments__", "__inline_comments__"})
# Top-level blocks that carry labels: resource "type" "name", variable "name", ...
_LABELLED = {"resource": 2, "data": 2, "variable": 1, "output": 1, "provider": 1, "module": 1}


def unquote(value: str) -> str:
    """'"text"' -> 'text'; an expression or an unquoted word is returned as it is."""
    if len(value) > 1 and value[0] == value[-1] == '"':
        try:
            decoded = json.loads(value)
        except ValueError:  # a heredoc or an escape JSON does not share with HCL
            return value[1:-1]
        return decoded if isinstance(decoded, str) else value[1:-1]
    return value


def clean(node: Any) -> Any:  # noqa: ANN401  # any node of parsed HCL
    """The node without python-hcl2's metadata keys and with literals unquoted."""
    if isinstance(node, dict):
        return {unquote(key): clean(value) for key, value in node.items() if key not in _META_KEYS}
    if isinstance(node, list):
        return [clean(item) for item in node]
    if isinstance(node, str):
        return unquote(node)
    return node


def _merge_labelled(entries: list[dict[str, Any]], depth: int) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for entry in entries:
        for label, body in entry.items():
            if depth == 1:
                if label in merged:
                    msg = f"duplicate block label {label!r}"
                    raise ValueError(msg)
                merged[label] = body
            else:
                merged.setdefault(label, {}).update(_merge_labelled([body], depth - 1))
    return merged


def load_file(path: Path) -> dict[str, Any]:
    """One .tf, .tfvars or .tf.example file, cleaned (blocks not merged)."""
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = clean(hcl2.load(handle))
    return loaded


def load_dir(directory: Path) -> dict[str, Any]:
    """Every ``*.tf`` file of a directory, merged by block type and label."""
    blocks: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for block_type, entries in load_file(path).items():
            blocks.setdefault(block_type, []).extend(entries)
    merged: dict[str, Any] = {}
    for block_type, entries in blocks.items():
        depth = _LABELLED.get(block_type)
        merged[block_type] = _merge_labelled(entries, depth) if depth else entries
    return merged
