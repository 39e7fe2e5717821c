"""A bad `after_seq` closes the WebSocket with 1008 and a reason, whatever it looks like."""

from __future__ import annotations

import uuid

import pytest

from services.gateway.fanout.hub import CLOSE_POLICY, CLOSE_TOO_SLOW
from tests.integration.gateway.conftest import Served, follow
from tests.support.auth import token_for

pytestmark = pytest.mark.integration

BAD = {
    "letters": "abc",
    "negative": "-1",
    "fraction": "1.5",
    "exponent": "1e3",
    "plus": "%2B1",
    "space": "%201",
    "empty": "",
    "superscript_two": "%C2%B2",  # str.isdigit() says yes, int() says no
    "arabic_indic_one": "%D9%A1",
    "nul": "%00",
    "too_long_for_a_seq": "1" * 19,
    "five_thousand_digits": "9" * 5000,  # past Python's int-from-text limit
}


@pytest.mark.parametrize("kind", sorted(BAD))
async def test_bad_after_seq_closes_with_policy_and_a_reason(gw: Served, kind: str) -> None:
    got = await follow(gw.ws(uuid.uuid4(), token=token_for(uuid.uuid4()), after_seq=BAD[kind]))
    assert got.code == CLOSE_POLICY, (kind, got)
    assert "after_seq" in got.reason
    assert got.events == []


async def test_a_good_after_seq_passes_the_check(gw: Served) -> None:
    # The run is unknown and the executor unreachable in these tests: the check after the parameters answers.
    got = await follow(gw.ws(uuid.uuid4(), token=token_for(uuid.uuid4()), after_seq="0"))
    assert got.code == CLOSE_TOO_SLOW
    assert "after_seq" not in got.reason
