"""What one run of ht-dash works with: settings, clock, where data comes from (demo or real API).

Shared by the app and the CLI subcommands; never imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ht_dash.api.client import AccountClient
from ht_dash.api.secret import Secret
from ht_dash.api.source import AccountSource
from ht_dash.clock import Clock, SystemClock
from ht_dash.config import Settings

if TYPE_CHECKING:
    from ht_dash.demo import DemoBackend
    from ht_dash.meter.source import MeterSource


@dataclass
class Runtime:
    settings: Settings
    demo: bool = False
    clock: Clock = field(default_factory=SystemClock)
    debug: bool = False
    demo_seed: int | None = None
    _backend: DemoBackend | None = field(default=None, repr=False)

    @classmethod
    def on_backend(
        cls, backend: DemoBackend, *, settings: Settings | None = None, demo: bool = True
    ) -> Runtime:
        """A run whose demo backend is the one given (tests, benchmarks): same clock and seed."""
        runtime = cls(
            settings=settings or Settings(), demo=demo, clock=backend.clock, demo_seed=backend.seed
        )
        runtime._backend = backend
        return runtime

    @property
    def demo_backend(self) -> DemoBackend:
        if self._backend is None:
            from ht_dash.demo import DemoBackend

            self._backend = DemoBackend(seed=self.demo_seed, clock=self.clock)
        return self._backend

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    def make_source(self, token: Secret | None) -> AccountSource:
        """The data source the settings ask for: `auto` (the chain API → local meter → declared
        plan), the account API alone (or demo), or the local meter alone."""
        if self.settings.source == "meter":
            return self.make_meter()
        if self.settings.source == "api" or self.demo:
            return self.make_client(token)
        from ht_dash.sources.chain import ChainSource
        from ht_dash.sources.plan import declared_plan

        return ChainSource(
            self.make_client(token),
            token,
            plan=declared_plan(self.settings),
            billing_day=self.settings.billing_day,
            meter=self.make_meter,
            clock=self.clock,
        )

    def make_meter(self) -> MeterSource:
        """The local meter's database, read with the declared plan (if any)."""
        from ht_dash.meter.source import MeterSource

        return MeterSource.open_default(
            clock=self.clock,
            plan_id=self.settings.plan or None,
            store=self.settings.meter_store or None,
        )

    def make_client(self, token: Secret | None) -> AccountClient:
        """One AccountClient; in demo mode it reaches the embedded backend through its transport."""
        transport = self.demo_backend.transport() if self.demo else None
        return AccountClient(
            self.base_url,
            token,
            transport=transport,
            deadline=self.settings.request_deadline,
            clock=self.clock,
        )
