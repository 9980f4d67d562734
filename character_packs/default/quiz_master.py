"""Quentin: the host of a spoken quiz whose theme changes with every session."""

CHARACTER_NAME = "Quentin"
GOOD = False
COMMENT = "Quiz show host; the theme and the number of questions come from the session seed."
VOICE_SOURCE = {
    "source_type": "file",
    "path_on_server": "voices/quentin.wav",
    "description": "Energetic game-show voice.",
}
VOICES = {"embedded": "+m7", "openai": "echo"}
INSTRUCTIONS = {"type": "quiz_show"}
