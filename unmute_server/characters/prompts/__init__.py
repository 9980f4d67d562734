"""Turn a character's declarative instructions into the LLM system prompt (DESIGN 3.3).

Behaviour lives here, in reviewed server code; a pack only picks an instruction ``type`` and
fills in its fields. Rendering is pure: a :class:`PromptContext` carries the moment, the time
zone, the language and the seed, and the same character in the same context always gets the
same prompt.
"""

from unmute_server.characters.prompts._builders import (
    MAX_HEADLINES,
    constant_prompt,
    conversation_language,
    guess_animal_prompt,
    news_prompt,
    quiz_show_prompt,
    render_system_prompt,
    smalltalk_prompt,
    template_prompt,
    template_values,
    unmute_explanation_prompt,
)
from unmute_server.characters.prompts._context import PromptContext
from unmute_server.characters.prompts._language import LANGUAGE_NAMES, language_name, language_rule
from unmute_server.characters.prompts._speaking import SPEAKING_STYLE

__all__ = [
    "LANGUAGE_NAMES",
    "MAX_HEADLINES",
    "SPEAKING_STYLE",
    "PromptContext",
    "constant_prompt",
    "conversation_language",
    "guess_animal_prompt",
    "language_name",
    "language_rule",
    "news_prompt",
    "quiz_show_prompt",
    "render_system_prompt",
    "smalltalk_prompt",
    "template_prompt",
    "template_values",
    "unmute_explanation_prompt",
]
