# CrewAI's switches must be in the environment before anything imports it.
from services.executor.runtime import crewai_env  # noqa: F401  (sets the environment on import)
from shared.cli import main

raise SystemExit(main("executor"))
