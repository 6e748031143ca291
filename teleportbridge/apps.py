from django.apps import AppConfig


class TeleportBridgeConfig(AppConfig):
    name = "teleportbridge"
    verbose_name = "Teleport"
    default_auto_field = "django.db.models.BigAutoField"
