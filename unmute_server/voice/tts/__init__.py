"""Text-to-speech engines behind one interface (:mod:`.engine`): embedded, Kyutai, OpenAI."""
