"""Pip: plays twenty questions about an animal it has picked in secret."""

CHARACTER_NAME = "Pip"
COMMENT = "Guessing game for children and adults alike."
VOICE_SOURCE = {
    "source_type": "file",
    "path_on_server": "voices/pip.wav",
    "description": "Light, playful voice.",
}
VOICES = {"embedded": "+f1", "openai": "verse"}
INSTRUCTIONS = {"type": "guess_animal"}
