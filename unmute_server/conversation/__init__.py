"""One session's conversation, apart from any transport: chat history, one streamed answer at
a time, and what prompts are rendered with (time zone, language, the day's headlines)."""
