"""Quiz night host, written the old way: an executable Python module.

Older packs defined characters as Python that the server imported and ran, with a
PromptGenerator class building the system prompt at run time. unmute-server never imports,
runs or compiles this file. Because quiz_night.toml sits beside it, that sidecar is the
character's definition and this file is not even parsed when the pack loads; lint reports
it as shadowed (CHR401, a warning). See README.md in this folder.
"""

import random
from dataclasses import dataclass

CHARACTER_NAME = "Quiz Night"
GOOD = True
COMMENT = "Legacy example: the sidecar quiz_night.toml is what the server reads."
VOICE_SOURCE = {
    "source_type": "file",
    "path_on_server": "voices/quiz_night.wav",
    "description": "Lively pub quiz host.",
}

THEMES = ["geography", "music", "science", "sport"]


@dataclass
class PromptGenerator:
    language: str = "en"

    def make_system_prompt(self) -> str:
        theme = random.choice(THEMES)
        return (
            f"You are {CHARACTER_NAME}, hosting a pub quiz about {theme}. "
            "Ask five questions, one at a time, and keep score."
        )


INSTRUCTIONS = PromptGenerator().make_system_prompt()
