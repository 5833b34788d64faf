"""The on-call workload's one input: the POST /shifts/<shift>/leave body, defined once."""

from typing import Annotated

import msgspec
from msgspec import Meta

from shapes.order import Token

NAME_MAX_LENGTH = 64  # a doctor's name, and a shift's
Name = Annotated[str, Meta(min_length=1, max_length=NAME_MAX_LENGTH)]


class NewLeave(msgspec.Struct, forbid_unknown_fields=True):
    """The POST /shifts/<shift>/leave body: exactly these fields, the token as an order's."""

    doctor: Name
    token: Token
