"""Create an API key for a user and print it once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.accounts import services
from apps.core.errors import StackAdminError


class Command(BaseCommand):
    help = "Create an API key for USER and print it (it is stored hashed and cannot be shown again)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="a label for the key, e.g. the application using it")

    def handle(self, *args, username, name, **options):
        try:
            user = services.user_get(username=username)
            key, raw = services.api_key_create(user=user, name=name)
        except StackAdminError as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(f"Created API key {key.prefix}… for {user.get_username()}. Copy it now:")
        self.stdout.write(raw)
