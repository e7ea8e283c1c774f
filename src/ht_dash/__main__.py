from ht_dash.cli import main

raise SystemExit(main())
