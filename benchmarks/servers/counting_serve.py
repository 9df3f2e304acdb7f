"""``mcpconnect`` (the command line) with a count of what its token store sends: one byte is
appended to the file named by ``MCPCONNECT_BENCH_STORE_COUNT`` per SQLite statement (sqlite3's
trace callback) and per PostgreSQL query sent (libpq's send and exec calls, through psycopg's
pure-Python libpq binding: run it with ``PSYCOPG_IMPL=python``). The benchmark reads the file's
size before and after a number of tool calls. Redis is counted at the server (MONITOR) instead.

    MCPCONNECT_BENCH_STORE_COUNT=FILE PSYCOPG_IMPL=python python counting_serve.py --config C serve ...
"""

from __future__ import annotations

import functools
import os
import sqlite3
import sys
from typing import Any

_fd = os.open(os.environ["MCPCONNECT_BENCH_STORE_COUNT"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


def _count(*_: object) -> None:
    os.write(_fd, b".")


_sqlite_connect = sqlite3.connect


def _traced_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    conn: sqlite3.Connection = _sqlite_connect(*args, **kwargs)
    conn.set_trace_callback(_count)
    return conn


sqlite3.connect = _traced_connect  # type: ignore[assignment]

if os.environ.get("PSYCOPG_IMPL") == "python":
    from psycopg.pq import pq_ctypes

    def _counted(method: Any) -> Any:
        @functools.wraps(method)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _count()
            return method(*args, **kwargs)

        return wrapper

    for _name in ("send_query", "send_query_params", "send_prepare", "send_query_prepared", "exec_", "exec_params"):
        setattr(pq_ctypes.PGconn, _name, _counted(getattr(pq_ctypes.PGconn, _name)))

if __name__ == "__main__":
    from mcpconnect._cli import main

    sys.exit(main())
