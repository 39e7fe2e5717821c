"""The executor: runs workflows with CrewAI, records executions and checkpoints, publishes step events."""
