"""The follow-ups' lines in a request's timeline (issue 16), apart from queries.py."""

from __future__ import annotations

from dashboard.queries import TimelineEntry
from notifications.models import ReminderSchedule, RequesterContact, SecurityAlert
from teleportbridge.models import AccessRequest


def followup_entries(req: AccessRequest) -> list[TimelineEntry]:
    """Issue 16's facts about a request: the requester look-up (or "requester not
    reachable"), the reminder schedule and escalation, security alerts raised about it."""
    out: list[TimelineEntry] = []
    contact = RequesterContact.objects.filter(request=req).first()
    if contact is not None:
        title = (
            f"Requester reachable in Mattermost as {contact.handle}"
            if contact.reachable
            else "Requester not reachable"
        )
        out.append(TimelineEntry(contact.looked_up_at, "followup", title, contact.error))
    sched = ReminderSchedule.objects.filter(request=req).first()
    if sched is not None:
        detail = f"{sched.next_slot} reminder(s) scheduled; next due {sched.next_due_at or 'never'}"
        out.append(
            TimelineEntry(
                sched.updated_at, "followup", f"Reminders: {sched.state}", f"{detail}. {sched.note}"
            )
        )
        if sched.escalated_at is not None:
            out.append(TimelineEntry(sched.escalated_at, "followup", "Escalated", sched.note))
    for alert in SecurityAlert.objects.filter(request_id=req.pk):
        out.append(
            TimelineEntry(
                alert.raised_at,
                "followup",
                f"Security alert: {alert.get_kind_display()}",
                alert.detail,
            )
        )
    return out
