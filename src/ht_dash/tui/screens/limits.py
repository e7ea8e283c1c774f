"""Screen 4 · Subscription & rate limits: the plan, the quota and where it is heading, and live
req/min against the limit — the screen to keep open beside a bot while debugging it."""

from __future__ import annotations

from datetime import datetime, timedelta

from rich.markup import escape
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from ht_dash.api.models import LiveUsage, Plan, SecondCounts, StreamUsage, Subscription
from ht_dash.feeds.registry import LIVE, PACING, SUBSCRIPTION
from ht_dash.insights.format import THROTTLED, duration, percent, plan_price, time_of_day, when
from ht_dash.insights.live import gauge_level, live_peak, project_quota, rate_fraction
from ht_dash.insights.pacing import pacing_summary
from ht_dash.meter import DEFAULT_STREAM_URL
from ht_dash.sources.chain import RUN_COMMAND
from ht_dash.tui.keymap import key_for
from ht_dash.tui.screens.base import DashScreen
from ht_dash.tui.widgets.gauge import Gauge
from ht_dash.tui.widgets.instances import InstanceList
from ht_dash.tui.widgets.panel import DataPanel
from ht_dash.tui.widgets.sparkline_panel import RateSparkline, SparklinePanel

STATUS_STYLE = {
    "active": "$text-success",
    "trialing": "$text-accent",
    "past_due": "$text-error",
    "canceled": "$text-error",
}
SPARK_MIN, SPARK_MAX = 2, 50  # rows of the sparkline: it takes the rows the screen has left
HOSTS_SHORT, HOSTS_TALL, TALL_SCREEN_ROWS = 3, 8, 40  # rows of the per-host list
LEVEL_WORDS = {"ok": "", "warn": " · near the limit", "bad": " · at the limit"}


def set_text(static: Static, content: str) -> None:
    """Update only on change: each update lays the screen out again, and this one ticks."""
    if static.content != content:
        static.update(content)


def plan_terms(plan: Plan) -> str:
    per = "day" if plan.quota_period == "day" else "month"
    rate = (
        f"{plan.rate_limit_per_minute:,} req/min"
        if plan.rate_limit_per_minute
        else "no per-minute limit"
    )
    if plan.streams_included:
        limit = plan.stream_connection_limit
        streams = f"live streams ({limit} connections)" if limit else "live streams"
    else:
        streams = "no live streams"
    return f"{plan.quota:,} tokens/{per} · {rate} · {streams}"


def stream_line(s: StreamUsage) -> str:
    if s.not_seen_at is not None:
        return (
            "Live streams: not seen locally — point the bot's stream URL at the meter: "
            f"[b]{escape(s.not_seen_at)}[/]"
        )
    share = s.connections_open / s.connection_limit if s.connection_limit else 0.0
    style = {"ok": "b", "warn": "b $text-warning", "bad": "b $text-error"}[gauge_level(share)]
    limit = f" / {s.connection_limit}" if s.connection_limit else ""
    line = (
        f"Live streams: [{style}]{s.connections_open}{limit}[/] connections · "
        f"[b]{s.messages_per_minute:,}[/] messages/min"
    )
    if s.subscriptions is not None:
        line += f" · [b]{s.subscriptions:,}[/] subscription{'' if s.subscriptions == 1 else 's'}"
    return line


class LimitsScreen(DashScreen):
    """Quota and its projection refresh every 30 s; live req/min every 2 s (+/- to change, p to
    pause). Crossing 80 % or 100 % of the limit or the quota rings once."""

    FEEDS = (SUBSCRIPTION, LIVE, PACING)
    GAUGES = frozenset({"rate", "quota"})
    PANELS = {
        SUBSCRIPTION.name: "plan-panel",
        LIVE.name: "live-panel",
        PACING.name: "pacing-panel",
    }
    BINDINGS = [
        # priority: before the focused tab bar, whose ←/→ would switch screens
        *(
            Binding(key, f"move_cursor({step})", text, key_display=shown, show=False,
                    priority=True, id=f"limits.cursor_{name}")  # fmt: skip
            for key, step, text, shown, name in (
                ("left", -1, "Cursor: earlier moment", "←", "prev"),
                ("right", 1, "Cursor: later moment", "→", "next"),
            )
        ),
        Binding("plus,equals_sign", "faster", "Faster", key_display="+", id="limits.faster"),
        Binding("minus,underscore", "slower", "Slower", key_display="-", id="limits.slower"),
        Binding("P", "pick_plan", "Declare plan", show=False, id="limits.plan"),
    ]
    DEFAULT_CSS = """
    LimitsScreen .limits-line { height: auto; }
    LimitsScreen #live-status { color: $text-muted; }
    LimitsScreen #live-status.-paused { color: $text-accent; text-style: bold; }
    LimitsScreen #quota-projection.-over { color: $text-warning; }
    LimitsScreen #quota-projection.-spent { color: $text-error; text-style: bold; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.cursor_at: datetime | None = None  # the sparkline bucket under the cursor
        self._panels_mounted = False

    def compose_body(self) -> ComposeResult:
        with VerticalScroll():
            with DataPanel(title="Subscription", id="plan-panel"):
                yield Static("", id="plan-line", classes="limits-line")
                yield Static("", id="plan-terms", classes="limits-line")
                yield Gauge("Tokens used", id="quota-gauge")
                yield Static("", id="quota-reset", classes="limits-line")
                yield Static("", id="quota-projection", classes="limits-line")
                yield Static("", id="plan-origin", classes="limits-line")
            with DataPanel(title="Live throughput", id="live-panel"):
                yield Gauge("Requests/min", id="rate-gauge")
                yield InstanceList(id="live-instances")
                yield Static("", id="live-rate-note", classes="limits-line")
                yield Static("", id="live-no-traffic", classes="limits-line")
                yield SparklinePanel(id="rate-spark")
                yield Static("", id="live-cursor", classes="limits-line")
                yield Static("", id="live-throttled", classes="limits-line")
                yield Static("", id="live-streams", classes="limits-line")
                yield Static("", id="live-status", classes="limits-line")
            with DataPanel(title="Pacing (last 15 min, per second)", id="pacing-panel"):
                yield Static("", id="pacing-advice", classes="limits-line")

    # ---- rendering ---------------------------------------------------------------------------

    def render_data(self, kind: str, data: object) -> None:
        if kind == SUBSCRIPTION.name and isinstance(data, Subscription):
            self._render_subscription(data)
            live = self.app.feeds.state(LIVE).data
            if isinstance(live, LiveUsage):
                self._render_live(live)  # the Free plan's gauge shows the daily quota
        elif kind == PACING.name and isinstance(data, SecondCounts):
            advice = pacing_summary(data, with_peak=False)  # the sparkline states the peak
            set_text(self.query_one("#pacing-advice", Static), escape(advice))
        elif kind == LIVE.name and isinstance(data, LiveUsage):
            self._render_live(data)

    def _render_subscription(self, sub: Subscription) -> None:
        now = self.app.clock.now()
        plan = sub.plan
        status_style = STATUS_STYLE.get(sub.status, "$text-warning")
        self.query_one("#plan-line", Static).update(
            f"[b]{escape(plan.name)}[/] · {plan_price(plan)} · "
            f"[{status_style}]{escape(sub.status.replace('_', ' '))}[/]"
        )
        self.query_one("#plan-terms", Static).update(escape(plan_terms(plan)))
        projection = project_quota(sub, now)
        level = gauge_level(projection.fraction)
        origin = self.app.feeds.origin_of(self.app.feeds.state(SUBSCRIPTION))
        if origin is not None and origin.kind == "plan":  # the plan is known, its usage is not
            self.query_one("#quota-gauge", Gauge).show(
                0.0, "not seen locally", "none", label="Tokens used"
            )
        else:
            self.query_one("#quota-gauge", Gauge).show(
                projection.fraction,
                f"{sub.tokens_used:,} / {plan.quota:,} · {percent(projection.fraction)}",
                level,
                label="Tokens today" if plan.quota_period == "day" else "Tokens used",
            )
        self.query_one("#quota-reset", Static).update(
            f"Resets in [b]{duration(projection.resets_in)}[/] "
            f"[dim]({when(sub.resets_at)})[/]"
        )
        line = self.query_one("#quota-projection", Static)
        if origin is not None and origin.kind == "plan":
            line.update("Pace unknown: this period's usage is not seen locally")
        else:
            line.update(escape(projection.sentence[0].upper() + projection.sentence[1:]))
        line.set_class(projection.runs_out_at is not None, "-over")
        line.set_class(projection.spent, "-spent")
        where = self.query_one("#plan-origin", Static)
        where.display = origin is not None and origin.kind != "api"
        if origin is not None and origin.kind != "api":
            set_text(
                where,
                f"[dim]{escape(origin.label[0].upper() + origin.label[1:])}"
                + (f"; {escape(origin.note)}" if origin.note else "")
                + f" · {self._key('limits.plan')} changes the plan[/]",
            )

    def _render_live(self, live: LiveUsage) -> None:
        gauge = self.query_one("#rate-gauge", Gauge)
        fraction = rate_fraction(live)
        sub = self.app.feeds.state(SUBSCRIPTION).data
        if fraction is not None:
            level = gauge_level(fraction)
            gauge.show(
                fraction,
                f"{live.requests_per_minute:,} / {live.limit_per_minute:,} · {percent(fraction, 0)}"
                + LEVEL_WORDS[level],
                level,
                label="Requests/min",
            )
        elif isinstance(sub, Subscription) and sub.plan.quota:
            # no per-minute limit: a gauge against nothing means nothing — the quota does
            used = sub.quota_fraction
            gauge.show(
                used,
                f"{sub.tokens_used:,} / {sub.plan.quota:,} · {percent(used)}",
                gauge_level(used),
                label="Daily quota" if sub.plan.quota_period == "day" else "Quota",
            )
        else:
            gauge.show(0.0, "waiting for the plan…", "none", label="Quota")
        note = self.query_one("#live-rate-note", Static)
        note.display = fraction is None
        if fraction is None:
            plan = f"the {sub.plan.name} plan" if isinstance(sub, Subscription) else "this plan"
            set_text(
                note,
                f"Now [b]{live.requests_per_minute:,}[/] req/min — {escape(plan)} has no "
                "per-minute limit, only its quota",
            )
        rates = live.per_minute_series()
        peak = live_peak(live)
        window = round(len(live.series) * live.interval_seconds / 60)
        peak_text = f"peak {peak.per_minute:,.0f}/min"
        if peak.at is not None:
            peak_text += f" at {time_of_day(peak.at)}"
        if live.limit_per_minute:
            peak_text += f" · limit {live.limit_per_minute:,}"
        cursor = self._cursor_index(live)
        self.query_one("#rate-spark", SparklinePanel).show(
            rates, live.limit_per_minute, f"-{window} min", peak_text, cursor
        )
        self._render_cursor(live, cursor)
        self.query_one(InstanceList).show(live.instances, live.limit_per_minute, window)
        throttled = live.throttled_in_window
        set_text(
            self.query_one("#live-throttled", Static),
            f"{THROTTLED} in the last {window} min: "
            + (f"[b $text-error]{throttled:,}[/]" if throttled else "[b]0[/]"),
        )
        origin = self.app.feeds.origin_of(self.app.feeds.state(LIVE))
        local = origin is not None and origin.kind == "meter"
        quiet = self.query_one("#live-no-traffic", Static)
        quiet.display = local and not any(b.requests for b in live.series)
        if quiet.display:
            set_text(
                quiet,
                "No traffic through the local meter in this window. Route your bot through it: "
                f"[b]{escape(RUN_COMMAND)}[/] (or `ht-dash meter` and point the bot at "
                "http://127.0.0.1:8787/api/external)",
            )
        streams = self.query_one("#live-streams", Static)
        stream_plan = isinstance(sub, Subscription) and sub.plan.streams_included
        streams.display = live.streams is not None or (local and stream_plan)
        if live.streams is None and local and stream_plan:  # the meter reads another plan
            set_text(streams, stream_line(StreamUsage(0, 0, 0, not_seen_at=DEFAULT_STREAM_URL)))
        if live.streams is not None:
            set_text(streams, stream_line(live.streams))
        self._render_status()
        self.call_after_refresh(self._fit_spark)  # lines come and go with the data

    # ---- cursor over the sparkline -------------------------------------------------------------

    def _cursor_index(self, live: LiveUsage) -> int | None:
        """The bucket under the cursor; it stays on its instant while the series moves on."""
        if self.cursor_at is None:
            return None
        found = next((i for i, b in enumerate(live.series) if b.at == self.cursor_at), None)
        if found is None:  # scrolled out of the window
            self.cursor_at = None
        return found

    def _render_cursor(self, live: LiveUsage, index: int | None) -> None:
        line = self.query_one("#live-cursor", Static)
        if index is None:
            set_text(line, "[dim]←/→ or a click: one moment's req/min and 429s[/]")
            return
        bucket = live.series[index]
        end = bucket.at + timedelta(seconds=live.interval_seconds)
        rate = bucket.requests * 60 / live.interval_seconds if live.interval_seconds else 0
        limit = live.limit_per_minute
        over = f" [b $text-error]over the {limit}/min limit[/]" if limit and rate > limit else ""
        refused = f"[b $text-error]{bucket.throttled:,}[/]" if bucket.throttled else "0"
        set_text(
            line,
            f"[b]{bucket.at:%H:%M:%S}–{time_of_day(end, seconds=True)}[/]  "
            f"{rate:,.0f} req/min{over} · {refused} {THROTTLED}",
        )

    def _set_cursor(self, index: int) -> None:
        live = self.app.feeds.state(LIVE).data
        if not isinstance(live, LiveUsage) or not live.series:
            return
        index = max(0, min(index, len(live.series) - 1))
        self.cursor_at = live.series[index].at
        self._render_live(live)

    def action_move_cursor(self, step: int) -> None:
        live = self.app.feeds.state(LIVE).data
        if not isinstance(live, LiveUsage) or not live.series:
            return
        current = self._cursor_index(live)
        self._set_cursor(len(live.series) - 1 if current is None else current + step)

    def on_rate_sparkline_clicked(self, event: RateSparkline.Clicked) -> None:
        self._set_cursor(event.index)

    def _render_status(self) -> None:
        found = self.query("#live-status").results(Static)
        if (status := next(found, None)) is None:  # the 1 s tick came before compose finished
            return
        paused = self.app.feeds.paused
        status.set_class(paused, "-paused")
        pause, refresh = (self._key(b) for b in ("resume" if paused else "pause", "refresh"))
        if paused:
            set_text(status, f"⏸ Live polling paused — {pause} resumes")
        elif not self.app.live:
            set_text(status, f"Manual refresh: {refresh} fetches again")
        else:
            faster, slower = self._key("limits.faster"), self._key("limits.slower")
            set_text(
                status,
                f"Refreshing every {self.app.feeds.live_interval:g} s · "
                f"{faster}/{slower} change · {pause} pause",
            )

    def _key(self, binding_id: str) -> str:
        """The key the user presses for `binding_id` (config.toml's [keys] may remap it)."""
        return escape(key_for(self.app._keymap, [*self.BINDINGS, *self.app.BINDINGS], binding_id))

    def on_resize(self, event: events.Resize) -> None:
        self._fit_height(event.size.height)

    def _fit_height(self, rows: int) -> None:
        if not self.query("#rate-spark"):  # resized before the panels mounted: once they are
            self.call_after_refresh(self._fit_height, rows)
            return
        tall = rows >= TALL_SCREEN_ROWS
        self.query_one(InstanceList).set_max_rows(HOSTS_TALL if tall else HOSTS_SHORT)
        self.call_after_refresh(self._fit_spark)

    def _fit_spark(self, tries: int = 5) -> None:
        """The sparkline takes the rows the panels leave free (finer steps, same 15 minutes):
        no blank rows under a 2-row chart at 80x24, no 6-row chart on a 60-row screen."""
        scroll = self.query_one(VerticalScroll)
        spark = self.query_one("#rate-spark", SparklinePanel).spark
        if not scroll.size.height or not spark.size.height:
            if tries and self.is_current:  # not laid out yet: after the next refresh
                self.call_after_refresh(self._fit_spark, tries - 1)
            return
        bottom = max((child.region.bottom for child in scroll.children), default=0)
        used = bottom - scroll.content_region.y + round(scroll.scroll_y)
        leftover = scroll.content_region.height - used
        wanted = max(SPARK_MIN, min(SPARK_MAX, spark.size.height + leftover))
        if wanted != spark.size.height:
            spark.styles.height = wanted

    def tick(self) -> None:
        if not self._panels_mounted:  # a DOM query: once, not every second
            if not self.query("#live-status"):
                return  # shown before its panels finished mounting (a slow machine): nothing to age
            self._panels_mounted = True
        super().tick()
        self._render_status()

    # ---- actions -----------------------------------------------------------------------------

    def action_pick_plan(self) -> None:
        """Declare the plan (where the API does not say which): the public price table."""
        from ht_dash.tui.screens.plan_picker import PlanPicker

        self.app.push_screen(PlanPicker(), self._plan_picked)

    def _plan_picked(self, plan: Plan | None) -> None:
        if plan is None:
            return
        from ht_dash.api.errors import ConfigError
        from ht_dash.sources.plan import declare_plan

        try:
            declare_plan(plan.id)
        except (ConfigError, OSError) as exc:
            self.notify(f"Could not save the plan: {exc}", severity="error")
            return
        if (use_plan := getattr(self.app.feeds.source, "use_plan", None)) is not None:
            use_plan(plan)
        self.notify(f"Plan set to {plan.name} (saved in config.toml).", title="Plan")
        self.app.feeds.refresh([SUBSCRIPTION, LIVE])

    def action_faster(self) -> None:
        self.app.feeds.step_live_interval(-1)  # the status line says it: no toast
        self._render_status()

    def action_slower(self) -> None:
        self.app.feeds.step_live_interval(+1)
        self._render_status()
