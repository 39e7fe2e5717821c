"""Building blocks shared by every EchoAI service: settings, database, auth, messaging, cache, errors."""
