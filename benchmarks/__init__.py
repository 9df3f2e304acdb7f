"""Side-by-side measurements of mcpconnect against its peers. Not part of the test suite.

Run from the repository root, in an environment where mcpconnect and its plugins are installed::

    python -m benchmarks [--quick] [--out FILE] [--only SECTION ...]
"""
