"""Every screen at 80x24 and 120x40 (issue 17's acceptance): Help and Quit in the footer, no
horizontal scrollbar on Endpoints, History filling the view. Fixed clock, seed and size."""

from __future__ import annotations

import pytest

from ht_dash.tui.screens import SCREENS
from test_fits import build


async def settle(pilot) -> None:
    for _ in range(6):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.05)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("key", [key for _, key, _, _, _ in SCREENS])
def test_screen_fits(snap_compare, key, size):
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)

    assert snap_compare(build(), terminal_size=size, run_before=run_before)
