"""The documentation's JSON examples are events this server really reads and sends."""

from __future__ import annotations

import json
import re
import typing
from typing import Any

import pytest
from openai.types.beta.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from tests.documentation import DOCUMENTATION
from tests.server.conftest import SERVER_SCHEMA
from unmute_server.protocol import audio_events
from unmute_server.protocol.events import CLIENT_EVENT_TYPES, AnyServerEvent, parse_client_event

EXAMPLES: list[dict[str, Any]] = [
    json.loads(block) for block in re.findall(r"```json\n(.*?)```", DOCUMENTATION, re.DOTALL)
]

CLIENT_EXAMPLES = [example for example in EXAMPLES if example["type"] in CLIENT_EVENT_TYPES]
SERVER_EXAMPLES = [example for example in EXAMPLES if example["type"] not in CLIENT_EVENT_TYPES]

SDK_SERVER_EVENTS: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)


@pytest.mark.parametrize("example", CLIENT_EXAMPLES, ids=lambda example: example["type"])
def test_every_client_example_parses(example: dict[str, Any]) -> None:
    assert parse_client_event(json.dumps(example)).type == example["type"]


def test_every_client_event_type_has_an_example_that_parses() -> None:
    assert {example["type"] for example in CLIENT_EXAMPLES} == set(CLIENT_EVENT_TYPES)


AUDIO_SERVER_EXAMPLES = [
    example
    for example in SERVER_EXAMPLES
    if example["type"].startswith(("input_audio_buffer.", "response.audio"))
    or ".input_audio_transcription." in example["type"]
    or example["type"] == "session.updated"
    or (example["type"] == "error" and example["error"]["type"] == "warning")
]


@pytest.mark.parametrize("example", AUDIO_SERVER_EXAMPLES, ids=lambda example: example["type"])
def test_every_audio_server_example_is_a_valid_event(example: dict[str, Any]) -> None:
    SERVER_SCHEMA.validate(example)
    SDK_SERVER_EVENTS.validate_python(example)


def test_every_audio_server_event_has_an_example() -> None:
    audio_types = {
        model.model_fields["type"].default
        for model in typing.get_args(AnyServerEvent)
        if model.__module__ == audio_events.__name__
    }
    assert len(audio_types) == 11
    assert audio_types | {"session.updated", "error"} == {
        example["type"] for example in AUDIO_SERVER_EXAMPLES
    }


LIFECYCLE_EXAMPLES = [
    example
    for example in SERVER_EXAMPLES
    if example["type"].startswith(("response.output_item.", "response.content_part."))
    or example["type"] == "session.created"
]


@pytest.mark.parametrize("example", LIFECYCLE_EXAMPLES, ids=lambda example: example["type"])
def test_every_lifecycle_example_is_valid_in_the_schema_and_the_sdk(
    example: dict[str, Any],
) -> None:
    SERVER_SCHEMA.validate(example)
    SDK_SERVER_EVENTS.validate_python(example)


def test_session_created_and_the_item_lifecycle_have_examples() -> None:
    assert {example["type"] for example in LIFECYCLE_EXAMPLES} == {
        "session.created",
        "response.output_item.added",
        "response.content_part.done",
    }
