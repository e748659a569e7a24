"""News: reqNewsProviders (85) and its answer newsProviders (85), which the client waits
for by name ("newsProviders"), so it is always answered."""

from __future__ import annotations

from ibterm.sim.protocol import encode
from ibterm.sim.wire.fields import nothing
from ibterm.sim.wire.layouts import Incoming, Layouts

REQ_NEWS_PROVIDERS = Incoming(85, "reqNewsProviders", {176: nothing})


def news_providers(providers: list[tuple[str, str]]) -> bytes:
    return encode(85, len(providers), *(f for pair in providers for f in pair))


NEWS_PROVIDERS = Layouts("newsProviders", {176: news_providers})
