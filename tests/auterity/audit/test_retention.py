"""A tenant's audit retention setting: days, 0 keeps everything, anything else is refused."""

from __future__ import annotations

import pytest

from auterity.audit import DEFAULT_RETENTION_DAYS, RETENTION_SETTING, retention_days
from auterity.models.tenancy import Tenant


def _tenant(**settings: object) -> Tenant:
    return Tenant(slug="acme", name="Acme", verified_domains=[], settings=settings)


def test_days_default_and_keep_everything() -> None:
    assert retention_days(_tenant()) == DEFAULT_RETENTION_DAYS
    assert retention_days(_tenant(**{RETENTION_SETTING: 30})) == 30
    assert retention_days(_tenant(**{RETENTION_SETTING: 0})) is None


@pytest.mark.parametrize("value", ["30", 1.5, -1, True, None])
def test_malformed_values_name_the_setting(value: object) -> None:
    with pytest.raises(ValueError, match=RETENTION_SETTING):
        retention_days(_tenant(**{RETENTION_SETTING: value}))
