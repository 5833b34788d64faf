"""The history format, defined once: `format` (fields and validation), `write`, `read`.

The load generator writes histories and the checker reads them; neither defines them.
"""

from history.format import (
    ANSWER_FIELDS,
    FIELD_NAMES,
    OPS,
    READ_OPS,
    TYPES,
    WRITE_OPS,
    HistoryError,
    validate_op,
    validate_run,
)
from history.read import History, HistoryStream, open_history, parse_lines, read_history
from history.write import (
    ENCODER,
    HistoryWriter,
    encode_op,
    op_record,
    run_record,
    with_fields,
)

__all__ = [
    "ANSWER_FIELDS",
    "ENCODER",
    "FIELD_NAMES",
    "OPS",
    "READ_OPS",
    "TYPES",
    "WRITE_OPS",
    "History",
    "HistoryError",
    "HistoryStream",
    "HistoryWriter",
    "encode_op",
    "op_record",
    "open_history",
    "parse_lines",
    "read_history",
    "run_record",
    "validate_op",
    "validate_run",
    "with_fields",
]
