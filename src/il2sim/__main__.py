"""``python -m il2sim``: the command line."""

from .cli import main

raise SystemExit(main())
