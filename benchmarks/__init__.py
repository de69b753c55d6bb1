"""The ocn-router benchmark suite (issue 6): every figure beside a baseline from the same run.

Run ``python -m benchmarks --mode quick|full [--out DIR] [--only NAME,...]`` (``ocn-bench``).
Scenarios live in one module each (``*_bench.py``); shared plumbing in ``stats``, ``procs``,
``payloads``, ``upstream``, ``handshake``; output in ``report`` and ``plots``.
"""
