"""Every behaviour of ``@idempotent`` (tests/contract), on stores found through Sentinel.

The tests are tests/contract's own, imported: this package's ``harness`` fixture gives
them a store made by ``from_url`` with the Sentinel URL, sync and async.
"""

from __future__ import annotations

import pytest

from ..contract.test_decorator_contract import *  # noqa: F403

pytestmark = pytest.mark.redis
