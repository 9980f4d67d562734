"""The bare baseline: an aiohttp WebSocket server that answers every text frame with one
fixed JSON text, and nothing else (no parsing, no sessions, no metrics).

Run as a script by the benchmark (``python bare_server.py --port 0 --reply-file F``); it
prints ``bare-server listening on http://HOST:PORT`` like ``unmute-server serve`` does, so
the same code starts both and the same load generator drives both.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from aiohttp import WSMsgType, web


def make_app(reply: str, compress: bool) -> web.Application:
    async def realtime(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("realtime",), compress=compress)
        await ws.prepare(request)
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                await ws.send_str(reply)
        return ws

    app = web.Application()
    app.router.add_get("/v1/realtime", realtime)
    return app


async def serve(host: str, port: int, reply: str, compress: bool) -> None:
    runner = web.AppRunner(make_app(reply, compress), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    print(f"bare-server listening on http://{bound_host}:{bound_port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reply-file", type=Path, required=True)
    parser.add_argument("--compress", action=argparse.BooleanOptionalAction, default=False)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.reply_file.read_text("utf-8"), args.compress))


if __name__ == "__main__":
    main()
