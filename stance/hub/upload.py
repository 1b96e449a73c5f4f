"""Talking to the Hugging Face Hub: the repo id and token checks, and one commit of a staged folder (plus its tag).

Every failure the hub client can raise becomes one :class:`~stance.errors.StanceError` that says which step
failed and what was (not) uploaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi, constants, get_token
from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

from ..errors import StanceError

try:  # huggingface_hub 2.x speaks httpx2, 1.x httpx
    from httpx2 import HTTPError as TransportError
except ImportError:  # pragma: no cover - depends on the installed hub client
    from httpx import HTTPError as TransportError

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class PublishResult:
    repo_id: str
    files: list[str]
    skipped: list[str]
    metrics_path: Path | None
    dry_run: Path | None = None  # the folder written by --dry-run
    commit_url: str | None = None
    commit_oid: str | None = None
    pr_url: str | None = None
    revision: str | None = None
    branch_created: bool = False
    tag: str | None = None


def check_repo_id(repo_id: str) -> str:
    """``OWNER/NAME`` with the hub's characters; anything else is refused before any work is done."""
    from huggingface_hub.utils import validate_repo_id

    problem = None if REPO_ID.match(repo_id or "") else "expected OWNER/NAME, e.g. alice/stance-russia-pakistan"
    if problem is None:
        try:
            validate_repo_id(repo_id)
        except ValueError as exc:
            problem = str(exc)
    if problem:
        raise StanceError(f"--repo-id {repo_id!r}: {problem} (letters, digits, '-', '_', '.'; no '--' or '..')")
    return repo_id


def resolve_token() -> str:
    """The token of ``HF_TOKEN`` or of ``hf auth login``; a clear error when there is none."""
    try:
        token = get_token()
    except Exception as exc:
        raise StanceError(f"cannot read a Hugging Face token: {exc}") from exc
    if not token:
        raise StanceError(
            "no Hugging Face token: set HF_TOKEN to a token with write access, or run "
            "`hf auth login` once (tokens are never passed on the command line)"
        )
    return token


def upload(
    folder: Path,
    repo_id: str,
    *,
    api: HfApi,
    token: str,
    private: bool = False,
    revision: str | None = None,
    tag: str | None = None,
    create_pr: bool = False,
    commit_message: str,
) -> PublishResult:
    """Every file of ``folder`` in one commit to ``repo_id`` (created if needed), then the tag on that commit."""
    files = files_of(folder)
    with _hub("checking the token"):
        api.whoami(token=token)
    with _hub(f"creating {repo_id}"):
        url = api.create_repo(repo_id, token=token, private=private, exist_ok=True, repo_type="model")
        repo_id = getattr(url, "repo_id", None) or repo_id
        info = api.repo_info(repo_id, token=token, repo_type="model")
        refs = api.list_repo_refs(repo_id, token=token, repo_type="model")
    if private and not getattr(info, "private", False):
        raise StanceError(
            f"{repo_id} already exists and is public; --private does not change an existing repo's "
            "visibility. Make it private in its settings first; nothing was uploaded"
        )
    if tag and tag in {ref.name for ref in refs.tags}:
        raise StanceError(f"{repo_id}: tag {tag!r} already exists; choose another --tag; nothing was uploaded")
    branch_created = bool(revision) and revision != "main" and revision not in {ref.name for ref in refs.branches}
    if branch_created:
        with _hub(f"creating branch {revision!r}"):
            api.create_branch(repo_id, branch=revision, token=token, repo_type="model", exist_ok=True)
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(folder / name)) for name in files]
    with _hub("uploading the commit", after="nothing was uploaded (a commit is all files or none)"):
        commit = api.create_commit(
            repo_id,
            operations,
            commit_message=commit_message,
            token=token,
            commit_description=f"{len(files)} files: {', '.join(files)}",
            repo_type="model",
            revision=revision,
            create_pr=create_pr,
        )
    result = PublishResult(
        repo_id,
        files,
        [],
        None,
        commit_url=commit.commit_url,
        commit_oid=commit.oid,
        pr_url=getattr(commit, "pr_url", None),
        revision=revision,
        branch_created=branch_created,
    )
    if tag:
        with _hub(
            f"tagging commit {commit.oid[:12]} as {tag!r}",
            after=f"the commit is on the hub ({commit.commit_url}); tag it with "
            f"`hf repo tag create {repo_id} {tag} --revision {commit.oid}`",
        ):
            api.create_tag(
                repo_id, tag=tag, tag_message=commit_message, revision=commit.oid, token=token, repo_type="model"
            )
        result.tag = tag
    return result


def files_of(folder: Path) -> list[str]:
    """Every file under ``folder``, as sorted POSIX paths relative to it."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


@contextmanager
def _hub(step: str, after: str = "nothing was uploaded") -> Iterator[None]:
    """Turn what the hub client raises into one StanceError that says which step failed and what was left."""
    try:
        yield
    except StanceError:
        raise
    except OfflineModeIsEnabled as exc:
        raise StanceError(
            f"{step}: HF_HUB_OFFLINE is set, so the hub cannot be reached (unset it to publish, "
            f"or use --dry-run); {after}"
        ) from exc
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        hint = {
            401: " (the token was rejected: run `hf auth login` again or set HF_TOKEN to a valid token)",
            403: " (the token may not write there: it needs write access to the repo's owner)",
        }.get(status, "")
        reason = exc.server_message or first_line(exc)
        raise StanceError(f"{step}: the hub answered {status}{hint}: {reason}; {after}") from exc
    except (TransportError, OSError, TimeoutError) as exc:
        raise StanceError(
            f"{step}: cannot reach the Hugging Face Hub at {constants.ENDPOINT} ({first_line(exc)}); {after}"
        ) from exc
    except ValueError as exc:  # the client's own validation (revision names, parent commit, card metadata)
        raise StanceError(f"{step}: {exc}; {after}") from exc
