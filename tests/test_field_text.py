"""Label/value panels wrap a long value under itself at 60 columns, not under its label."""

from __future__ import annotations

from textual.content import Content

from ht_dash.tui.widgets.field_text import hang
from ui_harness import wait_until


def test_a_long_value_continues_under_the_value_and_sentences_wrap_as_before():
    text = Content.from_markup(
        "[dim]Stored in[/]     built-in demo backend (your keyring is not used)\n"
        "⚠ Stored in plain text: anyone who can read that file can use your account."
    )
    lines = hang(text, 50).plain.splitlines()
    assert lines[:2] == [
        "Stored in     built-in demo backend (your keyring",
        "              is not used)",
    ]
    assert lines[2].startswith("⚠ Stored in plain text")  # no label: the widget wraps it
    assert hang(text, 200).plain == text.plain  # fits: unchanged


def rows(app, widget_id: str) -> list[str]:
    widget = app.screen.query_one(f"#{widget_id}")
    return [strip.text.rstrip() for strip in widget.render_lines(widget.region.reset_offset)]


async def test_screens_1_and_5_at_60_columns_keep_their_values_in_one_column(demo_app):
    app = demo_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await wait_until(pilot, lambda: "Stored in" in "\n".join(rows(app, "token-details")))
        token = rows(app, "token-details")
        stored = next(i for i, line in enumerate(token) if line.startswith("Stored in"))
        assert token[stored + 1].startswith(" " * 14) and token[stored + 1].strip()
        await pilot.press("5")
        await wait_until(pilot, lambda: app.feeds.state("billing").data is not None)
        invoice = rows(app, "invoice-text")
        plan = next(i for i, line in enumerate(invoice) if line.startswith("Plan"))
        assert invoice[plan + 1].startswith(" " * 14), invoice  # was 'req/min)' under 'Plan'
