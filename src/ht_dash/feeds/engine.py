"""The feed engine: the app's one road to its data source.

It builds the scheduler's feeds from the registry (`feeds.registry`), keeps each feed's
parameters (`set_param(USAGE, timeframe="7d")` fetches again at once), attaches the offline
copies, and is the gate for every other request the app makes (a history page, the usage pace,
a regeneration): `request()` refuses while polling is stopped by a 401 or held by a 429, and what
such a request meets (401, 429) stops or holds the polling as a poll's would.

Polling runs live (the scheduler's loops, in a worker the app starts with `run()`) or manually
(`live=False`: each screen's feeds are fetched once when shown, and on `r`); manual polls run
through `spawn`, the app's way to run a coroutine in the background.

No Textual here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from ht_dash.api.errors import HtError
from ht_dash.config import LIVE_INTERVAL_RANGE
from ht_dash.feeds.offline import OfflineCopies
from ht_dash.feeds.registry import (
    FEEDS,
    LIVE,
    SLOW_INTERVAL_S,
    SUBSCRIPTION,
    FeedSpec,
    Params,
)
from ht_dash.feeds.scheduler import FeedState, Scheduler, UpdateCallback

if TYPE_CHECKING:
    from ht_dash.api.errors import AuthError
    from ht_dash.api.models import Profile, RegeneratedToken, TokenInfo
    from ht_dash.api.secret import Secret
    from ht_dash.api.source import AccountSource
    from ht_dash.runtime import Runtime
    from ht_dash.sources.chain import Origin

T = TypeVar("T")
LIVE_STEPS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0)


class FeedEngine:
    def __init__(
        self,
        runtime: Runtime,
        source: AccountSource,
        *,
        live: bool,
        on_update: UpdateCallback,
        on_auth_failed: Callable[[AuthError], None],
        on_save_failed: Callable[[str], None],
        spawn: Callable[[Awaitable[None]], object],
    ) -> None:
        self.source = source
        self.live = live
        self.spawn = spawn
        self.params: dict[str, dict[str, Any]] = {spec.name: dict(spec.params) for spec in FEEDS}
        self.scheduler = Scheduler(runtime.clock, on_update, on_auth_failed=on_auth_failed)
        for spec in FEEDS:
            interval = runtime.settings.live_interval if spec is LIVE else spec.interval
            fetch = partial(self._fetch, spec)
            self.scheduler.add(spec.name, fetch, interval, pausable=spec.pausable)
        # last good answers on disk: saved on success, shown as "offline copy" until the first poll
        self.offline = OfflineCopies.for_runtime(runtime, on_save_failed=on_save_failed)
        self.offline.attach(self.scheduler, self.params_of)
        self.gated = GatedSource(self)
        self._shown: set[str] = set()

    def _fetch(self, spec: FeedSpec) -> Awaitable[Any]:
        return spec.fetch(self.source, self.params[spec.name])

    async def run(self) -> None:
        await self.scheduler.run()

    def stop(self) -> None:
        self.scheduler.stop()

    # ---- state and parameters ----------------------------------------------------------------

    def state(self, feed: FeedSpec | str) -> FeedState:
        return self.scheduler.state(feed if isinstance(feed, str) else feed.name)

    def params_of(self, spec: FeedSpec) -> Params:
        return self.params[spec.name]

    def param(self, spec: FeedSpec, name: str) -> Any:
        return self.params[spec.name][name]

    def set_param(self, spec: FeedSpec, *, fetch_now: bool = True, **values: Any) -> None:
        """Change a feed's parameters; a change fetches it again at once, unless `fetch_now` is
        False (a cursor that moves on with the data: the next poll comes at its interval)."""
        params = self.params[spec.name]
        if unknown := values.keys() - params.keys():
            raise KeyError(f"{spec.name} has no parameter {', '.join(sorted(unknown))}")
        if all(params[key] == value for key, value in values.items()):
            return
        params.update(values)
        if fetch_now:
            self.refresh([spec])

    # ---- what is polled ----------------------------------------------------------------------

    def show(self, specs: Iterable[FeedSpec]) -> None:
        """A screen with these feeds is on view: poll them (only them, when live)."""
        names = self._shown = {spec.name for spec in specs}
        # The subscription moves fast only beside live figures; elsewhere (billing) it is slow data.
        every = SUBSCRIPTION.interval if LIVE.name in names else SLOW_INTERVAL_S
        if self.scheduler.feeds[SUBSCRIPTION.name].interval != every:
            self.scheduler.set_interval(SUBSCRIPTION.name, every)
        if self.live:
            self.scheduler.set_active(names)
        else:
            self.spawn(self._poll_once(names))

    def origin_of(self, state: FeedState) -> Origin | None:
        """Where a feed's data came from, when the source is a chain (`--source auto`)."""
        origin_of = getattr(self.source, "origin_of", None)
        return None if origin_of is None or state.data is None else origin_of(state.data)

    def refresh(self, specs: Iterable[FeedSpec] | None = None) -> None:
        """Poll now: these feeds, or those on view (`r`, which also asks again what the API
        did not offer). A 429 hold is respected."""
        names = None if specs is None else {spec.name for spec in specs}
        if specs is None and (reprobe := getattr(self.source, "reprobe", None)) is not None:
            reprobe()
        if self.live:
            self.scheduler.refresh(names)
        else:
            self.spawn(self._poll_all(self._shown if names is None else names))

    async def _poll_once(self, names: set[str]) -> None:
        for name in sorted(names):
            feed = self.scheduler.feeds[name]
            if feed.in_flight:  # the screen was shown again while it loads: that answer will do
                continue
            state = feed.state
            if (state.data is None and not state.not_offered) or state.from_cache:
                await self.scheduler.poll(name)

    async def _poll_all(self, names: set[str]) -> None:
        for name in sorted(names):
            await self.scheduler.poll(name)

    @property
    def paused(self) -> bool:
        return self.scheduler.paused

    def set_paused(self, paused: bool) -> None:
        self.scheduler.set_paused(paused)

    @property
    def live_interval(self) -> float:
        return self.scheduler.feeds[LIVE.name].interval

    def set_live_interval(self, seconds: float) -> float:
        low, high = LIVE_INTERVAL_RANGE
        self.scheduler.set_interval(LIVE.name, min(high, max(low, seconds)))
        return self.live_interval

    def step_live_interval(self, step: int) -> float:
        """One step along `LIVE_STEPS`: -1 faster, +1 slower; the new interval."""
        now = self.live_interval
        if step < 0:
            faster = [s for s in LIVE_STEPS if s < now]
            return self.set_live_interval(faster[-1] if faster else LIVE_STEPS[0])
        slower = [s for s in LIVE_STEPS if s > now]
        return self.set_live_interval(slower[0] if slower else LIVE_STEPS[-1])

    def planned_requests_per_minute(self, specs: Iterable[FeedSpec]) -> dict[str, float]:
        return self.scheduler.planned_requests_per_minute(spec.name for spec in specs)

    # ---- the gate ----------------------------------------------------------------------------

    async def request(self, call: Callable[[AccountSource], Awaitable[T]]) -> T:
        """One request outside the polling (a history page, the usage pace, a regeneration).

        Refused (the error raised, nothing sent) while a 401 stops polling or a 429 holds it;
        a 401 or 429 it meets stops or holds the polling, as a poll's would."""
        self.scheduler.admit()
        try:
            return await call(self.source)
        except HtError as exc:
            self.scheduler.observe(exc)
            raise

    async def fetch(self, spec: FeedSpec, **params: Any) -> Any:
        """One answer of a feed that is asked when a view opens, not polled (an endpoint's daily
        series): its fetch with these parameters over its defaults, through the gate."""
        if unknown := params.keys() - spec.params.keys():
            raise KeyError(f"{spec.name} has no parameter {', '.join(sorted(unknown))}")
        values = {**spec.params, **params}
        return await self.request(lambda source: spec.fetch(source, values))

    def use_token(self, token: Secret | None) -> None:
        """The accepted token (login, regenerate; None: logout) goes to the source, polling
        resumes."""
        self.source.set_token(token)
        if token is None:  # logged out: the account's data must not outlive its token on disk
            self.offline.clear()
            return
        self.scheduler.reauthorized()
        if not self.live:  # manual mode: fetch again what was already fetched
            states = [feed.state for feed in self.scheduler.feeds.values()]
            fetched = {s.kind for s in states if s.data is not None or s.error is not None}
            self.spawn(self._poll_all(fetched))

    async def aclose(self) -> None:
        await self.source.aclose()


class GatedSource:
    """The source as the token flows (`ht_dash.auth.flows.regenerate`) see it: through the gate."""

    def __init__(self, engine: FeedEngine) -> None:
        self._engine = engine

    def set_token(self, token: Secret | None) -> None:
        """The regenerated token replaces the old one: a 401 the old one met no longer stops
        the check of the new one (the app's `use_token` then resumes polling)."""
        self._engine.source.set_token(token)
        if token is not None:
            self._engine.scheduler.auth_failed = None

    async def profile(self) -> Profile:
        return await self._engine.request(lambda source: source.profile())

    async def token_info(self) -> TokenInfo:
        return await self._engine.request(lambda source: source.token_info())

    async def regenerate_token(self) -> RegeneratedToken:
        return await self._engine.request(lambda source: source.regenerate_token())
