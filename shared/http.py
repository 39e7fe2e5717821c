"""HTTP between the services: one pooled aiohttp session per process, made in lifespan and closed there.

aiohttp rather than httpx (the gateway's proxy and its own calls, the executor's calls during a send): for every
request, httpx's pool asks each pooled connection whether its socket turned readable (a select() per connection,
through anyio), which cost the gateway 2.5 ms of CPU per proxied append against 1.0 ms with aiohttp; and importing
httpx also imports its command line's libraries (click, rich, pygments), about 5 MB of a service's memory.
aiohttp learns that a server closed a connection from the event loop, and when a pooled connection turns out
dead it sends an idempotent request (GET, HEAD, PUT, DELETE, OPTIONS) once more on a new one (RFC 9112 §9.3.1);
anything else fails rather than risk running twice.
"""

from __future__ import annotations

import aiohttp

# What asking another service can fail with: no connection, a reset or malformed answer (aiohttp's errors), or no
# answer in time.
FAILURES: tuple[type[Exception], ...] = (aiohttp.ClientError, TimeoutError)

# Well under the services' own keep-alive (30 s, `shared.cli`), so a pooled connection is never reused just as the
# server closes it.
KEEPALIVE_SECONDS = 5.0


def make_session(
    *, timeout: aiohttp.ClientTimeout, limit: int, skip_headers: tuple[str, ...] = ()
) -> aiohttp.ClientSession:
    """Must be called with the event loop running (in a lifespan). `skip_headers`: more headers aiohttp must not
    add of its own."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, keepalive_timeout=KEEPALIVE_SECONDS),
        timeout=timeout,
        # One session serves every user: a cookie some answer sets must never ride on another user's request.
        cookie_jar=aiohttp.DummyCookieJar(),
        # Only what the caller sends: no User-Agent, Accept or Accept-Encoding of aiohttp's own.
        skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", *skip_headers),
        # Bodies pass as they came; nobody here asks for a compressed one.
        auto_decompress=False,
        raise_for_status=False,
    )
