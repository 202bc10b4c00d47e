"""The user's own `duplicity restore …` command line, read only as far as glacierable needs (pure code).

duplicity is the planner: its `restore --dry-run` lists exactly the volumes the restore reads (duplicity
3.2.1 `dup_main.restore_get_patched_rop_iter`), whatever `-t`, `--path-to-restore`, `--file-prefix*` or
encryption options it is given. So this module reads only what S3 needs to be told (the bucket, the folder,
the endpoint and region, whether the URL is `par2+`), and every other option is left to duplicity, with no
second parser to keep in step. The dry run's list is read from duplicity's machine-readable log
(`--log-file`), whose format does not change with `--log-timestamp` or the user's verbosity.
"""

from __future__ import annotations

import shlex
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from glacierable.names import Kind, parse_name
from glacierable.prefixes import PrefixError, folder
from glacierable.text import first_and_more

RESTORE_ACTIONS = ("restore", "rb")
"""duplicity 3's restore action and its alias (`cli_data.CommandAliases`)."""

OTHER_ACTIONS = frozenset(
    {
        "backup", "bu", "cleanup", "cl", "collection-status", "st", "full", "fb", "incremental", "incr",
        "inc", "ib", "list-current-files", "ls", "remove-all-but-n-full", "ra",
        "remove-all-inc-of-but-n-full", "ri", "remove-older-than", "ro", "verify", "vb",
    }
)  # fmt: skip
"""duplicity 3's other actions and aliases: named in the refusal, so a typo is told apart from them."""

S3_SCHEMES = {"boto3+s3": False, "s3": False, "par2+boto3+s3": True, "par2+s3": True}
"""The URL schemes of duplicity's boto3 S3 backend, each with whether it is `par2+`."""

ENDPOINT_OPTION = "--s3-endpoint-url"
REGION_OPTION = "--s3-region-name"
_READ_OPTIONS = (ENDPOINT_OPTION, REGION_OPTION)

REQUIRED_HEADER = "Required volumes to restore:"
"""What duplicity's dry run logs (at NOTICE) before one tab-indented volume name per line."""

DRY_RUN_OPTIONS = ("--dry-run", "--verbosity", "notice")
"""Added after the user's options (duplicity reads options anywhere, the last one wins): a dry run that
logs its list even when the user asked for `-v0`."""

MAX_NAMED = 5
"""Keys or arguments named in one error message before "and N more"."""


class DuplicityCommandError(ValueError):
    """A command line `glacierable run` cannot take, or a dry run whose output it cannot read."""


@dataclass(frozen=True, slots=True)
class RestoreCommand:
    """A `duplicity restore` command line (executable first, exactly as given) and its S3 target."""

    argv: tuple[str, ...]
    url: str
    bucket: str
    folder: str
    """The URL's key prefix as duplicity's S3 backend writes it: empty, or ending in one '/'."""
    par2: bool
    endpoint_url: str | None = None
    region_name: str | None = None

    @property
    def executable(self) -> str:
        """The duplicity to run: a name on PATH or a path."""
        return self.argv[0]

    def dry_run_argv(self, log_file: str) -> list[str]:
        """The same command as a dry run that writes its machine-readable log to `log_file`."""
        return [*self.argv, *DRY_RUN_OPTIONS, "--log-file", log_file]

    def text(self) -> str:
        """The command as a shell line, ready to paste."""
        return shlex.join(self.argv)


def parse_restore_command(argv: Sequence[str]) -> RestoreCommand:
    """Read `duplicity restore [options] URL TARGET`; DuplicityCommandError says what is wrong with it."""
    if not argv:
        raise DuplicityCommandError(
            "no duplicity command: give it after '--', e.g. glacierable run -- duplicity restore "
            "--path-to-restore docs/report.txt boto3+s3://BUCKET/PREFIX restored-report.txt"
        )
    executable, *rest = argv
    if not executable or executable.startswith("-") or "://" in executable:
        raise DuplicityCommandError(
            f"the word after '--' must be the duplicity executable (a name on PATH or a path), not "
            f"{executable!r}"
        )
    action = rest[0] if rest else ""
    if action not in RESTORE_ACTIONS:
        raise DuplicityCommandError(_action_problem(action))
    options = rest[1:]
    endpoint = _last_value(options, ENDPOINT_OPTION)
    region = _last_value(options, REGION_OPTION)
    urls = _urls(options)
    if not urls:
        raise DuplicityCommandError(
            "no duplicity URL in the command: glacierable run needs `duplicity restore [options] "
            "boto3+s3://BUCKET/PREFIX TARGET`"
        )
    if len(urls) > 1:
        raise DuplicityCommandError(
            f"several URLs in the command ({first_and_more([repr(u) for u in urls], MAX_NAMED)}): "
            "a restore reads one duplicity URL"
        )
    (url,) = urls
    bucket, key_folder, par2 = parse_s3_url(url)
    return RestoreCommand(tuple(argv), url, bucket, key_folder, par2, endpoint, region)


def parse_s3_url(url: str) -> tuple[str, str, bool]:
    """(bucket, folder, par2) of an S3 URL, read as duplicity's boto3 backend reads it.

    duplicity's `ParsedUrl` keeps everything after `scheme:` as the path (its S3 schemes have no network
    location), without query or fragment, percent-decoded; `s3_boto3_backend` then drops empty parts, takes
    the first as the bucket and the rest, joined by '/' plus one '/', as the key prefix.
    """
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in S3_SCHEMES:
        accepted = ", ".join(f"{name}://" for name in S3_SCHEMES)
        shown = f"{scheme}://" if sep else repr(url)
        raise DuplicityCommandError(
            f"glacierable restores from S3 only, and {shown} is not an S3 URL ({url!r}); accepted: {accepted}"
        )
    path = urllib.parse.unquote(rest.partition("#")[0].partition("?")[0])
    parts = [part for part in path.split("/") if part]
    if not parts:
        raise DuplicityCommandError(f"{url!r} names no bucket: expected {scheme}://BUCKET[/PREFIX]")
    try:
        key_folder = folder("/".join(parts[1:]))
    except PrefixError as error:
        raise DuplicityCommandError(f"the prefix of {url!r} {error}") from None
    return parts[0], key_folder, S3_SCHEMES[scheme]


def parse_required_volumes(log: str) -> list[str]:
    """The volume names of the dry run's "Required volumes to restore:" record in duplicity's machine log.

    The log (`--log-file`) holds records of a `LEVEL CODE` line, then the message's lines each after ". ",
    then an empty line: `NOTICE 1` / `. Required volumes to restore:` / `. \\tNAME` … An empty list is
    logged as one `. \\t` line.
    """
    lines = log.splitlines()
    header = f". {REQUIRED_HEADER}"
    try:
        start = lines.index(header) + 1
    except ValueError:
        raise DuplicityCommandError(
            f"duplicity's dry run logged no {REQUIRED_HEADER!r} list (duplicity 2.x and 3.x log it; check "
            "`duplicity --version`)"
        ) from None
    names = []
    for line in lines[start:]:
        if not line.startswith(". \t"):
            break
        name = line[3:]
        if name:
            names.append(name)
    return names


def restore_keys(
    names: Sequence[str], key_folder: str, listed_keys: Iterable[str], *, par2: bool
) -> list[str]:
    """The keys to thaw: each volume duplicity listed, under `key_folder`, and with `par2` its par2 files.

    duplicity's par2 backend reads `NAME.par2` (and may read `NAME.volA+B.par2`) beside every file it
    downloads, so each must be readable whenever the volume is. A listed name that is not in the listing
    is an error: duplicity planned from a cache that does not match the bucket.
    """
    listed = set(listed_keys)
    companions: dict[str, list[str]] = {}
    if par2:
        for key in listed:
            parsed = parse_name(key)
            # Only files directly in the folder: duplicity never reads its sub-folders.
            if (
                parsed is not None
                and parsed.par2
                and key[: len(key) - len(key.rpartition("/")[2])] == key_folder
            ):
                companions.setdefault(parsed.protected, []).append(key)
    missing = [name for name in names if key_folder + name not in listed]
    if missing:
        shown = first_and_more(missing, MAX_NAMED)
        raise DuplicityCommandError(
            f"duplicity's dry run needs {len(missing)} volume(s) that are not in the bucket's folder "
            f"{key_folder!r}: {shown} (is duplicity's --archive-dir cache from another bucket?)"
        )
    keys: list[str] = []
    seen: set[str] = set()
    for name in names:
        for key in (key_folder + name, *sorted(companions.get(name, ()))):
            if key not in seen:
                seen.add(key)
                keys.append(key)
    return keys


def volume_prefix(names: Sequence[str]) -> str | None:
    """The prefix duplicity's listed volume names share (`--file-prefix` + `--file-prefix-archive`)."""
    prefixes = {parsed.prefix for parsed in map(parse_name, names) if parsed and parsed.kind is Kind.VOLUME}
    return prefixes.pop() if len(prefixes) == 1 else None


def _action_problem(action: str) -> str:
    usage = "glacierable run -- duplicity restore [options] URL TARGET"
    if not action:
        return f"the duplicity command has no action: {usage}"
    if action in OTHER_ACTIONS:
        return (
            f"glacierable run runs restores only, not `duplicity {action}`: {usage} (the other actions "
            "read no archived volume; run them with duplicity directly)"
        )
    return (
        f"the duplicity command must start with its action `restore`, got {action!r}: {usage} "
        "(glacierable does not guess an implied action)"
    )


def _last_value(options: Sequence[str], option: str) -> str | None:
    """The value of the last `option VALUE` or `option=VALUE`, as duplicity's argparse keeps the last."""
    value: str | None = None
    for index, arg in enumerate(options):
        name, eq, inline = arg.partition("=")
        if name == option:
            if eq:
                value = inline
            elif index + 1 < len(options):
                value = options[index + 1]
            else:
                raise DuplicityCommandError(f"{option} needs a value")
        elif arg.startswith("--") and len(name) > len("--s3-") and option.startswith(name):
            # duplicity accepts abbreviations; glacierable would miss them and talk to the wrong S3.
            raise DuplicityCommandError(f"write {option} in full (got {name}): glacierable reads it too")
    return value or None


def _urls(options: Sequence[str]) -> list[str]:
    """The arguments that are URLs, apart from the values of the options glacierable reads."""
    urls = []
    for index, arg in enumerate(options):
        if arg.startswith("-") or "://" not in arg:
            continue
        if index and options[index - 1] in _READ_OPTIONS:
            continue
        urls.append(arg)
    return urls
