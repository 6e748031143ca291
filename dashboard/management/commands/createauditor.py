"""`manage.py createauditor NAME --password-from-env VAR [--staff]`.

Creates (or updates) a user in the "auditor" group: view-only permissions on every model
the dashboard shows, which includes `teleportbridge.view_accessrequest`, the permission
the dashboard checks. The password comes from an environment variable so it never shows
up in shell history or `ps`, and must pass AUTH_PASSWORD_VALIDATORS (as `createsuperuser`
and the admin's password form do). `--staff` also lets the user browse the admin
(read-only).
"""

from __future__ import annotations

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

AUDITOR_GROUP = "auditor"
VIEW_PERMISSIONS = [
    ("teleportbridge", "accessrequest"),
    ("teleportbridge", "review"),
    ("teleportbridge", "auditevent"),
    ("teleportbridge", "auditcursor"),
    ("teleportbridge", "watcherstate"),
    ("teleportbridge", "accessmonitoringrule"),
    ("notifications", "recipient"),
    ("notifications", "post"),
    ("notifications", "deliveryattempt"),
    ("notifications", "channellookup"),
]


def auditor_group() -> Group:
    """The auditor group with exactly the view permissions (idempotent)."""
    group, _ = Group.objects.get_or_create(name=AUDITOR_GROUP)
    perms = [
        Permission.objects.get(content_type__app_label=app, codename=f"view_{model}")
        for app, model in VIEW_PERMISSIONS
    ]
    group.permissions.add(*perms)
    return group


class Command(BaseCommand):
    help = "Create or update a read-only dashboard user (member of the 'auditor' group)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--password-from-env",
            metavar="VAR",
            help="Environment variable holding the password (required for a new user).",
        )
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--staff", action="store_true", help="Also allow read-only access to the admin."
        )

    @transaction.atomic
    def handle(self, *args: object, **opts: object) -> None:
        var = opts["password_from_env"]
        password = os.environ.get(str(var)) if var else None
        if var and not password:
            raise CommandError(f"environment variable {var} is empty or unset")
        User = get_user_model()
        user, created = User.objects.get_or_create(username=opts["username"])
        if created and not password:
            raise CommandError("a new user needs --password-from-env VAR")
        if opts["email"]:
            user.email = str(opts["email"])
        if password:
            # After the e-mail is set: the similarity check compares against it too.
            try:
                validate_password(password, user)
            except ValidationError as exc:
                # The transaction rolls back: a new user is not created with no password.
                raise CommandError(
                    f"password from {var} refused: {' '.join(exc.messages)}"
                ) from None
            user.set_password(password)
        if opts["staff"]:
            user.is_staff = True
        user.save()
        user.groups.add(auditor_group())
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} auditor {user.get_username()}")
