"""News: the providers a paper account has by default. Their articles and headlines are
not served (wire/unserved.py): a request for them is refused on its own id."""

from __future__ import annotations

from ibterm.sim.requests.desk import Desk, serves
from ibterm.sim.wire.news import NEWS_PROVIDERS, REQ_NEWS_PROVIDERS

# The free providers IB lists for an account without news subscriptions.
PROVIDERS = [("BRFG", "Briefing.com General Market Columns"),
             ("BRFUPDN", "Briefing.com Analyst Actions"),
             ("DJNL", "Dow Jones Newsletters")]


class NewsDesk(Desk):
    @serves(REQ_NEWS_PROVIDERS)
    def _req_news_providers(self, fields: list[str]) -> None:
        self.send(self.layout(NEWS_PROVIDERS)(PROVIDERS))
