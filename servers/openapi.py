"""The OpenAPI 3 description of the contract, so schema-driven tools can test it."""

import msgspec

from servers.registry import STRATEGIES
from servers.validation import LIMIT_DEFAULT, LIMIT_MAX, LIMIT_MIN, MAX_ID
from shapes import NewLeave, NewOrder, Order, OrderId

REF = "#/components/schemas/{name}"
NULL = {"type": "null"}
SHAPES = (NewOrder, Order, NewLeave)  # named in the document by their class names


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ok(description: str, ref: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


ORDER_ID = {
    "name": "order_id",
    "in": "path",
    "required": True,
    "schema": msgspec.json.schema(OrderId),  # larger than any id: 404
}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    },
    "Health": {
        "type": "object",
        "required": ["status", "backend", "strategy"],
        "properties": {
            "status": {"type": "string", "enum": ["ok"]},
            "backend": {"type": "string", "enum": list(STRATEGIES)},
            "strategy": {"type": "string"},
        },
    },
    "Item": {
        "type": "object",
        "required": ["sku", "stock"],
        "properties": {"sku": {"type": "string"}, "stock": {"type": "integer"}},
    },
    "Items": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}},
    },
    "Orders": {
        "type": "object",
        "required": ["orders"],
        "properties": {
            "orders": {"type": "array", "items": {"$ref": "#/components/schemas/Order"}}
        },
    },
    "Shift": {
        "type": "object",
        "required": ["shift", "on_call"],
        "properties": {
            "shift": {"type": "string"},
            "on_call": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Shifts": {"type": "array", "items": {"$ref": "#/components/schemas/Shift"}},
}

SHIFT = {
    "name": "shift",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
    "example": "s1",
}

PATHS = {
    "/health": {
        "get": {
            "summary": "Which backend and strategy answer.",
            "responses": {"200": _ok("Serving.", "Health")},
        }
    },
    "/items": {
        "get": {
            "summary": "Every item and its stock.",
            "responses": {"200": _ok("The items.", "Items")},
        }
    },
    "/orders": {
        "post": {
            "summary": "Create an order and take its qty from stock; a known token replays.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/NewOrder"}}
                },
            },
            "responses": {
                "201": _ok("Created.", "Order"),
                "200": _ok("Token already stored: replay.", "Order"),
                "400": _error("invalid"),
                "404": _error("unknown_sku"),
                "409": _error("out_of_stock"),
                "413": _error("too_large"),
                "415": _error("unsupported_media_type"),
                "503": _error("busy: not written"),
            },
        },
        "get": {
            "summary": "Orders ordered by id, a page at a time.",
            "parameters": [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {
                        "type": "integer",
                        "minimum": LIMIT_MIN,
                        "maximum": LIMIT_MAX,
                        "default": LIMIT_DEFAULT,
                    },
                },
                {
                    "name": "after_id",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
                },
            ],
            "responses": {"200": _ok("A page of orders.", "Orders"), "400": _error("invalid")},
        },
    },
    "/orders/{order_id}": {
        "parameters": [ORDER_ID],
        "get": {
            "summary": "One order.",
            "responses": {"200": _ok("The order.", "Order"), "404": _error("not_found")},
        },
        "delete": {
            "summary": "Cancel an order and return its qty to stock.",
            "responses": {
                "204": {"description": "Cancelled."},
                "404": _error("not_found"),
                "503": _error("busy: not written"),
            },
        },
    },
    "/shifts": {
        "get": {
            "summary": "Every on-call shift and the doctors on call.",
            "responses": {"200": _ok("The shifts.", "Shifts")},
        }
    },
    "/shifts/{shift}/leave": {
        "parameters": [SHIFT],
        "post": {
            "summary": "Take a doctor off call unless they are the last; a known token replays.",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/NewLeave"}}
                },
            },
            "responses": {
                "200": _ok("Left, or token already stored: who stays on call.", "Shift"),
                "400": _error("invalid"),
                "404": _error("unknown_shift"),
                "409": _error("not_on_call, or last_on_call: the only doctor left"),
                "413": _error("too_large"),
                "415": _error("unsupported_media_type"),
                "503": _error("busy: not written"),
            },
        },
    },
    "/openapi.json": {
        "get": {
            "summary": "This document.",
            "responses": {
                "200": {"description": "OpenAPI 3.", "content": {"application/json": {}}}
            },
        }
    },
}


def _with_default_error(paths: dict) -> dict:
    """Add the answers every operation may give: a 5xx (the naive strategies fail this way)
    and the HTTP layer's own 408, 414, 431, all in the contract's error shape."""
    for item in paths.values():
        for method, operation in item.items():
            if method != "parameters":
                operation["responses"].setdefault("default", _error(DEFAULT_ERROR))
    return paths


DEFAULT_ERROR = (
    "internal (5xx: outcome unknown), or timeout (408), uri_too_long (414), headers_too_large (431)"
)


def shape_schemas() -> dict:
    """Return the OpenAPI schemas of the shapes the contract takes and gives (shapes/)."""
    _, schemas = msgspec.json.schema_components(SHAPES, ref_template=REF)
    return {name: openapi_schema(schema) for name, schema in schemas.items()}


def openapi_schema(schema):
    """Return a JSON Schema (2020-12, as msgspec writes it) in OpenAPI 3.0.3's dialect."""
    if isinstance(schema, list):
        return [openapi_schema(part) for part in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: openapi_schema(value) for key, value in schema.items()}
    if NULL in schema.get("anyOf", ()):  # 3.0 has no null type: a nullable flag instead
        rest = [part for part in schema.pop("anyOf") if part != NULL]
        schema |= rest[0] if len(rest) == 1 else {"anyOf": rest}
        schema["nullable"] = True
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if type(schema.get(flag)) in (int, float):  # 3.0's flag is a boolean beside the bound
            schema[bound], schema[flag] = schema[flag], True
    return schema


def openapi_document() -> dict:
    """Return the OpenAPI 3.0 document for the contract."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "racelab target",
            "version": "1",
            "description": "One contract for the JSON-file and SQLite targets.",
        },
        "paths": _with_default_error(PATHS),
        "components": {"schemas": SCHEMAS | shape_schemas()},
    }
