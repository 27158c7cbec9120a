"""`stackadmin run|migrate|prompts`: validate the run config, reach every backend, migrate every alias, serve;
export and import prompts.

Every failure before serving is one line on stderr naming the problem, and a non-zero exit. Nothing is
written to disk until the config is valid and every backend answered.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import sys
from pathlib import Path

from apps.accounts.config import is_loopback_host
from apps.core.config import ConfigError
from apps.prompts.sources import SOURCES
from stackadmin.config import RunConfig, load_config, used_backends

EXIT_CONFIG = 2
EXIT_BACKEND = 3
_WILDCARD_HOSTS = ("0.0.0.0", "::")  # noqa: S104  (recognised, not bound to)


def _fail(message: str, code: int) -> None:
    print(f"stackadmin: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def _say(message: str) -> None:
    print(message, flush=True)


def check_backends(config: RunConfig) -> None:
    """Connect once to every PostgreSQL and Redis backend a store uses; check SQLite paths are writable."""
    for name, backend in used_backends(config).items():
        where = f"storage.backends.{name}"
        kind = backend.type
        if kind in ("kv_postgres", "sql_postgres"):
            import psycopg

            from apps.storage.kv.postgres import conninfo

            try:
                with psycopg.connect(conninfo(backend)) as conn:
                    conn.execute("SELECT 1")
            except psycopg.Error as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                _fail(
                    f"{where} ({kind}): cannot connect to PostgreSQL at {backend.host}:{backend.port}, "
                    f"database '{backend.db}': {reason}",
                    EXIT_BACKEND,
                )
        elif kind == "kv_redis":
            import redis

            try:
                redis.Redis(
                    host=backend.host,
                    port=backend.port,
                    db=backend.db,
                    password=backend.password,
                    socket_connect_timeout=5,
                    socket_timeout=5,
                ).ping()
            except redis.RedisError as exc:
                _fail(f"{where} (kv_redis): cannot reach Redis at {backend.host}:{backend.port}: {exc}", EXIT_BACKEND)
        elif kind in ("kv_sqlite", "sql_sqlite") and backend.db_path != ":memory:":
            _check_writable(Path(backend.db_path).parent, f"{where}.db_path")
    _check_writable(Path(config.home), "STACKADMIN_HOME")
    _check_writable(Path(config.files.storage_dir), "files.storage_dir")
    _check_bucket(config)


def _check_bucket(config: RunConfig) -> None:
    """With `files.storage: {type: s3}`: the bucket exists and takes our credentials."""
    if config.files.storage.type != "s3":
        return
    from apps.files.blobs import BlobStoreUnavailable, check_bucket

    try:
        check_bucket(config.files.storage)
    except BlobStoreUnavailable as exc:
        _fail(f"files.storage (s3): {exc}", EXIT_BACKEND)


def _check_writable(directory: Path, what: str) -> None:
    probe = directory.expanduser().resolve()
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        _fail(f"{what}: cannot create or write {directory} ({probe} is not a writable directory)", EXIT_BACKEND)


def prepare(config: RunConfig) -> None:
    """Create the home, the secret key and the SQLite directories, then set Django up and migrate."""
    home = Path(config.home)
    home.mkdir(parents=True, exist_ok=True)
    key_file = home / "secret_key"
    if not key_file.exists() and not os.environ.get("DJANGO_SECRET_KEY"):
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    for backend in used_backends(config).values():
        if backend.type in ("kv_sqlite", "sql_sqlite") and backend.db_path != ":memory:":
            Path(backend.db_path).parent.mkdir(parents=True, exist_ok=True)
    Path(config.files.storage_dir).mkdir(parents=True, exist_ok=True)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stackadmin.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("check")
    call_command("migrate_all")
    connections.close_all()


def ensure_admin_user() -> None:
    """On a fresh installation, create `admin` with a random password and show it once."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    User = get_user_model()
    if User.objects.exists():
        connections.close_all()
        return
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser(username="admin", email="", password=password)
    connections.close_all()
    _say("")
    _say("  First start: created the administrator account (shown only this once).")
    _say("    username: admin")
    _say(f"    password: {password}")
    _say(f"  Change it with: {_changepassword_hint()}")
    _say("")


def _changepassword_hint() -> str:
    """The command that changes the admin's password, as it must be typed to reach this installation."""
    home = os.environ.get("STACKADMIN_HOME")
    config = os.environ.get("STACKADMIN_CONFIG")
    prefix = f"STACKADMIN_HOME={shlex.quote(home)} " if home else ""
    suffix = f" --config {shlex.quote(config)}" if config else ""
    return f"{prefix}stackadmin changepassword admin{suffix}"


def describe_models(config: RunConfig) -> list[str]:
    """What `stackadmin run` says about models: each provider and its registered models, or how to add one."""
    from apps.inference.registry import configured_providers

    providers = configured_providers(config.inference)
    if not providers:
        return [
            "  Models     none: no inference provider is configured, so /v1/responses and /v1/chat/completions have "
            "no model to call.",
            "             Add one under providers.inference in the run config (README: 'Models and inference "
            "providers'), or set OPENAI_BASE_URL / OPENAI_API_KEY.",
        ]
    lines = []
    for provider in providers:
        registered = sum(1 for model in config.inference.models if model.provider_id == provider.provider_id)
        served = f"{registered} registered model{'s' if registered != 1 else ''}" if registered else "every model"
        lines.append(f"  Models     {served} from provider '{provider.provider_id}' at {provider.base_url}")
    return lines


def load(args: argparse.Namespace) -> RunConfig:
    if getattr(args, "config", None):
        os.environ["STACKADMIN_CONFIG"] = str(Path(args.config).expanduser().resolve())
    try:
        config = load_config()
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG)
    for warning in config.warnings:
        print(f"stackadmin: warning: {warning}", file=sys.stderr, flush=True)
    return config


def cmd_migrate(args: argparse.Namespace) -> None:
    config = load(args)
    check_backends(config)
    prepare(config)


def cmd_run(args: argparse.Namespace) -> None:
    config = load(args)
    if config.metrics.enabled:  # before anything imports prometheus-client, in this process or a worker
        from stackadmin.metrics_dir import prepare_multiprocess_dir

        prepare_multiprocess_dir(config.home)
    os.environ["STACKADMIN_BIND_HOST"] = args.host
    auth_enabled = config.auth.enabled_for(args.host)
    if not auth_enabled and not is_loopback_host(args.host) and not args.allow_remote_without_auth:
        _fail(
            f"--host {args.host} is not a loopback address and server.auth.enabled is false; anyone who can "
            "reach it could read and change every prompt. Bind 127.0.0.1, turn authentication on, or pass "
            "--allow-remote-without-auth if that is really intended.",
            EXIT_CONFIG,
        )
    if args.workers < 1:
        _fail("--workers must be at least 1", EXIT_CONFIG)
    check_backends(config)
    prepare(config)
    ensure_admin_user()
    wildcard = args.host in _WILDCARD_HOSTS
    if not os.environ.get("DJANGO_ALLOWED_HOSTS"):
        if wildcard:
            _say(
                "stackadmin: note: set DJANGO_ALLOWED_HOSTS to the names clients use to reach this server "
                "(the dashboard and /v1 refuse any other Host with a 400)"
            )
        else:
            os.environ["DJANGO_ALLOWED_HOSTS"] = f"127.0.0.1,localhost,[::1],{args.host}"

    shown = f"[{args.host}]" if ":" in args.host else args.host
    base = f"http://{shown}:{args.port}"
    _say(f"stackadmin: config {config.source}; data in {config.home}")
    _say(f"  Dashboard  {base}/dashboard/")
    _say(f"  Admin      {base}/admin/")
    _say(f"  API        {base}/v1   (docs: {base}/v1/docs)")
    for line in describe_models(config):
        _say(line)
    if auth_enabled:
        _say(
            "  Authentication is on: /v1 needs 'Authorization: Bearer <key>' "
            "(create keys in the dashboard, the admin, or with: python manage.py create_api_key <user>)"
        )
    _say(f"  Serving with {args.workers} worker process{'es' if args.workers > 1 else ''}; Ctrl-C stops.")
    if args.workers > 1 and not config.server.get("channel_layer"):
        _say(
            "  Note: live dashboard updates only reach pages served by the same worker; set "
            "server.channel_layer to a kv_redis backend to share them."
        )

    from stackadmin.serving import serve  # uvicorn, shutting down gracefully

    serve(
        "stackadmin.asgi:application",
        host=args.host,
        port=args.port,
        workers=args.workers,
        lifespan="on",  # the lifespan shutdown drains queued store writes (stackadmin.asgi)
        log_level=os.environ.get("STACKADMIN_SERVER_LOG_LEVEL", "warning"),
        access_log=False,
        timeout_graceful_shutdown=10,
    )


def cmd_changepassword(args: argparse.Namespace) -> None:
    """Django's `changepassword`, on the database this run config names (asks for the new password twice)."""
    config = load(args)
    check_backends(config)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stackadmin.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.management.base import CommandError

    try:
        call_command("changepassword", args.username)
    except CommandError as exc:
        _fail(str(exc), 1)


def _kv_ready(args: argparse.Namespace) -> None:
    """Config, backends and Django for a command that reads or writes only the KV stores (no SQL migration)."""
    config = load(args)
    check_backends(config)
    for backend in used_backends(config).values():
        if backend.type == "kv_sqlite" and backend.db_path != ":memory:":
            Path(backend.db_path).parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stackadmin.settings")
    import django

    django.setup()


def _export_format(args: argparse.Namespace) -> str:
    if args.format:
        return args.format
    suffix = Path(args.output).suffix if args.output else ""
    return "yaml" if suffix in (".yaml", ".yml") else "json"


def cmd_prompts_export(args: argparse.Namespace) -> None:
    _kv_ready(args)
    from apps.core.errors import StackAdminError
    from apps.prompts import selectors, transfer

    fmt = _export_format(args)
    dumps = selectors.prompts_dump(ids=args.prompt or None)
    try:
        if not args.output:
            transfer.write_document(sys.stdout, transfer.iter_documents(dumps), fmt)
            return
        output = Path(args.output)
        if output.suffix in (".json", ".yaml", ".yml"):
            with output.open("w", encoding="utf-8") as out:
                count = transfer.write_document(out, transfer.iter_documents(dumps), fmt)
        else:
            count = transfer.write_directory(output, transfer.iter_documents(dumps), fmt)
    except (StackAdminError, OSError) as exc:
        _fail(f"export failed: {exc}", 1)
    print(f"stackadmin: exported {count} prompt{'s' if count != 1 else ''} to {output}", file=sys.stderr)


def _progress(done: int, total: int) -> None:
    """A progress line on a terminal (a long import says how far it is); nothing when stderr is a file."""
    if sys.stderr.isatty() and total >= 20 and (done == total or done % max(1, total // 200) == 0):
        end = "\n" if done == total else ""
        filled = done * 30 // total
        bar = "#" * filled + "." * (30 - filled)
        print(f"\rimporting [{bar}] {done}/{total} ({done * 100 // total}%)", end=end, file=sys.stderr, flush=True)


def _command_user():
    """Who runs the command, as an operator (the store's credentials are theirs): the history of what they import
    says `command import by NAME`. None when the system cannot name them."""
    import getpass

    from apps.core.principal import Principal

    try:
        return Principal(getpass.getuser(), via="command", operator=True)
    except (KeyError, OSError):
        return None


def cmd_prompts_import(args: argparse.Namespace) -> None:
    _kv_ready(args)
    from apps.core.errors import StackAdminError
    from apps.prompts import services, transfer

    try:
        prompts, invalid = transfer.read_archives(args.paths, source=args.source, skip_invalid=args.skip_invalid)
    except transfer.TransferError as exc:
        _fail(f"{exc}; nothing was imported", 1)
    for problem in invalid:
        print(f"stackadmin: skipped invalid prompt: {problem}", file=sys.stderr)
    for path, prompt in prompts:
        for note in prompt.notes:
            _say(f"note: {transfer.source_label(path)}: prompt {prompt.prompt_id}: {note}")
    importer = _command_user()
    counts = dict.fromkeys(("created", "added", "skipped"), 0)
    verb = {"created": "would create", "added": "would add", "skipped": "would skip"} if args.dry_run else {}
    for done, (path, prompt) in enumerate(prompts, start=1):
        try:
            outcome = services.prompt_import(
                prompt=prompt,
                on_conflict=args.on_conflict,
                owner=args.owner,
                source=transfer.import_source(path, prompt),
                dry_run=args.dry_run,
                principal=importer,
            )
        except StackAdminError as exc:
            _fail(f"{transfer.shown(path)}: prompt {prompt.prompt_id}: {exc}", 1)
        counts[outcome.action] += 1
        if args.dry_run or args.verbose:
            versions = f" versions {', '.join(map(str, outcome.versions))}" if outcome.versions else ""
            reason = f" ({outcome.reason})" if outcome.reason else ""
            origin = f" [{prompt.origin}]" if prompt.origin else ""
            _say(f"{verb.get(outcome.action, outcome.action)} {outcome.prompt_id}{origin}{versions}{reason}")
        _progress(done, len(prompts))
    summary = ", ".join(f"{n} {action}" for action, n in counts.items())
    note = " (dry run: nothing was written)" if args.dry_run else ""
    print(f"stackadmin: {summary}; {len(invalid)} invalid{note}", file=sys.stderr)


def _prompts_parser(sub) -> None:
    prompts = sub.add_parser("prompts", help="export and import prompts").add_subparsers(dest="action", required=True)
    export = prompts.add_parser("export", help="write every prompt, every version, its labels and owner")
    export.add_argument("--config", help="run config YAML")
    export.add_argument("--output", help="a .json/.yaml file, or a directory (one file per prompt); default stdout")
    export.add_argument("--format", choices=("json", "yaml"), help="default: from --output's suffix, else json")
    export.add_argument("--prompt", action="append", metavar="ID", help="only this prompt (repeatable)")
    export.set_defaults(func=cmd_prompts_export)

    imp = prompts.add_parser(
        "import", help="import stackadmin exports, OpenAI prompt objects, Langfuse exports, llama-stack/OGX stores"
    )
    imp.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="files (JSON/YAML, or a llama-stack/OGX SQLite file), directories of them, or an OGX/llama-stack "
        "PostgreSQL URL (postgresql://...)",
    )
    imp.add_argument("--config", help="run config YAML")
    imp.add_argument("--dry-run", action="store_true", help="say what would be created, added or skipped")
    imp.add_argument(
        "--on-conflict",
        choices=("skip", "new-version", "fail"),
        default="new-version",
        help="a prompt whose existing version differs: skip it, add the imported versions after its latest "
        "(default), or stop",
    )
    imp.add_argument("--owner", help="the user who owns the prompts created (default: the export's owner)")
    imp.add_argument("--from", dest="source", choices=SOURCES, help="default: detected")
    imp.add_argument("--skip-invalid", action="store_true", help="import the valid prompts, report the others")
    imp.add_argument("-v", "--verbose", action="store_true", help="one line per prompt")
    imp.set_defaults(func=cmd_prompts_import)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stackadmin", description="Self-hosted prompts and OpenAI-style state.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="validate the config, migrate every database and serve")
    run.add_argument("--config", help="run config YAML (default: $STACKADMIN_CONFIG, else built-in SQLite)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8321)
    run.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    run.add_argument(
        "--allow-remote-without-auth",
        action="store_true",
        help="allow a non-loopback --host while authentication is off",
    )
    run.set_defaults(func=cmd_run)

    migrate = sub.add_parser("migrate", help="validate the config and migrate every database alias")
    migrate.add_argument("--config", help="run config YAML")
    migrate.set_defaults(func=cmd_migrate)

    password = sub.add_parser("changepassword", help="set a user's password (asks for it twice)")
    password.add_argument("username", nargs="?", default="admin", help="default: admin")
    password.add_argument("--config", help="run config YAML (the server's)")
    password.set_defaults(func=cmd_changepassword)
    _prompts_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
