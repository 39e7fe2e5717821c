from tools.migrate_json.cli import main

raise SystemExit(main())
