"""The PostgreSQL proxy: real clients through it to a real server, statements as pause points."""

import socket
import struct
import threading

import psycopg
import pytest

from racelab.interpose.pgproxy import (
    Attribution,
    PauseAdapter,
    PgProxy,
    Unattributed,
    statement_keyword,
    upstream_address,
)

WAIT_S = 30  # an upper bound for a failing test, never a pace


@pytest.mark.parametrize(
    "sql, keyword",
    [
        ("SELECT 1", "select"),
        ("  begin;", "begin"),
        ("-- note\n/* a /* nested */ one */ Update items SET x = 1", "update"),
        ("(select 1) union (select 2)", "select"),
        ("WITH t AS (SELECT 1) DELETE FROM x", "with"),
        ("", "empty"),
        ("-- only a comment", "empty"),
        ("/* never closed", "empty"),
        ("123", "other"),
    ],
)
def test_a_statement_is_named_by_its_first_keyword(sql, keyword):
    assert statement_keyword(sql) == keyword


class Recorder:
    """Hooks that record (conn_id, keyword, sql) and each done, in the order they came."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = []

    def on_statement(self, conn_id, keyword, sql):
        with self.lock:
            self.seen.append(("statement", conn_id, keyword, sql))

    def on_done(self, conn_id, status):
        with self.lock:
            self.seen.append(("done", conn_id, status))

    def keywords(self, conn_id=None):
        return [s[2] for s in self.seen if s[0] == "statement" and conn_id in (None, s[1])]


@pytest.fixture
def recorded(postgres_database):
    """A proxy in front of a fresh database, its recorder, and the direct URL."""
    recorder = Recorder()
    proxy = PgProxy(upstream_address(postgres_database), recorder.on_statement, recorder.on_done)
    yield proxy, recorder, postgres_database
    proxy.close()


def test_simple_extended_and_prepared_statements_pass_with_correct_results(recorded):
    proxy, recorder, url = recorded
    with psycopg.connect(proxy.url(url), autocommit=True) as db:
        # No parameters: psycopg sends a simple Query, which may hold two statements.
        cursor = db.execute("SELECT 1; SELECT 2")
        assert cursor.fetchall() == [(1,)] and cursor.nextset() and cursor.fetchall() == [(2,)]
        assert db.execute("SELECT %s::int + %s", [40, 2]).fetchone() == (42,)
        sql = "SELECT %s::text || 'x'"
        assert [db.execute(sql, [w], prepare=True).fetchone()[0] for w in "ab"] == ["ax", "bx"]
    statements = [s for s in recorder.seen if s[0] == "statement"]
    assert [s[2] for s in statements] == ["select"] * 4
    # The prepared executions send only Bind/Execute: their SQL comes from the earlier Parse.
    assert all("|| 'x'" in s[3] for s in statements[2:])
    dones = [s for s in recorder.seen if s[0] == "done"]
    assert len(dones) == 4 and {d[2] for d in dones} == {"I"}


def test_each_connection_sees_its_own_keywords_in_order(recorded):
    proxy, recorder, url = recorded
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE t (k text PRIMARY KEY, n int)")
    scripts = {
        "a": ["BEGIN", "INSERT INTO t VALUES ('a', 1)", "UPDATE t SET n = 2 WHERE k = 'a'",
              "COMMIT"],
        "b": ["SELECT count(*) FROM t", "INSERT INTO t VALUES ('b', 1)",
              "DELETE FROM t WHERE k = 'b'", "ROLLBACK"],
    }  # fmt: skip
    barrier = threading.Barrier(2)

    def run(tag):
        with psycopg.connect(proxy.url(url), autocommit=True) as db:
            barrier.wait(WAIT_S)
            for sql in scripts[tag]:
                db.execute(f"/* {tag} */ {sql}")

    threads = [threading.Thread(target=run, args=(tag,)) for tag in scripts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    for tag, script in scripts.items():
        conn = next(s[1] for s in recorder.seen if s[0] == "statement" and f"/* {tag} */" in s[3])
        assert recorder.keywords(conn) == [sql.split()[0].lower() for sql in script]


class Gate:
    """A scheduler in miniature: pause(session, point) holds until the test releases it."""

    def __init__(self):
        self.cond = threading.Condition()
        self.at = {}
        self.go = set()

    def pause(self, session, point):
        with self.cond:
            self.at[session] = point
            self.cond.notify_all()
            assert self.cond.wait_for(lambda: session in self.go, WAIT_S)
            self.go.discard(session)
            del self.at[session]
            self.cond.notify_all()

    def wait_at(self, session, point):
        with self.cond:
            assert self.cond.wait_for(lambda: self.at.get(session) == point, WAIT_S), self.at

    def step(self, session, point, next_point):
        """Release session from point; wait until it reaches next_point."""
        self.wait_at(session, point)
        with self.cond:
            self.go.add(session)
            self.cond.notify_all()
        if next_point:
            self.wait_at(session, next_point)


def wait_for_lock_wait(url, sql_part):
    """Wait until a backend running sql_part waits on a lock (the server's own word)."""
    query = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
             "AND query LIKE %s")  # fmt: skip
    with psycopg.connect(url, autocommit=True) as db:
        for _ in range(WAIT_S * 100):
            if db.execute(query, [f"%{sql_part}%"]).fetchone()[0]:
                return
            db.execute("SELECT pg_sleep(0.01)")
    raise AssertionError(f"no backend waits on a lock running {sql_part}")


def row_is_free(url):
    """Return whether sku-1's row can be locked now, without waiting."""
    with psycopg.connect(url, autocommit=True) as db:
        try:
            db.execute("SELECT 1 FROM items WHERE sku = 'sku-1' FOR UPDATE NOWAIT")
        except psycopg.errors.LockNotAvailable:
            return False
    return True


def test_a_released_update_waits_on_the_row_lock_the_held_session_has(postgres_database):
    url = postgres_database
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("CREATE TABLE items (sku text PRIMARY KEY, stock int)")
        db.execute("INSERT INTO items VALUES ('sku-1', 10)")
    gate, attribution = Gate(), Attribution()
    adapter = PauseAdapter(gate.pause, attribution)
    proxy = PgProxy(upstream_address(url), adapter.on_statement, adapter.on_done)
    update = "UPDATE items SET stock = stock - 1 WHERE sku = 'sku-1'"

    def session(name, statements):
        with psycopg.connect(proxy.url(url), autocommit=True) as db:
            for sql in statements:
                db.execute(sql)
        attribution.stopped(name)

    try:
        attribution.running("A")  # the runner sends one session's request at a time
        a = threading.Thread(target=session, args=("A", ["BEGIN", update, "COMMIT"]))
        a.start()
        gate.step("A", "begin", "update")
        assert row_is_free(url)  # A's UPDATE is held at the proxy: the server has not seen it
        gate.step("A", "update", "commit")
        assert not row_is_free(url)  # A holds the row lock, paused before COMMIT
        attribution.running("B")
        b = threading.Thread(target=session, args=("B", [update + " /* b */"]))
        b.start()
        gate.step("B", "update", None)  # released ...
        wait_for_lock_wait(url, "/* b */")  # ... into A's row lock: <waiting ...>
        b_update = next(e for e in adapter.events if "/* b */" in e.sql)
        assert b_update.session == "B" and not b_update.done
        gate.step("A", "commit", None)
        a.join(WAIT_S)
        b.join(WAIT_S)
        assert b_update.done and not a.is_alive() and not b.is_alive()
        assert [(e.session, e.keyword) for e in adapter.events] == [
            ("A", "begin"), ("A", "update"), ("A", "commit"), ("B", "update")]  # fmt: skip
        assert adapter.unattributed() == []
    finally:
        proxy.close()
    with psycopg.connect(url) as db:
        assert db.execute("SELECT stock FROM items").fetchone() == (8,)


def test_attribution_names_the_only_running_session_and_says_when_it_cannot():
    who = Attribution()
    assert who.attribute(1) is None  # nothing running: not a stepped request
    who.running("A")
    assert who.attribute(1) == "A"
    who.ready(1, "T")  # in a transaction: the connection stays A's
    who.stopped("A")
    who.running("B")
    assert who.attribute(1) == "A"
    assert who.attribute(2) == "B"
    who.running("A")
    who.ready(2, "I")
    assert who.attribute(2) == Unattributed(("A", "B"))  # two running: never a guess
    who.ready(1, "I")
    assert who.attribute(1) == Unattributed(("A", "B"))


def raw_client(proxy, dbname, encryption_requests=()):
    """Return a socket through the proxy past startup and its password, at ReadyForQuery."""
    sock = socket.create_connection(("127.0.0.1", proxy.port), WAIT_S)
    for code in encryption_requests:
        sock.sendall(struct.pack("!II", 8, code))
        assert sock.recv(1) == b"N"  # no encryption: the client carries on in the clear
    params = b"user\0racelab\0database\0" + dbname.encode() + b"\0\0"
    sock.sendall(struct.pack("!II", 8 + len(params), 3 << 16) + params)
    assert sock.recv(9)[:1] == b"R"  # the proxy asks for its password
    secret = proxy.password.encode() + b"\0"
    sock.sendall(b"p" + struct.pack("!I", 4 + len(secret)) + secret)
    received = b""
    while not received.endswith(b"Z\0\0\0\x05I"):
        received += sock.recv(65536)
    return sock


def read_to_end(sock):
    """Return everything sock sends until it closes."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # a startup length of over a gigabyte
        b"\x00\x00\x00\x03",  # shorter than a startup packet
        struct.pack("!II", 8, 2 << 16),  # protocol 2
        "oversized",  # a valid connection, then one message over the bound
        "unframed",  # a valid connection, then a message shorter than its header
    ],
)
def test_garbage_closes_that_connection_and_the_proxy_serves_others(recorded, garbage):
    proxy, recorder, url = recorded
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(proxy.url(url), autocommit=True) as other:
        if garbage in ("oversized", "unframed"):
            sock = raw_client(proxy, dbname)
            length = 64 * 1024 * 1024 + 1 if garbage == "oversized" else 3
            sock.sendall(b"Q" + struct.pack("!I", length) + b"SELECT 1")
        else:
            sock = socket.create_connection(("127.0.0.1", proxy.port), WAIT_S)
            sock.sendall(garbage)
        answer = read_to_end(sock)
        sock.close()
        assert answer.startswith(b"E") and b"racelab proxy" in answer
        assert other.execute("SELECT 7").fetchone() == (7,)
    with psycopg.connect(proxy.url(url)) as new:
        assert new.execute("SELECT 8").fetchone() == (8,)
    assert len(proxy.errors) == 1 and proxy.errors[0][1].startswith("protocol:")


def test_a_wrong_password_is_refused_and_no_statement_passes(recorded):
    proxy, recorder, url = recorded
    wrong = proxy.url(url).replace(proxy.password, "not-the-secret")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=WAIT_S)
    assert recorder.seen == []


def test_close_ends_open_connections_and_refuses_new_ones(recorded):
    proxy, _, url = recorded
    db = psycopg.connect(proxy.url(url), autocommit=True)
    proxy.close()
    with pytest.raises(psycopg.OperationalError):
        db.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(proxy.url(url), connect_timeout=5)
    db.close()


def test_a_statement_two_running_sessions_could_have_sent_is_reported_not_paused(recorded):
    proxy, _, url = recorded
    gate, attribution = Gate(), Attribution()
    adapter = PauseAdapter(gate.pause, attribution)
    proxy.on_statement, proxy.on_done = adapter.on_statement, adapter.on_done
    attribution.running("A")
    attribution.running("B")
    with psycopg.connect(proxy.url(url), autocommit=True) as db:
        assert db.execute("SELECT 5").fetchone() == (5,)  # it went on: no pause held it
    assert gate.at == {}
    [event] = adapter.unattributed()
    assert (event.session, event.keyword, event.done) == (Unattributed(("A", "B")), "select", True)


def test_a_failing_hook_cuts_its_connection_only(recorded):
    proxy, _, url = recorded

    def refuse_deletes(conn_id, keyword, sql):
        if keyword == "delete":
            raise RuntimeError("no deletes here")

    proxy.on_statement = refuse_deletes
    with psycopg.connect(proxy.url(url), autocommit=True) as other:
        with psycopg.connect(proxy.url(url), autocommit=True) as db:
            with pytest.raises(psycopg.OperationalError):
                db.execute("DELETE FROM pg_class WHERE false")
        assert other.execute("SELECT 6").fetchone() == (6,)
    assert [why for _, why in proxy.errors] == ["hook: RuntimeError('no deletes here')"]


def test_gssapi_and_ssl_requests_are_declined_and_the_connection_goes_on(recorded):
    proxy, recorder, url = recorded
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with raw_client(proxy, dbname, encryption_requests=(80877104, 80877103)) as sock:
        sock.sendall(b"Q" + struct.pack("!I", 4 + 9) + b"SELECT 3\0")
        received = b""
        while not received.endswith(b"Z\0\0\0\x05I"):
            received += sock.recv(65536)
    assert b"D" in received and recorder.keywords() == ["select"]
