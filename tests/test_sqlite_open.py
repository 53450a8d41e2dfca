"""Many processes opening one fresh SQLite file at once (kernels, supervisors, the server)."""

import multiprocessing

from flyte_jupyter._sqlite import connect

SCHEMA = "CREATE TABLE IF NOT EXISTS t (who INTEGER);"


def _writer(path, barrier, who):
    barrier.wait()  # all processes hit the fresh file together: the WAL switch collides
    conn = connect(path, SCHEMA, timeout=30)
    conn.execute("INSERT INTO t VALUES (?)", (who,))
    conn.close()


def test_concurrent_first_opens_all_succeed(tmp_path):
    for trial in range(10):
        path = tmp_path / f"fresh-{trial}.sqlite"
        context = multiprocessing.get_context("fork")
        barrier = context.Barrier(8)
        procs = [context.Process(target=_writer, args=(path, barrier, i)) for i in range(8)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        assert [p.exitcode for p in procs] == [0] * 8
        conn = connect(path, SCHEMA)
        assert sorted(r[0] for r in conn.execute("SELECT who FROM t")) == list(range(8))
        conn.close()
