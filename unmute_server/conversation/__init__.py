"""One session's conversation, apart from any transport: chat history, one streamed answer at
a time, each request fitted into the LLM's context, and what prompts are rendered with (time
zone, language, the day's headlines)."""
