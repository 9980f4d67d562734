"""The benchmark suite: ``python -m tests.perf [--quick] [--json PATH]`` (``make bench``).

Micro benchmarks (parsing, pack loading, cache hits) run in this process on synthetic packs
written to a temporary folder; load benchmarks start the server and a bare aiohttp baseline
as subprocesses on loopback and drive them with ``unmute-server loadtest`` in its own
process. Every figure is the median of several runs, printed with its min and max, its
target and its ratio to a baseline measured in the same run.
"""
