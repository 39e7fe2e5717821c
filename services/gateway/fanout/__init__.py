"""Live step events: consumed from the broker by every gateway replica and fanned out to WebSocket clients."""
