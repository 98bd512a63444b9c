from experiments.harness.cli import main

raise SystemExit(main())
