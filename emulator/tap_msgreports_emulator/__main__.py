"""`python -m tap_msgreports.emulator`: the same as the `tap-msgreports-emulator` command."""

from tap_msgreports.emulator.cli import main

raise SystemExit(main())
