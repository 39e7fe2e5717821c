"""A service's Prometheus metrics, scraped over HTTP and parsed with prometheus_client's own parser."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.platform import Platform


@dataclass
class Scrape:
    text: str
    samples: list[tuple[str, dict[str, str], float]]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples called `name` whose labels include `labels` (0 when there is none)."""
        return sum(v for n, ls, v in self.samples if n == name and labels.items() <= ls.items())

    def has(self, name: str) -> bool:
        return f"# TYPE {name} " in self.text


def scrape(platform: Platform, service: str) -> Scrape:
    r = httpx.get(f"{platform.service_url(service)}/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    samples = [(s.name, dict(s.labels), s.value) for f in text_string_to_metric_families(r.text) for s in f.samples]
    return Scrape(r.text, samples)
