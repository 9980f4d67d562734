"""Speech-to-text engines behind one interface (:mod:`.engine`): embedded, Kyutai, OpenAI."""
