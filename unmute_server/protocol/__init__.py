"""The WebSocket protocol's events as pydantic models, and how they are parsed and encoded.
Knows nothing of files or sockets."""
