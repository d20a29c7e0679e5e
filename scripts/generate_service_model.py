#!/usr/bin/env python3
"""Generate the botocore service model ``ccf`` from ``infrastructure/openapi.json``.

The OpenAPI file is the source of truth; this writes ``service-2.json`` and ``paginators-1.json``
under ``ccf_core/api/data/ccf/<apiVersion>/``, where ``ccf_core.api.register_service_model()``
makes botocore find them, so ``boto3.client("ccf", endpoint_url=...)`` works after
``pip install ccf-framework``. A test regenerates both and fails if the shipped files drifted.

Usage::

    python scripts/generate_service_model.py            # write the files
    python scripts/generate_service_model.py --check    # exit 1 if they are out of date

Mapping: each operation's ``operationId`` is the botocore operation; path parameters become
``uri`` members, query parameters ``querystring`` members (``max_results``/``next_token`` on
every List), body properties top-level members. Component schemas become shapes of the same
name; inline objects are named after their parent and property. Free-form objects
(``configuration``) are document shapes, ``additionalProperties`` schemas maps (documents if
their values may be null). Each error type
of ``info.x-ccf-service-model.errors`` is an exception shape with its HTTP status, so a
``ClientError``'s code is the error type and ``client.exceptions.ConflictException`` works.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "infrastructure" / "openapi.json"
DATA_ROOT = ROOT / "ccf_core" / "api" / "data"
_REF_PREFIX = "#/components/schemas/"
_HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("-", "_").split("_"))


class _Builder:
    """Builds the shapes of one spec; shapes are added once, by name."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
        self.shapes: dict[str, Any] = {}

    def _resolve(self, schema: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        ref = schema.get("$ref")
        if ref is None:
            return None, schema
        name = ref.removeprefix(_REF_PREFIX)
        return name, self.schemas[name]

    def shape_for(self, schema: dict[str, Any], context_name: str) -> str:
        """The name of the shape for ``schema``; inline schemas are named ``context_name``."""
        ref_name, resolved = self._resolve(schema)
        name = ref_name or context_name
        if name in self.shapes:
            return name
        kind = resolved.get("type", "object")
        if kind == "string":
            return self._string(name, resolved, named=ref_name is not None)
        if kind in ("integer", "number", "boolean"):
            return self._scalar(name, resolved, named=ref_name is not None)
        if kind == "array":
            self.shapes[name] = {"type": "list"}
            member = self.shape_for(resolved.get("items", {"type": "string"}), f"{name}Member")
            shape: dict[str, Any] = {"type": "list", "member": {"shape": member}}
            for source, target in (("minItems", "min"), ("maxItems", "max")):
                if source in resolved:
                    shape[target] = resolved[source]
            self.shapes[name] = self._documented(shape, resolved)
            return name
        return self._object(name, resolved)

    def _documented(self, shape: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
        if schema.get("description"):
            shape["documentation"] = schema["description"]
        return shape

    def _string(self, name: str, schema: dict[str, Any], *, named: bool) -> str:
        constraints = {
            key: schema[key] for key in ("minLength", "maxLength", "pattern", "enum") if key in schema
        }
        if not constraints and not named:
            self.shapes.setdefault("String", {"type": "string"})
            return "String"
        shape: dict[str, Any] = {"type": "string"}
        for source, target in (
            ("minLength", "min"),
            ("maxLength", "max"),
            ("pattern", "pattern"),
            ("enum", "enum"),
        ):
            if source in schema:
                shape[target] = schema[source]
        self.shapes[name] = self._documented(shape, schema)
        return name

    def _scalar(self, name: str, schema: dict[str, Any], *, named: bool) -> str:
        kind = schema["type"]
        base = {"integer": "long" if schema.get("format") == "int64" else "integer", "number": "double"}.get(
            kind, "boolean"
        )
        if not named and "minimum" not in schema and "maximum" not in schema:
            shared = _camel(base)
            self.shapes.setdefault(shared, {"type": base})
            return shared
        shape: dict[str, Any] = {"type": base}
        for source, target in (("minimum", "min"), ("maximum", "max")):
            if source in schema:
                shape[target] = schema[source]
        self.shapes[name] = self._documented(shape, schema)
        return name

    def _object(self, name: str, schema: dict[str, Any]) -> str:
        properties: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        # A map whose values may be null is a document: botocore refuses None in a map.
        if not properties and isinstance(extra, dict) and not extra.get("nullable"):
            self.shapes[name] = {"type": "map"}
            value = self.shape_for(extra, f"{name}Value")
            self.shapes.setdefault("String", {"type": "string"})
            self.shapes[name] = self._documented(
                {"type": "map", "key": {"shape": "String"}, "value": {"shape": value}}, schema
            )
            return name
        if not properties and extra is not False and schema is not self.schemas.get("EmptyResponseModel"):
            self.shapes[name] = self._documented(
                {"type": "structure", "members": {}, "document": True}, schema
            )
            return name
        self.shapes[name] = {"type": "structure", "members": {}}
        members = {
            prop: {"shape": self.shape_for(prop_schema, f"{name}{_camel(prop)}")}
            for prop, prop_schema in properties.items()
            if not prop.startswith("__")
        }
        shape: dict[str, Any] = {"type": "structure"}
        required = [prop for prop in schema.get("required", []) if prop in members]
        if required:
            shape["required"] = required
        shape["members"] = members
        self.shapes[name] = self._documented(shape, schema)
        return name

    def operation_input(self, op_id: str, operation: dict[str, Any]) -> str:
        name = f"{op_id}Request"
        members: dict[str, Any] = {}
        required: list[str] = []
        for param in operation.get("parameters", []):
            location = {"path": "uri", "query": "querystring", "header": "header"}[param["in"]]
            shape = self.shape_for(param["schema"], f"{op_id}{_camel(param['name'])}")
            member: dict[str, Any] = {"shape": shape, "location": location, "locationName": param["name"]}
            if param.get("description"):
                member["documentation"] = param["description"]
            members[param["name"]] = member
            if param.get("required"):
                required.append(param["name"])
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body is not None:
            _, resolved = self._resolve(body)
            for prop, prop_schema in resolved.get("properties", {}).items():
                members[prop] = {"shape": self.shape_for(prop_schema, f"{op_id}Request{_camel(prop)}")}
            required.extend(prop for prop in resolved.get("required", []) if prop in members)
        structure: dict[str, Any] = {"type": "structure"}
        if required:
            structure["required"] = required
        structure["members"] = members
        self.shapes[name] = structure
        return name

    def operation_output(self, op_id: str, schema: dict[str, Any] | None) -> str:
        name = f"{op_id}Response"
        members: dict[str, Any] = {}
        if schema is not None:
            _, resolved = self._resolve(schema)
            for prop, prop_schema in resolved.get("properties", {}).items():
                members[prop] = {"shape": self.shape_for(prop_schema, f"{op_id}Response{_camel(prop)}")}
        self.shapes[name] = {"type": "structure", "members": members}
        return name


def generate(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The service model and the paginators for ``spec`` (an OpenAPI 3 document)."""
    info = spec["info"]
    service = info["x-ccf-service-model"]
    errors: dict[str, int] = service["errors"]
    error_for_status: dict[int, str] = {}
    for error_name, status in errors.items():
        error_for_status.setdefault(status, error_name)
    builder = _Builder(spec)
    builder.shapes["ErrorMessage"] = {"type": "string"}
    builder.shapes["String"] = {"type": "string"}
    for error_name, status in errors.items():
        builder.shapes[error_name] = {
            "type": "structure",
            "members": {
                "message": {"shape": "ErrorMessage"},
                "errorType": {"shape": "String"},
                "field": {"shape": "String"},
            },
            "error": {"httpStatusCode": status, "senderFault": status < 500},
            "exception": True,
        }
    operations: dict[str, Any] = {}
    pagination: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        for method in _HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            op_id = operation["operationId"]
            success = sorted(code for code in operation["responses"] if code.startswith("2"))[0]
            success_schema = (
                operation["responses"][success].get("content", {}).get("application/json", {}).get("schema")
            )
            model: dict[str, Any] = {
                "name": op_id,
                "http": {"method": method.upper(), "requestUri": path, "responseCode": int(success)},
                "input": {"shape": builder.operation_input(op_id, operation)},
                "output": {"shape": builder.operation_output(op_id, success_schema)},
                "errors": [
                    {"shape": error_for_status[int(code)]}
                    for code in operation["responses"]
                    if not code.startswith("2") and int(code) in error_for_status
                ],
            }
            text = " ".join(part for part in (operation.get("summary"), operation.get("description")) if part)
            if text:
                model["documentation"] = text
            operations[op_id] = model
            query = {param["name"] for param in operation.get("parameters", []) if param["in"] == "query"}
            if {"next_token", "max_results"} <= query and success_schema is not None:
                _, resolved = builder._resolve(success_schema)
                result_key = next(
                    prop for prop, schema in resolved["properties"].items() if schema.get("type") == "array"
                )
                pagination[op_id] = {
                    "input_token": "next_token",
                    "output_token": "next_token",
                    "limit_key": "max_results",
                    "result_key": result_key,
                }
    service_model = {
        "version": "2.0",
        "metadata": {
            "apiVersion": service["apiVersion"],
            "auth": ["aws.auth#sigv4"],
            "endpointPrefix": service["endpointPrefix"],
            "jsonVersion": "1.1",
            "protocol": "rest-json",
            "protocols": ["rest-json"],
            "serviceFullName": service["serviceFullName"],
            "serviceId": service["serviceId"],
            "signatureVersion": "v4",
            "signingName": service["signingName"],
            "uid": f"{service['serviceName']}-{service['apiVersion']}",
        },
        "operations": dict(sorted(operations.items())),
        "shapes": dict(sorted(builder.shapes.items())),
        "documentation": info.get("title", ""),
    }
    return service_model, {"pagination": dict(sorted(pagination.items()))}


def render(data: dict[str, Any]) -> str:
    """The file text of a model (stable formatting, trailing newline)."""
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def outputs(spec_path: Path = SPEC_PATH, data_root: Path = DATA_ROOT) -> dict[Path, str]:
    """Every file the generator writes, with its text."""
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    service_model, paginators = generate(spec)
    meta = spec["info"]["x-ccf-service-model"]
    folder = data_root / meta["serviceName"] / meta["apiVersion"]
    return {
        folder / "service-2.json": render(service_model),
        folder / "paginators-1.json": render(paginators),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the files, or with ``--check`` report whether they are up to date."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=SPEC_PATH, help="the OpenAPI file")
    parser.add_argument("--out", type=Path, default=DATA_ROOT, help="the botocore data folder")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the files differ")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs(args.spec, args.out).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {path}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
