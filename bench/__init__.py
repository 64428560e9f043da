"""Benchmarks: the resolver side by side with the patterns teams use today (issue 6).

``make bench`` (full) or ``make bench QUICK=1``; see ``python -m bench --help`` and
``bench/RESULTS.md``.
"""
