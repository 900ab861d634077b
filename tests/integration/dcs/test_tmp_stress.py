import pytest
from .test_contract import (
    test_a_dcs_that_stops_answering_raises_unreachable_within_retry_timeout as t,
)
from .conftest import Harness


@pytest.mark.parametrize("i", range(15))
def test_stress(i: int, backend_factory: Harness) -> None:
    t(backend_factory)
