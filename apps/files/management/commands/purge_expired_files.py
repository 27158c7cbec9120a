"""Delete expired files (rows and bytes) and abandoned uploads. Safe to run at any time, from cron or a timer."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.files import disk, selectors, services
from apps.files.blobs import blob_store

_DAY = 24 * 3600


class Command(BaseCommand):
    help = (
        "Delete every expired file's bytes and row, and uploads abandoned mid-way: at once those whose process on "
        "this machine has died (killed or crashed), and those staged by another machine sharing the storage "
        "directory (or before a reboot), stored bytes no file refers to (an upload whose process died before its "
        "row was committed) and unfinished multipart uploads to the bucket, once older than --incoming-max-age. "
        "Uploads still being received are never touched. Expired files are already hidden from the API; this "
        "frees the space."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="rows deleted per transaction (default 500)")
        parser.add_argument("--dry-run", action="store_true", help="report what would be deleted, delete nothing")
        parser.add_argument(
            "--incoming-max-age",
            type=float,
            default=_DAY,
            metavar="SECONDS",
            help="uploads staged by another machine (or before a reboot), whose process cannot be checked, are "
            "abandoned once older than this (default 86400, one day)",
        )

    def handle(self, *args, **options):
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        now = timezone.now()
        expired = selectors.files_expired(now=now)
        count = expired.count()
        store = blob_store()
        self.stdout.write(f"File storage {store.describe()}: {count} expired file{'' if count == 1 else 's'}.")
        if options["dry_run"]:
            for public_id, filename, expires_at in expired.order_by("pk").values_list(
                "public_id", "filename", "expires_at"
            ):
                self.stdout.write(f"  would delete {public_id} ({filename}), expired {expires_at:%Y-%m-%d %H:%M:%S}")
            return

        def progress(done: int, total: int, freed: int) -> None:
            self.stdout.write(f"  deleted {done}/{total} ({disk.human_size(freed)} freed)")

        result = services.files_purge_expired(now=now, batch_size=options["batch_size"], progress=progress)
        swept = [path.name for path in disk.sweep_incoming(older_than_seconds=options["incoming_max_age"])]
        swept += services.files_purge_orphans(older_than_seconds=options["incoming_max_age"])
        for name in swept:
            self.stdout.write(f"  removed abandoned upload {name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {result.files} expired file{'' if result.files == 1 else 's'} "
                f"({disk.human_size(result.bytes)}) and {len(swept)} abandoned upload{'' if len(swept) == 1 else 's'}."
            )
        )
