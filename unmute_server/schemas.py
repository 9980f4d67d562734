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


def character_schema() -> JsonSchema:
    """The schema of one character file, in its TOML form (the Python form maps onto it)."""
    return with_header(
        Character.model_json_schema(),
        "character.schema.json",
        "unmute-server character",
        "One character of a character pack: a name, a voice and declarative instructions "
        "that a built-in prompt builder turns into the system prompt. Point a TOML character "
        "file at this schema with a first line '#:schema ../../schemas/character.schema.json'.",
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
