"""Running workflows: the broker consumers, the step scheduler, and the CrewAI side (imported lazily).

Importing anything from this package first sets CrewAI's switches (telemetry, tracing and version checks off,
storage under var/), so no module here can import CrewAI before they are in the environment.
"""

from services.executor.runtime import crewai_env as crewai_env
