"""The documented shapes, each defined once as a typed struct (docs/contract.md).

`order`: a stored order, the POST /orders body and the POST /shifts/<shift>/leave body;
`fields`: what a struct says of each field. The history operation is the history
format's own (history/format.py). The servers, the checker and the OpenAPI document derive
their rules from these; this package imports none of them. `reports`: the output shapes
(the load summary, the check report, the compare report), imported from shapes.reports.
"""

from shapes.fields import FieldRule, field_rules, is_kind, within
from shapes.order import (
    ID,
    MAX_ID,
    NAME_MAX_LENGTH,
    NEW_ORDER_FIELDS,
    ORDER_FIELDS,
    ORDER_KINDS,
    QTY,
    ROW_FIELDS,
    SKU,
    TOKEN,
    NewLeave,
    NewOrder,
    Order,
    OrderId,
    is_order,
    is_order_row,
)

__all__ = [
    "ID",
    "MAX_ID",
    "NAME_MAX_LENGTH",
    "NEW_ORDER_FIELDS",
    "ORDER_FIELDS",
    "ORDER_KINDS",
    "QTY",
    "ROW_FIELDS",
    "SKU",
    "TOKEN",
    "FieldRule",
    "NewLeave",
    "NewOrder",
    "Order",
    "OrderId",
    "field_rules",
    "is_kind",
    "is_order",
    "is_order_row",
    "within",
]
