"""Domain errors: every refusal carries a reason a person can read (Chinese first).

Use-case code raises them (:class:`NotFound`, :class:`Conflict`, :class:`Invalid`,
:class:`InvalidTransition`) without knowing about HTTP; the web layer (``shared.web.app``)
maps each to its status once (404, 409, 422, 409), a consumer dead-letters them with the same reason.

Also :class:`YamlSource`, which keeps the line of every node of an operator's YAML file
so that a :class:`ConfigError` can point at the rule, the field and the line at fault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class DomainError(Exception):
    """A rule of the domain refused something."""


class NotFound(DomainError):
    """The thing does not exist, or the caller may not see it (both answer 404)."""


class Conflict(DomainError):
    """The request cannot be applied in the current state (409)."""


class Invalid(DomainError):
    """The input is well formed but cannot be used: it names something unknown or unfit (422)."""


class InvalidTransition(DomainError):
    """A lifecycle action the current state does not allow; ``reason`` is for people."""

    def __init__(self, state: str, trigger: str, reason: str) -> None:
        super().__init__(f"{trigger} refused in state {state}: {reason}")
        self.state = state
        self.trigger = trigger
        self.reason = reason


class ConfigError(DomainError):
    """A rules, owners or calendar file is wrong; the message names file, entry and field.

    ``str(err)`` reads ``rules.yaml:12: 规则 elevator-outage · 字段 lead: <problem>``.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        entry: str | None = None,
        field: str | None = None,
        line: int | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.entry = entry
        self.field = field
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        parts = [where]
        if self.entry is not None:
            parts.append(f"条目 {self.entry}")
        if self.field is not None:
            parts.append(f"字段 {self.field}")
        return " · ".join(parts) + f": {self.problem}"


class YamlSource:
    """Parsed YAML plus the 1-based line of each mapping key / sequence item."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        try:
            self.data: Any = yaml.safe_load(text)
            self._root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise ConfigError(f"YAML 语法错误 (syntax): {exc}", file=file, line=line) from exc

    def line(self, *path: str | int) -> int | None:
        """Line of the key (or list item) at ``path``, or of its nearest existing parent."""
        node = self._root
        best = node.start_mark.line + 1 if node is not None else None
        for step in path:
            found = _child(node, step)
            if found is None:
                break
            marker, node = found
            best = marker.start_mark.line + 1
        return best

    def error(
        self, problem: str, *path: str | int, entry: str | None = None, field: str | None = None
    ) -> ConfigError:
        return ConfigError(problem, file=self.file, entry=entry, field=field, line=self.line(*path))


def _child(node: yaml.Node | None, step: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """(node that marks the line, node to descend into) for one step of a path."""
    if isinstance(node, yaml.MappingNode) and isinstance(step, str):
        for key, value in node.value:
            if key.value == step:
                return key, value
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
        item: yaml.Node = node.value[step]
        return item, item
    return None


def read_operator_file(path: Path | str) -> tuple[str, str]:
    """An operator file's text and its name (for errors): ConfigError when it cannot be read."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8"), path.name
    except OSError as exc:
        raise ConfigError(f"无法读取 (cannot read): {exc}", file=str(path)) from exc
