"""The store contract (tests/contract), on stores found through Sentinel, sync and async.

The tests are tests/contract's own, imported: this package's ``harness`` fixture gives
them a store made by ``from_url`` with the Sentinel URL.
"""

from __future__ import annotations

import pytest

from ..contract.test_store_contract import *  # noqa: F403

pytestmark = pytest.mark.redis
