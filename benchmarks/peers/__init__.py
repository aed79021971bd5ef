"""Side-by-side benchmarks of Baton and the frameworks users would pick instead.

    benchmarks/peers/setup.sh                 # once: the peers' own virtualenv, pinned
    benchmarks/peers/.venv/bin/python -m benchmarks.peers.run [--quick]

See ``benchmarks/README.md`` for the scenarios and the latest results.
"""
