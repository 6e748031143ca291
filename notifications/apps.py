from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Mattermost notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from notifications import runtime

        # Sent inside each django-q2 worker as it starts (runwatcher's or qcluster's).
        post_spawn.connect(runtime.prewarm_worker, dispatch_uid="notifications.prewarm")
