"""Test support: real servers, fresh databases, in-process apps and the four services as processes."""
