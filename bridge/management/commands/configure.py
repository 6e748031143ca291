"""python manage.py configure > teleport-mattermost.toml (like `teleport-mattermost configure`)."""

from django.core.management.base import BaseCommand

from teleportbridge.config import SAMPLE_CONFIG


class Command(BaseCommand):
    help = "Print a commented sample configuration file."

    def handle(self, *args, **opts) -> None:
        self.stdout.write(SAMPLE_CONFIG, ending="")
