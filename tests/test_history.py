"""The history format: what the writer writes, the readers read back exactly."""

import io

from hypothesis import given
from hypothesis import strategies as st

from history import (
    ENCODER,
    OPS,
    TYPES,
    HistoryWriter,
    encode_op,
    op_record,
    parse_lines,
    read_history,
    run_record,
)
from history.format import with_defaults

texts = st.text(max_size=20)
maybe_ints = st.none() | st.integers(-(2**63), 2**63 - 1)
times = st.floats(min_value=0, max_value=1e6, allow_nan=False)
op_args = st.tuples(
    st.sampled_from(OPS),
    st.integers(0, 10_000),
    st.none() | texts,
    st.none() | texts,
    maybe_ints,
    maybe_ints,
    st.none() | st.integers(100, 599),
    st.sampled_from(TYPES),
    times,
    times,
    st.none() | texts,
    st.integers(0, 10),
)


def names_its_order(args) -> bool:
    """A create or a leave names its token; a cancel its token or its order id."""
    op, token, order_id = args[0], args[2], args[5]
    return not (op in ("create", "leave") and token is None) and not (
        op == "cancel" and token is None and order_id is None
    )


valid_op_args = op_args.filter(names_its_order)


@given(op_args)
def test_the_direct_encoder_writes_what_the_json_encoder_would(args):
    assert encode_op(*args) == ENCODER.encode(op_record(*args))


@given(st.lists(valid_op_args, max_size=20))
def test_what_the_writer_writes_reads_back_the_same(tmp_path_factory, ops):
    run = run_record("http://127.0.0.1:1", "2026-01-01T00:00:00.000Z", 7, {}, {"sku-1": 5})
    path = tmp_path_factory.mktemp("h") / "h.jsonl"
    with HistoryWriter(path) as writer:
        writer.write(run)
        for args in ops:
            writer.write_line(encode_op(*args))
    # Read back with the documented defaults filled in: a create's leave fields are null.
    expected = [with_defaults(op_record(*args)) for args in ops]
    history = read_history(path)
    assert (history.run, history.ops, history.skipped) == (run, expected, 0)
    assert parse_lines(io.StringIO(path.read_text())).ops == expected
