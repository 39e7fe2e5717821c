"""Operator tools: the dev runner, the preflight check, the legacy data migration."""
