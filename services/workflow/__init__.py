"""The workflow service: workflows, immutable versions, agents and tools."""
