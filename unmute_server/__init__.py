"""unmute_server: a session server for real-time voice-chat characters.

Character packs are declarative data, read and validated, never executed.
"""

__version__ = "0.1.0"
