"""python manage.py version"""

import platform

from django.core.management.base import BaseCommand

from bridge.version_info import VERSION


class Command(BaseCommand):
    help = "Print the version."

    def handle(self, *args, **opts) -> None:
        self.stdout.write(
            f"teleport-mattermost-bridge v{VERSION} python{platform.python_version()}"
        )
