"""The executor's pure logic: no CrewAI, no I/O, so the API can validate a definition without importing CrewAI."""
