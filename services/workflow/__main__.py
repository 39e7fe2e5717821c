from services.workflow import cleanup
from shared.cli import main

raise SystemExit(main("workflow", extra={"fs-cleanup": (cleanup.configure, cleanup.run)}))
