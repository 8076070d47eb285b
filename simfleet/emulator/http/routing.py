"""Find the operation of a REST request from a botocore service model (`http.requestUri`).

Every operation of the model becomes a route: its method, its path template compiled to a
regular expression (`{label}` is one path segment, `{label+}` is greedy and may span `/`),
and the query-string constants some templates carry after `?` (`/x?versionId` requires a
`versionId` parameter). Matching works on the path as sent (percent-encoded): botocore encodes
`/` inside a label, so segments split cleanly; labels are decoded later, by `inputs`.

When several templates fit one path, the most specific wins: more literal characters first
(`PUT /thing-groups/addThingToThingGroup` before `PUT /thing-groups/{thingGroupName}`), then
more query constants, then no greedy label.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simfleet.emulator.http.messages import QueryPairs

_LABEL = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True, kw_only=True)
class Route:
    operation: Any  # botocore.model.OperationModel
    method: str
    template: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]  # label names in group order, without the greedy `+`
    query_constants: tuple[tuple[str, str | None], ...]
    specificity: tuple[int, int, int]

    def query_matches(self, query: QueryPairs) -> bool:
        present = dict(query)
        for key, value in self.query_constants:
            if key not in present or (value is not None and present[key] != value):
                return False
        return True


@dataclass(frozen=True, kw_only=True)
class RouteMatch:
    """The matched operation, its URI labels (still percent-encoded), and the query keys its
    template requires (they are part of the route, not arguments)."""

    operation: Any  # botocore.model.OperationModel
    raw_labels: Mapping[str, str]
    constant_keys: frozenset[str] = frozenset()


def compile_route(operation: Any) -> Route:
    request_uri: str = operation.http["requestUri"]
    path, _, query = request_uri.partition("?")
    parts: list[str] = []
    labels: list[str] = []
    greedy = 0
    position = 0
    for label in _LABEL.finditer(path):
        parts.append(re.escape(path[position : label.start()]))
        name = label.group(1)
        if name.endswith("+"):
            greedy += 1
            labels.append(name[:-1])
            parts.append("(.+)")
        else:
            labels.append(name)
            parts.append("([^/]+)")
        position = label.end()
    parts.append(re.escape(path[position:]))
    constants: list[tuple[str, str | None]] = []
    for item in query.split("&"):
        if item:
            key, equals, value = item.partition("=")
            constants.append((key, value if equals else None))
    literal_chars = len(_LABEL.sub("", path))
    return Route(
        operation=operation,
        method=operation.http["method"].upper(),
        template=request_uri,
        pattern=re.compile("".join(parts)),
        labels=tuple(labels),
        query_constants=tuple(constants),
        specificity=(literal_chars, len(constants), -greedy),
    )


def _first_segment(path: str) -> str | None:
    """The first path segment if it is literal, else None (a label can be anything)."""
    segment = path.partition("?")[0].split("/", 2)[1] if path.startswith("/") else ""
    return None if "{" in segment else segment


class Router:
    """Routes requests to the operations of one botocore service model."""

    def __init__(self, service_model: Any) -> None:
        routes = [
            compile_route(service_model.operation_model(name))
            for name in service_model.operation_names
        ]
        routes.sort(key=lambda route: route.specificity, reverse=True)
        # Candidates per method and first literal segment, most specific first; routes whose
        # first segment is a label join every bucket of their method (and the fallback).
        self._buckets: dict[str, dict[str | None, tuple[Route, ...]]] = {}
        for method in {route.method for route in routes}:
            mine = [route for route in routes if route.method == method]
            firsts = {_first_segment(route.template) for route in mine}
            self._buckets[method] = {
                first: tuple(
                    route for route in mine if _first_segment(route.template) in (first, None)
                )
                for first in firsts | {None}
            }

    def match(self, method: str, raw_path: str, query: QueryPairs) -> RouteMatch | None:
        buckets = self._buckets.get(method.upper())
        if buckets is None:
            return None
        first = raw_path.split("/", 2)[1] if raw_path.startswith("/") else ""
        candidates = buckets.get(first, buckets[None])
        for route in candidates:
            found = route.pattern.fullmatch(raw_path)
            if found is not None and route.query_matches(query):
                return RouteMatch(
                    operation=route.operation,
                    raw_labels=dict(zip(route.labels, found.groups(), strict=True)),
                    constant_keys=frozenset(key for key, _ in route.query_constants),
                )
        return None
