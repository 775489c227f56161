from stepqueue.cli import main

raise SystemExit(main())
