"""Professor Quill: a quiz host with the manners of an old schoolteacher."""

CHARACTER_NAME = "Professor Quill"
COMMENT = "Quiz show in the classics pack."
VOICE_SOURCE = {
    "source_type": "file",
    "path_on_server": "voices/quill.wav",
    "description": "Crisp, old-fashioned voice.",
}
VOICES = {"embedded": "en-gb+m4", "openai": "ash"}
INSTRUCTIONS = {"type": "quiz_show", "language": "en"}
