"""The aiohttp side: the app factory, settings, the WebSocket handler, HTTP routes, the outbox
and the metrics. The only package that imports aiohttp; where the protocol and the characters
meet."""
