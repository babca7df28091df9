"""Validate the requests Herald sends against the platforms' official OpenAPI descriptions."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .server import Request

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs"
SPEC_FILES = {"mastodon": "mastodon-api.openapi.json", "x": "x-api-v2.openapi.json"}


class SpecViolation(AssertionError):
    """A request that the official API description does not allow."""


@lru_cache(maxsize=None)
def _spec(name: str) -> tuple[dict, Registry]:
    text = (SPECS / SPEC_FILES[name]).read_text(encoding="utf-8")
    # The generated descriptions use oneOf for overlapping variants (a status with text and
    # media matches both TextStatus and MediaStatus), so read every oneOf as anyOf.
    spec = json.loads(text.replace('"oneOf"', '"anyOf"'))
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    return spec, Registry().with_resource("urn:spec", resource)


def _operation(spec: dict, method: str, path: str) -> tuple[str, dict]:
    for template, item in spec["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    raise SpecViolation(f"{method} {path} is not an operation of this API")


def _resolve(schema: Any, spec: dict) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _property_types(schema: Any, spec: dict, seen: int = 0) -> dict[str, Any]:
    """Map every property name reachable through allOf/oneOf/anyOf to its resolved schema."""
    schema = _resolve(schema, spec)
    if not isinstance(schema, dict) or seen > 8:
        return {}
    props = {k: _resolve(v, spec) for k, v in schema.get("properties", {}).items()}
    for combinator in ("allOf", "oneOf", "anyOf"):
        for branch in schema.get(combinator, []):
            for k, v in _property_types(branch, spec, seen + 1).items():
                props.setdefault(k, v)
    return props


def _coerce(value: str, schema: Any) -> Any:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "boolean":
        return value.lower() in ("true", "1", "on")
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    return value


def form_to_json(request: Request, schema: Any, spec: dict) -> dict[str, Any]:
    """Turn form or multipart fields into the JSON object the schema describes."""
    props = _property_types(schema, spec)
    body: dict[str, Any] = {}
    for raw, values in request.form.items():
        name = raw[:-2] if raw.endswith("[]") else raw
        prop = props.get(name, {})
        if prop.get("type") == "array" or raw.endswith("[]"):
            items = _resolve(prop.get("items", {}), spec)
            body[name] = [_coerce(v, items) for v in values]
        else:
            body[name] = _coerce(values[-1], prop)
    for name in request.files:
        body[name] = "<binary>"
    return body


def validate_request(api: str, request: Request) -> None:
    """Raise SpecViolation when the request's body does not match the operation's schema."""
    spec, registry = _spec(api)
    template, operation = _operation(spec, request.method, request.path)
    content = operation.get("requestBody", {}).get("content")
    if not content:
        return
    ctype = request.content_type
    chosen = next((c for c in (ctype, "application/json") if c in content), next(iter(content)))
    schema = content[chosen].get("schema", {})
    body = request.json if request.json is not None else form_to_json(request, schema, spec)
    pointer = "/".join(_escape(part) for part in
                       ("", "paths", template, request.method.lower(), "requestBody", "content",
                        chosen, "schema"))
    validator = Draft202012Validator({"$ref": "urn:spec#" + pointer}, registry=registry)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    if errors:
        details = "; ".join(f"{'/'.join(map(str, e.path)) or '(body)'}: {e.message}"
                            for e in errors[:3])
        raise SpecViolation(f"{request.method} {request.path} ({template}): {details}")


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")
