"""``unmute_server.app:make_app``: the short import path gunicorn is given.

The factory lives in :mod:`unmute_server.server.app`; this module only names it.
"""

from unmute_server.server.app import make_app

__all__ = ["make_app"]
