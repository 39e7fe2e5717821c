"""The gateway: identity, the reverse proxy, health, and the live fan-out of step events."""
