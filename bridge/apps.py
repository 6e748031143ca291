from django.apps import AppConfig


class BridgeConfig(AppConfig):
    """The project itself: no models, only the process commands (runwatcher, demo, ...)."""

    name = "bridge"
    verbose_name = "Bridge"
