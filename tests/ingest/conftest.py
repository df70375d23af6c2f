"""Fixtures shared by the ingest tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.ingest.chrome import Chromium


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """One headless Chromium per test module, started with the service's own flags."""
    browser = Chromium(user_data_dir=tmp_path_factory.mktemp("profile"))
    try:
        yield browser.start()
    finally:
        browser.close()
