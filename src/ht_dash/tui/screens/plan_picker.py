"""Pick the plan your token is on from the public price table (screen 4, when no plan is known).

The choice is the `plan` setting in config.toml, as `ht-dash plan set ID` writes it."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ht_dash.api.models import Plan
from ht_dash.api.plans import PLANS
from ht_dash.insights.format import plan_price


def _terms(plan: Plan) -> str:
    quota = "custom quota" if plan.price_cents is None else f"{plan.quota:,}/{plan.quota_period}"
    rate = f"{plan.rate_limit_per_minute} req/min" if plan.rate_limit_per_minute else "no limit"
    return f"{quota} · {rate}" + (" · streams" if plan.streams_included else "")


def _prompt(plan: Plan) -> Table:
    """One option: name and price in columns, the terms wrapping in their own column."""
    row = Table.grid(padding=(0, 2), expand=True)
    row.add_column(width=10, no_wrap=True)
    row.add_column(width=15, justify="right", no_wrap=True)
    row.add_column(ratio=1)
    row.add_row(Text(plan.name), Text(plan_price(plan)), Text(_terms(plan)))
    return row


class PlanPicker(ModalScreen[Plan | None]):
    DEFAULT_CSS = """
    PlanPicker { align: center middle; background: $background 60%; }
    PlanPicker > Vertical {
        width: 90%; max-width: 84; height: auto; max-height: 90%;
        border: round $primary; border-title-style: bold; background: $surface; padding: 0 1;
    }
    PlanPicker OptionList { height: auto; max-height: 50vh; margin: 1 0 0 0; }
    PlanPicker .dialog-help { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="plan_picker.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Which plan is your token on?"
            yield Static("The API does not say; ht-dash uses it for the quota, limit and invoice.")
            yield OptionList(*(Option(_prompt(p), id=p.id) for p in PLANS))
            yield Static(
                "Enter: save as `plan` in config.toml · Esc: cancel · billing day: "
                "`ht-dash plan set ID --billing-day N`",
                classes="dialog-help",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(next(p for p in PLANS if p.id == event.option.id))
