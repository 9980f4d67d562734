"""The JSON Schema files committed under ``schemas/``, and the models that generate them.

Each entry of :data:`SCHEMA_FILES` maps a file name to a function building that file's
schema. ``unmute-server schema`` writes them all; ``unmute-server schema --check`` (run by
CI) fails when a committed file differs from what its model generates now, so a change to a
model can never ship without the schema editors and clients read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter

from unmute_server.characters.model import Character
from unmute_server.protocol.events import ClientEvent, ServerEvent
from unmute_server.protocol.ga_events import GaServerEvent

#: JSON Schema dialect of every generated file (pydantic emits draft 2020-12).
DIALECT = "https://json-schema.org/draft/2020-12/schema"

#: Base of each file's ``$id``: a stable name, not a location to fetch.
ID_BASE = "urn:unmute-server:schemas:"

JsonSchema = dict[str, Any]


def with_header(schema: JsonSchema, file_name: str, title: str, description: str) -> JsonSchema:
    """``schema`` with ``$schema``, ``$id``, ``title`` and ``description`` first, in that order.

    Putting the header first and keeping pydantic's order for the rest makes the file read
    top-down and keeps diffs of a regenerated file small.
    """
    rest = {key: value for key, value in schema.items() if key not in {"title", "description"}}
    return {
        "$schema": DIALECT,
        "$id": ID_BASE + file_name,
        "title": title,
        "description": description,
        **rest,
    }


def standard_unions(schema: Any) -> Any:
    """``schema`` with every OpenAPI ``discriminator`` union rewritten as ``if``/``then``.

    Pydantic marks a tagged union with ``oneOf`` plus OpenAPI's ``discriminator``, which JSON
    Schema validators (check-jsonschema, taplo behind editor extensions) ignore: they try
    every branch and report a wrong field as "not valid under any of the schemas", or as an
    unexpected property of the wrong branch. Here the tag is checked against its known
    values, and one ``if``/``then`` per value applies that branch alone, so a validator
    names the field that is wrong (``$.instructions.language``) in the branch the file chose.
    """
    if isinstance(schema, list):
        return [standard_unions(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: standard_unions(value) for key, value in schema.items()}
    discriminator = converted.pop("discriminator", None)
    if discriminator is None or "oneOf" not in converted:
        return converted
    converted.pop("oneOf")
    tag = discriminator["propertyName"]
    mapping: dict[str, str] = discriminator["mapping"]
    return {
        **converted,
        "type": "object",
        "required": [tag],
        "properties": {tag: {"enum": list(mapping)}},
        "allOf": [
            {
                "if": {"properties": {tag: {"const": value}}, "required": [tag]},
                "then": {"$ref": reference},
            }
            for value, reference in mapping.items()
        ],
    }


_NULL = {"type": "null"}


def without_null(schema: Any) -> Any:
    """``schema`` with the ``null`` branch of every optional field removed.

    TOML has no null: a field is unset by leaving it out. Pydantic spells ``X | None`` as
    ``anyOf: [X, null]``, which makes validators answer a bad value with "is not of type
    'null'"; with the branch gone they report what is wrong with the value itself.
    """
    if isinstance(schema, list):
        return [without_null(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: without_null(value) for key, value in schema.items()}
    branches = converted.get("anyOf")
    if isinstance(branches, list) and _NULL in branches:
        rest = [branch for branch in branches if branch != _NULL]
        del converted["anyOf"]
        if converted.get("default", ...) is None:
            del converted["default"]
        if len(rest) == 1:
            return {**rest[0], **converted}
        converted["anyOf"] = rest
    return converted


def character_schema() -> JsonSchema:
    """The schema of one character file, in its TOML form (the Python form maps onto it)."""
    return with_header(
        without_null(standard_unions(Character.model_json_schema())),
        "character.schema.json",
        "unmute-server character",
        "One character of a character pack: a name, a voice and declarative instructions "
        "that a built-in prompt builder turns into the system prompt. Point a TOML character "
        "file at this schema with a first line '#:schema ../../schemas/character.schema.json' "
        "(the path from the file's folder; `unmute-server schema --write-directive PACK` "
        "writes it for a pack kept anywhere).",
    )


def client_events_schema() -> JsonSchema:
    """Every event a client may send on ``/v1/realtime`` (as the server parses them)."""
    return with_header(
        TypeAdapter(ClientEvent).json_schema(mode="validation"),
        "client-events.schema.json",
        "unmute-server client events",
        "A JSON text frame a client sends on /v1/realtime. Fields the server does not know "
        "are ignored, at the top level and inside session.",
    )


def server_events_schema() -> JsonSchema:
    """Every event the server sends on ``/v1/realtime`` (as it serializes them)."""
    return with_header(
        TypeAdapter(ServerEvent).json_schema(mode="serialization"),
        "server-events.schema.json",
        "unmute-server server events",
        "A JSON text frame the server sends on /v1/realtime in the beta dialect (the "
        "default); server-events-ga.schema.json is the GA dialect.",
    )


def ga_server_events_schema() -> JsonSchema:
    """Every event the server sends on ``/v1/realtime`` to a client speaking the GA dialect."""
    return with_header(
        TypeAdapter(GaServerEvent).json_schema(mode="serialization"),
        "server-events-ga.schema.json",
        "unmute-server server events (OpenAI Realtime GA dialect)",
        "A JSON text frame the server sends on /v1/realtime to a client speaking the GA "
        "dialect (?dialect=ga, or a first session.update with session.type). "
        "server-events.schema.json is the beta dialect, the default.",
    )


#: File name under ``schemas/`` -> generator. Other modules' schemas are added here.
SCHEMA_FILES: dict[str, Callable[[], JsonSchema]] = {
    "character.schema.json": character_schema,
    "client-events.schema.json": client_events_schema,
    "server-events.schema.json": server_events_schema,
    "server-events-ga.schema.json": ga_server_events_schema,
}


def render_schema(schema: JsonSchema) -> str:
    """The exact text committed for ``schema``: two-space indent, key order kept, final newline."""
    return json.dumps(schema, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def generated_files() -> dict[str, str]:
    """Every schema file's name and the text it should have, in name order."""
    return {name: render_schema(SCHEMA_FILES[name]()) for name in sorted(SCHEMA_FILES)}
