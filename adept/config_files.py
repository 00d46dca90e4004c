"""Reading a config or sweep file (JSON, or YAML when it ends in .yaml / .yml) safely, into a mapping.

Every problem is one ``ValueError`` that names the file (and the line, for a syntax error): the file is
missing, a folder, too large, not UTF-8, malformed, not a mapping, or uses YAML anchors and aliases, which
are refused because an alias can expand a few lines into gigabytes (a "billion laughs" file).
"""

from __future__ import annotations

import json
from pathlib import Path

MAX_CONFIG_BYTES = 1_000_000


def _no_alias_loader():
    import yaml

    class NoAliasSafeLoader(yaml.SafeLoader):
        """``yaml.SafeLoader`` that refuses anchors (``&name``) and aliases (``*name``)."""

        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise yaml.composer.ComposerError(
                    None, None, "YAML anchors and aliases (&name / *name) are not accepted: write the values out",
                    event.start_mark)
            return super().compose_node(parent, index)

    return NoAliasSafeLoader


def _yaml(text: str, path: Path):
    import yaml

    try:
        return yaml.load(text, Loader=_no_alias_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"{path}:{where}: {problem} — fix the YAML there") from exc


def read_mapping_file(path: str, what: str = "config file") -> dict | None:
    """The mapping in JSON / YAML file ``path`` (None for an empty file); ``ValueError`` naming the file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ValueError(f"{what.capitalize()} {path} does not exist — check the path.")
    if not p.is_file():
        raise ValueError(f"{what.capitalize()} {path} is not a regular file — give a .json or .yaml file.")
    if p.stat().st_size > MAX_CONFIG_BYTES:
        raise ValueError(f"{what.capitalize()} {path} is {p.stat().st_size:,} bytes, over {MAX_CONFIG_BYTES:,} — "
                         "a config file is a few lines.")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text (byte {exc.start}) — save it as UTF-8 JSON or YAML.") from exc
    except OSError as exc:
        raise ValueError(f"{what.capitalize()} {path} cannot be read: {exc.strerror or exc}.") from exc
    if not text.strip():
        return None
    if p.suffix.lower() in (".yaml", ".yml"):
        data = _yaml(text, p)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: line {exc.lineno}, column {exc.colno}: {exc.msg} — fix the JSON there "
                             "(or name the file .yaml for YAML)") from exc
        except RecursionError as exc:
            raise ValueError(f"{path}: nested too deeply — a config is a flat mapping of fields") from exc
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a {type(data).__name__}, not a mapping of field: value — write it as "
                         "`field: value` lines (YAML) or a JSON object.")
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise ValueError(f"{path}: key {bad[0]!r} is not a field name — keys are names like max_steps.")
    return data


def read_config_file(path: str) -> dict:
    """A ``train --config`` file: a mapping of RunConfig fields. An empty file is refused (it would silently
    mean "every default": a full-size run nobody asked for)."""
    data = read_mapping_file(path, "config file")
    if not data:
        raise ValueError(f"Config file {path} is empty — give the RunConfig fields to set (e.g. `method: adept`), "
                         "or drop --config.")
    return data
