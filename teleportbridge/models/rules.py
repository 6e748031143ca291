"""Access monitoring rules mirrored from Teleport (they route notifications)."""

from __future__ import annotations

from django.db import models


class AccessMonitoringRule(models.Model):
    """A Teleport access monitoring rule; kept in sync by the watcher's PUT/DELETE events.

    Stored (rather than only cached in memory, as the Go plugin does) so the workers, which
    run in other processes, route with the same rules the watcher saw.
    """

    name = models.CharField(primary_key=True, max_length=255)
    subjects = models.JSONField(default=list)
    states = models.JSONField(default=list)
    condition = models.TextField(blank=True)
    notification_name = models.CharField(max_length=64, blank=True)
    recipients = models.JSONField(default=list)
    revision = models.CharField(max_length=128, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Health (issue 13): a rule that cannot be used must be visible, never silent.
    # condition_error: why the condition does not parse/type-check (set on every load);
    # last_error: the latest failure to evaluate it for a request (or the load error).
    condition_error = models.TextField(blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_matched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def applies_to_mattermost(self) -> bool:
        """The plugin's rule filter: mattermost notifications about access requests."""
        return self.notification_name == "mattermost" and "access_request" in self.subjects

    @property
    def healthy(self) -> bool:
        return not self.condition_error and not self.last_error
