"""Trading settings come from QF_ variables; a wrong mode is refused, lists are read as words."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from quantumflux.risk.rules import RiskLimits
from quantumflux.trader.config import TraderSettings


def test_trading_is_off_by_default_with_no_notification(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QF_TRADE", "QF_NOTIFY", "QF_TRADE_ASSETS"):
        monkeypatch.delenv(name, raising=False)
    settings = TraderSettings()
    assert settings.trade == "off"
    assert settings.notify == ()
    assert settings.trade_screenshots is False
    assert settings.limits().assets == frozenset()


def test_environment_sets_mode_limits_assets_and_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QF_TRADE", "demo")
    monkeypatch.setenv("QF_TRADE_ASSETS", "EURUSD_otc, GBPUSD_otc")
    monkeypatch.setenv("QF_NOTIFY", "tgram://bot/chat mailto://u:p@example.com?to=a,b")
    monkeypatch.setenv("QF_TRADE_MAX_LOSSES", "4")
    settings = TraderSettings()
    assert settings.trade == "demo"
    assert settings.notify == ("tgram://bot/chat", "mailto://u:p@example.com?to=a,b")
    limits = settings.limits()
    assert isinstance(limits, RiskLimits)
    assert limits.assets == frozenset({"EURUSD_otc", "GBPUSD_otc"})
    assert limits.max_losses == 4


def test_a_json_list_of_urls_is_taken_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QF_NOTIFY", '["json://a", "json://b"]')
    assert TraderSettings().notify == ("json://a", "json://b")


@pytest.mark.parametrize(("name", "value"), [("QF_TRADE", "live"), ("QF_TRADE_FRACTION", "1.5")])
def test_a_wrong_value_is_an_error(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        TraderSettings()


def test_settings_are_frozen() -> None:
    settings = TraderSettings(trade="demo")
    with pytest.raises(ValidationError):
        settings.trade = "real"
