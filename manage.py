#!/usr/bin/env python
"""Django's command-line utility for teleport-mattermost-bridge.

The same as `teleport-mattermost manage ...` (bridge/cli.py), from a checkout.
"""

import sys


def main() -> None:
    from bridge.cli import manage

    manage(sys.argv)


if __name__ == "__main__":
    main()
