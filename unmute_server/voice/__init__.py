"""The voice path: audio in and out, turn-taking, and the speech engines behind two interfaces.

Nothing here knows aiohttp or the protocol's event names: the per-session pipeline reports plain
records, and the server's dialect layer names them (DESIGN 2 and 8).
"""
