"""Event models: parsing, the error shape, and the committed schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import CLIENT_SCHEMA, SERVER_SCHEMA
from unmute_server.llm import LLMErrorCode
from unmute_server.protocol.events import (
    CharactersList,
    CharactersReload,
    ConversationItemCreate,
    ErrorCode,
    InvalidEvent,
    ResponseCancel,
    ResponseCreate,
    SessionUpdate,
    encode,
    error_event,
    parse_client_event,
)
from unmute_server.schemas import generated_files

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_session_update_reads_voice_instructions_and_consent() -> None:
    event = parse_client_event(
        '{"type": "session.update", "event_id": "e1", "session": '
        '{"voice": "Alice", "instructions": "Be brief.", "allow_recording": true}}'
    )
    assert isinstance(event, SessionUpdate)
    assert event.event_id == "e1"
    assert (event.session.voice, event.session.instructions) == ("Alice", "Be brief.")
    assert event.session.allow_recording is True


def test_unknown_fields_are_ignored_inside_session_and_at_the_top() -> None:
    event = parse_client_event(
        json.dumps(
            {
                "type": "session.update",
                "session": {
                    "modalities": ["audio", "text"],
                    "input_audio_format": "pcm16",
                    "turn_detection": None,
                    "tools": [],
                },
                "future_field": 1,
            }
        )
    )
    assert isinstance(event, SessionUpdate)
    assert event.session.voice is None


def test_reload_takes_pack_or_its_legacy_alias_directory() -> None:
    by_pack = parse_client_event('{"type": "session.characters.reload", "pack": "a"}')
    by_directory = parse_client_event('{"type": "session.characters.reload", "directory": "a"}')
    assert isinstance(by_pack, CharactersReload)
    assert isinstance(by_directory, CharactersReload)
    assert by_pack.pack_name == by_directory.pack_name == "a"
    assert by_pack.strict is False
    same = parse_client_event(
        '{"type": "session.characters.reload", "pack": "a", "directory": "a"}'
    )
    assert isinstance(same, CharactersReload)


def test_reload_with_two_different_names_is_invalid() -> None:
    with pytest.raises(InvalidEvent, match="name different packs"):
        parse_client_event('{"type": "session.characters.reload", "pack": "a", "directory": "b"}')


def test_list_needs_nothing_but_its_type() -> None:
    assert isinstance(parse_client_event(b'{"type": "session.characters.list"}'), CharactersList)


@pytest.mark.parametrize(
    ("frame", "event_type", "event_id", "param", "message"),
    [
        ("{", None, None, None, "malformed JSON: "),
        ('"text"', None, None, None, "an event must be a JSON object with a 'type'"),
        ('{"event_id": "a"}', None, "a", "type", "the event has no 'type' field"),
        (
            '{"type": "conversation.item.truncate", "event_id": "b"}',
            "conversation.item.truncate",
            "b",
            "type",
            "unknown event type 'conversation.item.truncate'; known types: session.update, "
            "session.characters.reload, session.characters.list",
        ),
        (
            '{"type": "session.update", "event_id": "c", "session": {"allow_recording": "no"}}',
            "session.update",
            "c",
            "session.allow_recording",
            "session.update: field 'session.allow_recording' input should be a valid boolean",
        ),
        (
            '{"type": "session.characters.list", "event_id": ' + json.dumps("x" * 300) + "}",
            "session.characters.list",
            None,
            "event_id",
            "session.characters.list: field 'event_id' string should have at most 256 characters",
        ),
    ],
)
def test_invalid_events_explain_themselves_and_keep_what_can_be_recovered(
    frame: str, event_type: str | None, event_id: str | None, param: str | None, message: str
) -> None:
    with pytest.raises(InvalidEvent) as raised:
        parse_client_event(frame)
    invalid = raised.value
    assert invalid.message.startswith(message)
    assert (invalid.event_type, invalid.event_id, invalid.param) == (event_type, event_id, param)


def test_error_events_have_the_openai_realtime_shape() -> None:
    event = error_event(ErrorCode.UNKNOWN_CHARACTER, "no such voice", event_id="e9", param="x")
    payload: dict[str, Any] = json.loads(encode(event))
    assert payload["type"] == "error"
    assert payload["event_id"].startswith("event_")
    assert payload["error"] == {
        "type": "invalid_request_error",
        "code": "unknown_character",
        "message": "no such voice",
        "param": "x",
        "event_id": "e9",
        "details": None,
    }
    SERVER_SCHEMA.validate(payload)
    internal = json.loads(encode(error_event(ErrorCode.INTERNAL_ERROR, "bug")))
    assert internal["error"]["type"] == "server_error"


def test_server_event_ids_are_fresh() -> None:
    ids = {json.loads(encode(error_event(ErrorCode.INVALID_EVENT, "x")))["event_id"] for _ in "ab"}
    assert len(ids) == 2


def test_committed_event_schemas_are_the_generated_ones() -> None:
    generated = generated_files()
    for name in ("client-events.schema.json", "server-events.schema.json"):
        assert (SCHEMAS / name).read_text(encoding="utf-8") == generated[name]


def test_client_schema_refuses_what_the_parser_refuses() -> None:
    assert not CLIENT_SCHEMA.is_valid({"type": "session.characters.reload"})
    assert not CLIENT_SCHEMA.is_valid({"type": "nope"})
    assert not CLIENT_SCHEMA.is_valid({"type": "session.update"})
    assert CLIENT_SCHEMA.is_valid({"type": "session.characters.reload", "directory": "a"})
    assert CLIENT_SCHEMA.is_valid({"type": "session.update", "session": {"modalities": []}})


# --------------------------------------------------------------------------- conversation


def test_a_user_message_joins_its_text_parts_and_ignores_sdk_fields() -> None:
    event = parse_client_event(
        json.dumps(
            {
                "type": "conversation.item.create",
                "previous_item_id": "root",
                "item": {
                    "id": "m1",
                    "object": "realtime.item",
                    "status": "completed",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "one"},
                        {"type": "input_text", "text": "two"},
                    ],
                },
            }
        )
    )
    assert isinstance(event, ConversationItemCreate)
    assert event.item.id == "m1"
    assert event.item.type == "message"
    assert event.item.text == "one\ntwo"


def test_an_item_id_longer_than_the_limit_is_refused() -> None:
    item = {"id": "x" * 65, "role": "user", "content": [{"type": "input_text", "text": "t"}]}
    with pytest.raises(InvalidEvent) as raised:
        parse_client_event(json.dumps({"type": "conversation.item.create", "item": item}))
    assert raised.value.param == "item.id"


def test_response_create_ignores_the_response_object_and_cancel_reads_its_id() -> None:
    create = parse_client_event('{"type": "response.create", "response": {"voice": "alloy"}}')
    assert isinstance(create, ResponseCreate)
    cancel = parse_client_event('{"type": "response.cancel", "response_id": "resp_1"}')
    assert isinstance(cancel, ResponseCancel)
    assert cancel.response_id == "resp_1"


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (ErrorCode.LLM_TIMEOUT, "server_error"),
        (ErrorCode.LLM_UNAVAILABLE, "server_error"),
        (ErrorCode.RESPONSE_CANCEL_NOT_ACTIVE, "invalid_request_error"),
        (ErrorCode.CONVERSATION_ALREADY_HAS_ACTIVE_RESPONSE, "invalid_request_error"),
    ],
)
def test_llm_failures_are_server_errors_and_conversation_misuse_the_clients(
    code: ErrorCode, kind: str
) -> None:
    assert error_event(code, "m").error.type == kind


def test_every_llm_error_code_is_a_protocol_error_code() -> None:
    assert {code.value for code in LLMErrorCode} <= {code.value for code in ErrorCode}
