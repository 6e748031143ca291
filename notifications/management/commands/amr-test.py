"""`teleport-mattermost manage amr-test --request ID`: which access monitoring rules match a
stored request and where it would be posted, without posting anything.

Rules are evaluated exactly as the router does (same compiled conditions, same traits lookup
from Teleport) but their health is not touched: a dry run must not move `last matched`.
With --resolve the recipients are looked up in Mattermost (read-only lookups, plus the
idempotent DM-channel creation the real post would do).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from notifications import requested_resources, runtime
from notifications.mattermost.errors import MattermostError
from notifications.recipients import resolve_all, route_request
from teleportbridge.config import ConfigError
from teleportbridge.models import AccessRequest
from teleportbridge.sanitize import shown


class Command(BaseCommand):
    help = "Show which access monitoring rules match a stored request, without posting"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--request", required=True, help="Access request ID")
        parser.add_argument(
            "--resolve",
            action="store_true",
            help="Also look the recipients up in Mattermost (channel ids)",
        )

    def handle(self, *args, **options) -> None:
        request_id = options["request"]
        request = AccessRequest.objects.filter(pk=request_id).first()
        if request is None:
            raise CommandError(f"no stored access request with ID {shown(request_id)}")
        try:
            cfg = runtime.get_config()
        except ConfigError as exc:
            raise CommandError(f"cannot read the plugin configuration: {exc}") from None
        found = requested_resources.resolve(request)
        wanted, results = route_request(request, cfg, record=False, resource_labels=found.labels)
        out = self.stdout
        out.write(
            f"Request {shown(request.pk)} by {shown(request.user)}, "
            f"roles: {', '.join(shown(r) for r in request.roles) or '(none)'}"
        )
        if found.names:
            out.write("Resources: " + ", ".join(shown(n) for n in found.names))
        if not results:
            out.write("No access monitoring rules for mattermost.")
        for r in results:
            if r.error:
                verdict = f"ERROR (skipped): {shown(r.error)}"
            elif r.matched:
                verdict = "matches -> " + (", ".join(shown(h) for h in r.recipients) or "(none)")
            else:
                verdict = "no match"
            out.write(f"Rule {shown(r.name)}: {verdict}")
        if not wanted:
            out.write("Would post to nobody (no recipients configured, no suggested reviewers).")
            return
        out.write("Would post to:")
        if not options["resolve"]:
            for w in wanted:
                skipped = f" (skipped: {shown(w.skipped)})" if w.skipped else ""
                out.write(f"  {shown(w.handle)} [{w.source}]{skipped}")
            return
        try:
            resolved = resolve_all(wanted)
        except MattermostError as exc:
            raise CommandError(f"cannot reach Mattermost: {exc}") from None
        for got in resolved:
            where = (
                f"channel {got.channel_id}" if got.channel_id else f"unresolved: {shown(got.error)}"
            )
            out.write(f"  {shown(got.handle)} [{got.source}] {where}")
        from_rules = [got for got in resolved if got.source.startswith("rule:")]
        if from_rules and not any(got.channel_id for got in from_rules):
            out.write("No rule recipient resolves: the configured recipients would apply.")
