"""`python -m tap_msgreports_emulator`: the same as the `tap-msgreports-emulator` command."""

from tap_msgreports_emulator.cli import main

raise SystemExit(main())
