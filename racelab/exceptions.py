"""One root for every exception racelab raises on purpose, and the two kinds a caller acts on.

    RacelabError                  catch it to catch anything racelab raises on purpose
    ├── BadInput                  input that cannot be used: the user fixes it (CLI exit 2)
    │     TargetSpecError, StepSpecError, HistoryError, MixError, ShapeError, ThresholdError,
    │     TargetError, ExploreError, BadSettings, StepInputError, StoreUnreadable, StoreRefused
    ├── RunFailed                 something racelab started or reached would not start, answer
    │     or stop as it must: the machine's state, not the input (CLI exit 1)
    │     TargetFailed, LoadError, MountFailed, ClusterError (NoPostgres), Unreadable, BadAnswer
    ├── ApiError                  an HTTP answer of the contract: a status, a code, a sentence
    │     Invalid, UnknownSku, NotFound, OutOfStock, TooLarge, UnsupportedMediaType, Busy,
    │     RequestTimeout, UnknownShift, NotOnCall, LastOnCall
    └── signals kept inside one component, each caught by its own caller:
          ServeError, UiApiError, RunUnderWay, Stopped, NoSuchRun, ContractBroken, Refused,
          NothingToInterleave, ProtocolError, Closed, DiskError, ConnectError, Timeout,
          ConnectionBroken, Ended, NotPartitioned

A class that was a ValueError (a parser's refusal), an OSError or a LookupError stays one
too, so the code that catches it by that name still does. This module imports nothing and
racelab/__init__.py imports nothing, so history/, servers/, loadtests/ and the checker may
all import it without loading the rest of racelab (tests/test_house.py holds both). One
module stays outside: pgcluster/watcher.py runs as `python -I watcher.py`, standard library
only.
"""


class RacelabError(Exception):
    """The root of every exception racelab defines."""


class BadInput(RacelabError):
    """Input racelab cannot use; the message names the bad value, line or file."""


class RunFailed(RacelabError):
    """Something racelab started or reached did not start, answer or stop as it must."""
