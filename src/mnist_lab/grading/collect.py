"""Find the submissions of a whole course: files, folders, and LMS bulk downloads.

``collect_submissions`` turns what an instructor hands to ``mnist-lab grade`` (files, folders,
zips as Gradescope, Canvas and Moodle bulk downloads name and nest them) into one ``Submission``
per student, with the student's identity taken from those names. The files to grade are copied
into a staging folder, so a batch grades exactly the bytes it recorded.

Layouts recognised (each also as the folder a zip was extracted to, possibly inside one wrapper
folder); what they rely on. A layout is decided from the whole tree, never from one student's
file: an LMS layout only when every top-level entry that would be a student in a plain folder
(a folder, a ``.py``/``.ipynb`` file) fits it, so a student's own ``submission_metadata.yml`` or
one Moodle- or Canvas-like name in a plain folder changes nothing, and every student gets a row.

- Gradescope "Export Submissions": ``[assignment_<N>_export/]submission_metadata.yml`` plus one
  folder ``submission_<id>/`` per submission and nothing else beside them (without the metadata
  file, a folder of ``submission_<id>/`` folders is plain), the YAML keyed by those folder
  names, each value a map with Ruby-symbol keys (``:submitters:`` -> list of
  ``:name:``/``:sid:``/``:email:``, ``:created_at:``, ``:score:``). Relied on: public scripts
  that read exports this way (``metadata[folder][':submitters'][0][':name']``,
  ``record[':submitters'][0][':sid']``) and a public test fixture of an export
  (``submission_<x>:`` / ``:submitters:`` / ``- :name:``).
- Canvas "Download Submissions": flat files ``<lastfirst>[_late]_<userid>_<id>_<original name>``
  (the late marker written ``_late`` or ``_LATE``); a resubmitted file gets ``-N`` inserted before
  its *first* dot (canvas-lms issue #2310: ``test.test.test.pdf`` -> ``test-1.test.test.pdf``).
  Relied on: public unzip scripts' pattern
  ``(?P<name>[^_]*)(?P<late>_LATE)?_(?P<lms_id>[0-9]*)_(?P<sub_id>[0-9]*)_(?P<filename>.*)`` and
  tool READMEs showing ``smithbob_340934_208490284_BobsWork.zip``.
- Moodle "Download all submissions" (moodle/moodle ``mod/assign/locallib.php``,
  ``download_submissions``): prefix ``clean_filename(<Full Name with _ turned into spaces>_<unique
  id for user>)``; with "download submissions in folders" (default since Moodle 3.1) each plugin's
  files sit in ``<prefix>_<subtype>_<type>_/<filepath><file>``, i.e.
  ``Jane Doe_123_assignsubmission_file_/digits.py``; without it they are flat
  ``<prefix>_assignsubmission_file_<file>`` (Moodle < 3.1 wrote ``<prefix>_`` + ``assignsubmission``
  + ..., the same string). Group mode puts ``<group>-`` before the name. Only the ``file`` plugin
  holds code; ``onlinetext`` and other plugins' files are listed but never graded.
- A student who handed in a zip instead of code (Canvas and Moodle keep uploads as they are):
  when a student has no ``.py``/``.ipynb`` file, the files of their zips count as theirs, one
  level deep and through one wrapper folder (``work.zip/digits.py``), with the same caps; a zip
  that cannot be read is that student's problem, never the batch's.
- Plain: a ``.py``/``.ipynb`` file given directly; a folder whose top-level ``.py``/``.ipynb``
  files and top-level subfolders are one student each (other top-level files are ignored); a zip
  with none of the LMS layouts is read like a plain folder, looking through one wrapper folder.

Keys (``Student.key``, names ``results/<key>.json`` and ``staging/<key>/``): ASCII only, at most
80 characters, made of ``[a-z0-9_-]``: the NFKD-folded name lower-cased, apostrophes dropped, every
other run of non-alphanumerics turned into ``_``, then, when the LMS gives an id, ``-<id>``:
``smithjohn-12345`` (Canvas), ``zoe_oneil-57`` (Moodle's "Zoë O'Neil"), ``ann_lee_bob_ray-901``
(a Gradescope group; the id is the submission's). Plain files: the file's stem, or its parent
folder's name when the stem is generic (``digits``, ``submission``, ``solution``, ``main``); a
plain folder: its name. An empty slug becomes ``student``; Windows device names get a trailing
``_``. Two students with one key: a plain file switches to its parent folder's name; students
still sharing one each get ``-<6 hex digits>``, a hash of their path inside their input (a
rerun gives the same keys). Names that are not UTF-8 (a Latin-1 folder) are read as
Windows-1252, so every name, origin and staged file name is valid Unicode; a staged file name
keeps at most ``MAX_STAGED_STEM_BYTES`` UTF-8 bytes of its stem.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import stat
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import yaml

from mnist_lab.errors import UserError


class CollectError(UserError):
    """The inputs as a whole cannot be used (missing path, unreadable zip, no submissions)."""


@dataclass(frozen=True)
class Student:
    """Who a submission belongs to, as far as the LMS's names tell."""

    key: str  # unique in a batch, safe as a file name: names results/<key>.json
    name: str = ""  # display name ("" when unknown)
    lms: str = "files"  # "gradescope" | "canvas" | "moodle" | "files"
    lms_id: str = ""  # Canvas user id, Moodle participant id, Gradescope submission id
    sid: str = ""  # the student's own id when the LMS tells it (Gradescope's sid)
    email: str = ""


@dataclass(frozen=True)
class Submission:
    """One student's submission: the file to grade, or why there is none."""

    student: Student
    origin: str  # where it came from, for people: "canvas.zip: smithjohn_123_456_digits.py"
    path: Path | None  # the staged .py / .ipynb to grade; None when ``problem`` is set
    problem: str | None = None  # why it cannot be graded ("no .py or .ipynb file", ...)


CODE_SUFFIXES = (".py", ".ipynb")
PREFERRED_NAMES = ("digits.py", "digits.ipynb")
GENERIC_STEMS = frozenset({"digits", "submission", "solution", "main"})
MAX_FILE_BYTES = 50 * 1024 * 1024  # one file to grade
MAX_ZIP_BYTES = 2 * 1024**3  # everything a zip says it unpacks to
MAX_KEY_CHARS = 80
# A staged file's name without its suffix, in UTF-8 bytes: file systems allow 255 bytes a name.
MAX_STAGED_STEM_BYTES = 150
_MB = 1024 * 1024
_CHUNK = 1024 * 1024
_IGNORED_PARTS = frozenset({"__macosx", "__pycache__", "thumbs.db", "desktop.ini"})
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)

_GRADESCOPE_METADATA = "submission_metadata.yml"
_GRADESCOPE_FOLDER = re.compile(r"submission_(\d+)")
# A name the LMS cleaned down to nothing (a student who calls themself "***") is still a name:
# one such student must not make the download fit no layout and lose every classmate's id.
_CANVAS_FILE = re.compile(r"(?P<name>[^_]*?)(?i:_late)?_(?P<uid>\d+)_(?P<sub>\d+)_(?P<file>.+)")
_MOODLE_FOLDER = re.compile(r"(?P<name>.*?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)_?")
_MOODLE_FLAT = re.compile(
    r"(?P<name>.*?)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)_(?P<file>.+)"
)
# A copy number a browser, Canvas or Moodle added: "digits-1.py" (Canvas puts it before the first
# dot), "digits (1).py".
_COPY_NUMBER = re.compile(r"(?P<stem>[^.]+?)(?:-(?P<n>\d+)| ?\((?P<p>\d+)\))(?P<rest>\..*)?")
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
_SURROGATE = re.compile(r"[\ud800-\udfff]")


# ---------------------------------------------------------------------------------------------
# What an input holds: files with their paths relative to a root, from a folder or a zip.


@dataclass(frozen=True)
class _Entry:
    parts: tuple[str, ...]  # path relative to the current root
    size: int  # as stat or the zip header says (a header can lie: reading stops at the cap)
    where: str  # for people: "course.zip: a/b.py", "/home/me/subs/a/b.py"
    open: Callable[[], IO[bytes]] = field(compare=False, repr=False)
    encrypted: bool = False
    zipped: bool = False
    nested: bool = False  # inside a zip a student handed in: a bad member is their problem

    def under(self, depth: int) -> _Entry:
        return replace(self, parts=self.parts[depth:])


def _ignored(part: str) -> bool:
    """Hidden files and folders (.DS_Store, .ipynb_checkpoints, ._x), macOS and cache debris."""
    return part.startswith(".") or part.lower() in _IGNORED_PARTS


def readable_text(text: str) -> str:
    """``text`` as valid Unicode, whatever it came from. Python keeps a file name's bytes that
    are not UTF-8 as lone surrogates (U+DC80-U+DCFF), which no UTF-8 file, CSV or page can
    hold: each such byte is read as Windows-1252 (a superset of Latin-1, what such names
    usually are), and any other lone surrogate becomes U+FFFD."""
    return _SURROGATE.sub(_surrogate_text, text)


def _surrogate_text(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return bytes([code - 0xDC00]).decode("cp1252", errors="replace")
    return "\ufffd"


def _list_folder(root: Path) -> list[_Entry]:
    entries = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not _ignored(d) and not (here / d).is_symlink())
        for name in sorted(files):
            path = here / name
            if _ignored(name):
                continue
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):  # symlinks, sockets, ...: never followed
                continue
            entries.append(
                _Entry(
                    parts=tuple(map(readable_text, path.relative_to(root).parts)),
                    size=info.st_size,
                    where=readable_text(str(path)),
                    open=lambda path=path: path.open("rb"),
                )
            )
    return entries


def _member_name(info: zipfile.ZipInfo) -> str:
    """The member's name as its author meant it: UTF-8 flagged names are decoded by zipfile; a
    name without the flag is cp437, unless its bytes are valid UTF-8 (what many zippers write
    without setting the flag), which a real cp437 name with accents practically never is."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:
            return name
        if not raw.isascii():
            with suppress(UnicodeDecodeError):
                name = raw.decode("utf-8")
    return name


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The member's path parts, or None for one that could land outside the root (absolute,
    drive letter, ``..``)."""
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return None
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        return None
    return parts


def _list_zip(path: Path | str, archive: zipfile.ZipFile) -> list[_Entry]:
    infos = archive.infolist()
    total = sum(info.file_size for info in infos)
    if total > MAX_ZIP_BYTES:
        raise CollectError(
            f"{path}: unpacks to {total / 1024**3:.1f} GB, more than the "
            f"{MAX_ZIP_BYTES // 1024**3} GB allowed (a zip bomb?)"
        )
    entries = []
    for info in infos:
        if info.is_dir():
            continue
        if stat.S_ISLNK(info.external_attr >> 16):  # a symlink member: never followed
            continue
        name = _member_name(info)
        parts = _safe_parts(name)
        if not parts or any(_ignored(part) for part in parts):
            continue
        entries.append(
            _Entry(
                parts=parts,
                size=info.file_size,
                where=f"{path}: {name}",
                open=lambda info=info: archive.open(info),
                encrypted=bool(info.flag_bits & 0x1),
                zipped=True,
            )
        )
    return entries


# ---------------------------------------------------------------------------------------------
# Students found in one input, before keys are settled and files are chosen and copied.


@dataclass(frozen=True)
class _File:
    shown: str  # for people: the path inside the submission, LMS prefixes removed
    staged: str  # the file name to stage it under
    entry: _Entry
    gradable: bool = True  # False for Moodle plugins other than "file"


@dataclass
class _Found:
    key: str
    where: str  # origin when no file is chosen
    name: str = ""
    lms: str = "files"
    lms_id: str = ""
    sid: str = ""
    email: str = ""
    files: list[_File] = field(default_factory=list)
    newest_copy_wins: bool = False  # Canvas: "digits-2.py" was uploaded after "digits-1.py"
    fallback_key: str | None = None  # plain files: the parent folder's name
    identity: str = ""  # where inside its input (set per input): what a clashing key is tagged by


def slug(text: str) -> str:
    """ASCII ``[a-z0-9_]`` text from any name: NFKD-folded, apostrophes dropped."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    folded = re.sub(r"['`]", "", folded.lower())
    return re.sub(r"[^a-z0-9]+", "_", folded).strip("_")


def make_key(name: str, lms_id: str = "") -> str:
    """``<slug of name>-<id>`` (or the bare slug), safe as a file name on any OS."""
    suffix = f"-{slug(lms_id).replace('_', '')}" if lms_id else ""
    suffix = suffix[: MAX_KEY_CHARS // 2]
    base = slug(name)[: MAX_KEY_CHARS - len(suffix)].strip("_") or "student"
    key = base + suffix
    if key in _WINDOWS_DEVICES:
        key += "_"
    return key


def _plain_file(entry: _Entry, parent_name: str, *, given: bool) -> _Found:
    """A student's file: named by its stem, or by its parent folder when the stem is generic.
    A file ``given`` as an input also falls back to its parent folder's name on a clash (its
    classmates given as files sit in other folders; in one folder that name is everyone's)."""
    name = entry.parts[-1]
    stem = name.rsplit(".", 1)[0]
    parent_key = make_key(parent_name)
    generic = _copy_free(name)[0].rsplit(".", 1)[0].lower() in GENERIC_STEMS
    return _Found(
        key=parent_key if generic else make_key(stem),
        where=entry.where,
        files=[_File(shown=name, staged=name, entry=entry)],
        fallback_key=None if generic or not given else parent_key,
    )


def _plain(entries: list[_Entry], root_name: str, where: str) -> list[_Found]:
    found: dict[str, _Found] = {}
    for entry in entries:
        top = entry.parts[0]
        if len(entry.parts) == 1:
            if entry.parts[0].lower().endswith(CODE_SUFFIXES):
                found[top] = _plain_file(entry, root_name, given=False)
            continue
        student = found.setdefault(top + "/", _Found(key=make_key(top), where=f"{where}{top}/"))
        shown = "/".join(entry.parts[1:])
        student.files.append(_File(shown=shown, staged=entry.parts[-1], entry=entry))
    return list(found.values())


def _unwrap(entries: list[_Entry]) -> tuple[list[_Entry], str | None]:
    """Look through a single top-level folder that holds everything."""
    tops = {entry.parts[0] for entry in entries}
    if len(tops) == 1 and all(len(entry.parts) > 1 for entry in entries):
        return [entry.under(1) for entry in entries], tops.pop()
    return entries, None


def _lenient_yaml(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """Values under tags safe_load does not know (``!ruby/object:BigDecimal``...) as plain data."""
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


class _MetadataLoader(yaml.SafeLoader):
    pass


_MetadataLoader.add_constructor(None, _lenient_yaml)  # type: ignore[arg-type]


def _read_metadata(entry: _Entry) -> dict[str, Any]:
    try:
        with entry.open() as handle:
            text = handle.read(MAX_FILE_BYTES + 1)
        if len(text) > MAX_FILE_BYTES:
            raise CollectError(f"{entry.where}: larger than {MAX_FILE_BYTES // _MB} MB")
        data = yaml.load(text.decode("utf-8", errors="replace"), Loader=_MetadataLoader)
    except yaml.YAMLError as error:
        raise CollectError(f"{entry.where}: not readable YAML ({error})") from error
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise CollectError(f"{entry.where}: cannot read it ({error})") from error
    return data if isinstance(data, dict) else {}


def _submitters(record: Any) -> list[dict[str, Any]]:
    if not isinstance(record, dict):
        return []
    people = record.get(":submitters") or record.get("submitters") or []
    if not isinstance(people, list):
        return []
    return [person for person in people if isinstance(person, dict)]


def _field(person: dict[str, Any], name: str) -> str:
    value = person.get(f":{name}", person.get(name))
    return "" if value is None else str(value).strip()


def _gradescope(entries: list[_Entry], prefix: str) -> list[_Found] | None:
    """An export: ``submission_metadata.yml`` at the root of ``entries`` and every other file in
    a ``submission_<id>/`` folder. A metadata file anywhere deeper is a student's own file."""
    metadata_entry = next((e for e in entries if e.parts == (_GRADESCOPE_METADATA,)), None)
    if metadata_entry is None:
        return None
    folders: dict[str, list[_Entry]] = {}
    for entry in entries:
        if entry is metadata_entry:
            continue
        if len(entry.parts) < 2 or not _GRADESCOPE_FOLDER.fullmatch(entry.parts[0]):
            return None
        folders.setdefault(entry.parts[0], []).append(entry)
    metadata = _read_metadata(metadata_entry)
    for folder in metadata:
        if isinstance(folder, str) and _GRADESCOPE_FOLDER.fullmatch(folder):
            folders.setdefault(folder, [])
    found = []
    for folder, members in folders.items():
        submission_id = _GRADESCOPE_FOLDER.fullmatch(folder).group(1)  # type: ignore[union-attr]
        people = _submitters(metadata.get(folder))
        name = ", ".join(n for n in (_field(p, "name") for p in people) if n)
        first = people[0] if people else {}
        found.append(
            _Found(
                key=make_key(name, submission_id),
                where=f"{prefix}{folder}/",
                name=name,
                lms="gradescope",
                lms_id=submission_id,
                sid=_field(first, "sid"),
                email=_field(first, "email"),
                files=[
                    _File(shown="/".join(e.parts[1:]), staged=e.parts[-1], entry=e) for e in members
                ],
            )
        )
    return found


def _could_be_a_student(entry: _Entry) -> bool:
    """Whether the entry makes a student in a plain folder (a subfolder's file, a top-level
    code file): other top-level files (a notes.txt, the download's own zip) are no one's."""
    return len(entry.parts) > 1 or entry.parts[0].lower().endswith(CODE_SUFFIXES)


def _moodle(entries: list[_Entry], prefix: str) -> list[_Found] | None:
    """Moodle's layout, only when every entry that could be a student's fits it."""
    found: dict[str, _Found] = {}
    for entry in entries:
        top = entry.parts[0]
        if len(entry.parts) > 1:
            match = _MOODLE_FOLDER.fullmatch(top)
            shown = "/".join(entry.parts[1:])
        else:
            match = _MOODLE_FLAT.fullmatch(top)
            shown = match.group("file") if match else ""
        if not match:
            if _could_be_a_student(entry):
                return None  # a plain folder with one Moodle-like name: no one is dropped
            continue
        participant, name = match.group("id"), match.group("name").strip()
        student = found.setdefault(
            participant,
            _Found(
                key=make_key(name, participant),
                where=f"{prefix}{top}/" if len(entry.parts) > 1 else entry.where,
                name=name,
                lms="moodle",
                lms_id=participant,
            ),
        )
        gradable = match.group("plugin") == "file"
        student.files.append(
            _File(
                shown=shown,
                staged=shown.rsplit("/", 1)[-1],
                entry=entry,
                gradable=gradable,
            )
        )
    return list(found.values()) or None


def _canvas(entries: list[_Entry], prefix: str) -> list[_Found] | None:
    """Canvas's flat layout, only when every entry that could be a student's fits it."""
    found: dict[str, _Found] = {}
    for entry in entries:
        match = _CANVAS_FILE.fullmatch(entry.parts[0]) if len(entry.parts) == 1 else None
        if not match:
            if _could_be_a_student(entry):
                return None  # a folder, or a plain student's file: not a Canvas download
            continue
        user_id, name, original = match.group("uid"), match.group("name"), match.group("file")
        student = found.setdefault(
            user_id,
            _Found(
                key=make_key(name, user_id),
                where=entry.where,
                name=name,
                lms="canvas",
                lms_id=user_id,
                newest_copy_wins=True,
            ),
        )
        staged = original
        if original.lower().endswith(CODE_SUFFIXES):
            staged = _copy_free(original)[0]  # Canvas added the "-N"; the student wrote digits.py
        student.files.append(_File(shown=original, staged=staged, entry=entry))
    return list(found.values()) or None


def _students_in_tree(
    entries: list[_Entry], label: str, root_name: str, is_zip: bool
) -> list[_Found]:
    """The students of one folder or zip. An LMS layout is decided from the whole tree (at its
    root, else inside its one wrapper folder), never from one student's file; else plain."""
    prefix = f"{label}: " if is_zip else f"{label}{os.sep}"
    unwrapped, wrapper = _unwrap(entries)
    trees = [(entries, prefix)]
    if wrapper is not None:
        trees.append((unwrapped, f"{prefix}{wrapper}{'/' if is_zip else os.sep}"))
    for tree, where in trees:
        for layout in (_gradescope, _moodle, _canvas):
            found = layout(tree, where)
            if found is not None:
                return found
    if is_zip and wrapper:
        return _plain(unwrapped, wrapper, trees[1][1])
    return _plain(entries, root_name, prefix)


def _students_in_input(path: Path, stack: ExitStack) -> list[_Found]:
    """The students of one input, each with its ``identity``: its path inside the input."""
    label = readable_text(str(path))
    is_zip = path.suffix.lower() == ".zip" and path.is_file()
    found = _students_at(path, label, is_zip, stack)
    prefix = f"{label}: " if is_zip else f"{label}{os.sep}"
    for student in found:
        inside = student.where.startswith(prefix)
        student.identity = student.where.removeprefix(prefix) if inside else path.name
    return found


def _students_at(path: Path, label: str, is_zip: bool, stack: ExitStack) -> list[_Found]:
    if not path.exists() and not path.is_symlink():
        raise CollectError(f"{label}: no such file or folder")
    if path.is_dir():
        root_name = readable_text(path.resolve().name)
        return _students_in_tree(_list_folder(path), label, root_name, False)
    if not path.is_file():
        raise CollectError(f"{label}: not a file or folder")
    if is_zip:
        try:
            archive = stack.enter_context(zipfile.ZipFile(path))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
            raise CollectError(f"{label}: not a readable zip ({error})") from error
        stem = readable_text(path.stem)
        return _students_in_tree(_list_zip(label, archive), label, stem, True)
    if path.suffix.lower() in CODE_SUFFIXES:
        entry = _Entry(
            parts=(readable_text(path.name),),
            size=path.stat().st_size,
            where=label,
            open=lambda: path.open("rb"),
        )
        return [_plain_file(entry, readable_text(path.resolve().parent.name), given=True)]
    raise CollectError(
        f"{label}: not a .py or .ipynb file, a folder or a .zip (an LMS bulk download)"
    )


# ---------------------------------------------------------------------------------------------
# Choosing the file to grade.


def _copy_free(name: str) -> tuple[str, int]:
    """``digits-2.py`` -> ``("digits.py", 2)``; a name without a copy number -> ``(name, 0)``."""
    match = _COPY_NUMBER.fullmatch(name)
    if not match:
        return name, 0
    return match.group("stem") + (match.group("rest") or ""), int(match.group("n") or match["p"])


def _listing(names: Iterable[str], limit: int = 8) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _is_code(file: _File) -> bool:
    return file.gradable and file.shown.lower().endswith(CODE_SUFFIXES)


def _open_student_zips(student: _Found, stack: ExitStack) -> list[str]:
    """A student who handed in a zip instead of code: its files join theirs (one level deep,
    through one wrapper folder, with the caps of a bulk download). Returns the problems of the
    zips that cannot be read, which are the student's, never the batch's."""
    problems = []
    for file in [f for f in student.files if f.gradable and f.shown.lower().endswith(".zip")]:
        entry = file.entry
        if entry.size > MAX_FILE_BYTES:
            problems.append(
                f"{file.shown} is {entry.size / _MB:.1f} MB (limit {MAX_FILE_BYTES // _MB} MB)"
            )
            continue
        if entry.encrypted:
            problems.append(f"{file.shown} is encrypted in the zip")
            continue
        try:
            with entry.open() as stream:
                data = stream.read(MAX_FILE_BYTES + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise _unreadable_input(entry, error) from error
        if len(data) > MAX_FILE_BYTES:
            problems.append(f"{file.shown} is over {MAX_FILE_BYTES // _MB} MB")
            continue
        try:
            archive = stack.enter_context(zipfile.ZipFile(io.BytesIO(data)))
            entries, _ = _unwrap(_list_zip(entry.where, archive))
        except CollectError as error:  # a zip bomb: the message says so
            problems.append(f"{file.shown}: {str(error).removeprefix(entry.where + ': ')}")
            continue
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
            problems.append(f"{file.shown} is not a readable zip ({error})")
            continue
        student.files.extend(
            _File(
                shown=f"{file.shown}/{'/'.join(e.parts)}",
                staged=e.parts[-1],
                entry=replace(e, nested=True),
            )
            for e in entries
        )
    return problems


def _choose(student: _Found) -> tuple[_File | None, str | None]:
    candidates = [f for f in student.files if _is_code(f)]
    if not candidates:
        found = _listing(f.shown for f in student.files) or "no files"
        return None, f"no .py or .ipynb file (found: {found})"
    if len(candidates) == 1:
        return candidates[0], None
    for preferred in PREFERRED_NAMES:
        matching = [
            f for f in candidates if _copy_free(f.shown.rsplit("/", 1)[-1])[0].lower() == preferred
        ]
        if not matching:
            continue
        depth = min(f.shown.count("/") for f in matching)
        matching = [f for f in matching if f.shown.count("/") == depth]
        if len(matching) > 1 and student.newest_copy_wins:
            newest = max(_copy_free(f.shown)[1] for f in matching)
            matching = [f for f in matching if _copy_free(f.shown)[1] == newest]
        if len(matching) == 1:
            return matching[0], None
        candidates = matching
        break
    listed = _listing(f.shown for f in candidates)
    return None, f"several candidate files ({listed}): name the one to grade digits.py"


def _staged_name(name: str) -> str:
    """The file name to stage under: the student's, made safe on any OS, suffix kept."""
    stem, _, suffix = readable_text(name).rpartition(".")
    stem = _UNSAFE_NAME_CHARS.sub("_", unicodedata.normalize("NFC", stem))
    stem = stem.encode("utf-8")[:MAX_STAGED_STEM_BYTES].decode("utf-8", errors="ignore")
    stem = stem.strip(" .")
    if not stem or stem.lower() in _WINDOWS_DEVICES:
        stem = f"submission{('_' + stem) if stem else ''}"
    return f"{stem}.{suffix.lower()}"


def _unreadable_input(entry: _Entry, error: Exception) -> CollectError:
    """A file of the inputs themselves cannot be read: the download is broken, stop the batch."""
    hint = "; is the zip corrupt or truncated?" if entry.zipped else ""
    return CollectError(f"{entry.where}: cannot read it ({error}){hint}")


def _copy(entry: _Entry, target: Path) -> str | None:
    """Copy at most MAX_FILE_BYTES; the problem when the file cannot be graded."""
    limit = f"(limit {MAX_FILE_BYTES // _MB} MB)"
    if entry.size > MAX_FILE_BYTES:
        return f"file too large: {entry.parts[-1]} is {entry.size / _MB:.1f} MB {limit}"
    if entry.encrypted:
        return f"file is encrypted in the zip: {entry.parts[-1]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with entry.open() as source, target.open("wb") as sink:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > MAX_FILE_BYTES:
                    break
                sink.write(chunk)
    except NotImplementedError as error:  # a compression method zipfile cannot undo
        shutil.rmtree(target.parent)
        return f"cannot unpack {entry.parts[-1]}: {error}"
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        if entry.nested:
            shutil.rmtree(target.parent)
            return f"cannot unpack {entry.parts[-1]} from the zip handed in: {error}"
        raise _unreadable_input(entry, error) from error
    if written > MAX_FILE_BYTES:
        shutil.rmtree(target.parent)
        return f"file too large: {entry.parts[-1]} is over {MAX_FILE_BYTES // _MB} MB {limit}"
    return None


# ---------------------------------------------------------------------------------------------


def _settle_keys(found: list[_Found]) -> None:
    """Make keys unique, never refusing a student: a plain file moves to its parent folder's
    name; students still sharing a key each get a short hash of where they are inside their
    input (of their whole origin when that is shared too), so a rerun gives the same keys."""
    for _ in range(2):
        for student in _clashing(found):
            if student.fallback_key and student.fallback_key != student.key:
                student.key, student.fallback_key = student.fallback_key, None
    bases = {id(student): student.key for student in found}
    for describe in (lambda s: s.identity, lambda s: s.where):
        clashing = _clashing(found)
        for student in clashing:
            student.key = _tagged(bases[id(student)], _short_hash(describe(student)))
    used: set[str] = set()
    for student in sorted(found, key=lambda s: (s.key, s.where)):
        key, number = student.key, 1
        while key in used:  # the same file given twice, through overlapping inputs
            number += 1
            key = _tagged(student.key, str(number))
        student.key = key
        used.add(key)


def _clashing(found: list[_Found]) -> list[_Found]:
    """The students whose key another student has too."""
    by_key: dict[str, list[_Found]] = {}
    for student in found:
        by_key.setdefault(student.key, []).append(student)
    return [student for group in by_key.values() if len(group) > 1 for student in group]


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:6]


def _tagged(key: str, tag: str) -> str:
    """``<key>-<tag>`` within MAX_KEY_CHARS (the key is cut, the tag kept)."""
    return key[: MAX_KEY_CHARS - len(tag) - 1].rstrip("_-") + f"-{tag}"


def _check_staging(staging: Path) -> None:
    if staging.is_symlink() or (staging.exists() and not staging.is_dir()):
        raise CollectError(f"staging folder {staging}: exists and is not a folder")
    if staging.is_dir() and any(staging.iterdir()):
        raise CollectError(f"staging folder {staging}: not empty")


def collect_submissions(*, inputs: Sequence[Path], staging: Path) -> list[Submission]:
    """One Submission per student found in ``inputs``, sorted by key; files copied to staging.

    Each input is a ``.py``/``.ipynb`` file, a folder or a ``.zip`` (see the module docstring for
    the layouts). The chosen file of each student is copied to ``staging/<key>/<file name>``;
    a student whose file cannot be chosen or read is returned with ``path=None`` and a
    ``problem``. Raises CollectError when an input is missing or unreadable or when no
    submission is found; then nothing is left in ``staging``. No file name refuses the batch:
    students whose names give one key are told apart (see ``_settle_keys``).
    """
    if not inputs:
        raise CollectError("no inputs given: name submission files, folders or zips")
    _check_staging(staging)
    staging.parent.mkdir(parents=True, exist_ok=True)
    # An input named twice (a zip and ./zip) is read once: its students are not doubled.
    unique: dict[Path, Path] = {}
    for path in map(Path, inputs):
        unique.setdefault(path.resolve(), path)
    with ExitStack() as stack:
        found: list[_Found] = []
        for path in unique.values():
            found.extend(_students_in_input(path, stack))
        if not found:
            listed = ", ".join(str(path) for path in inputs)
            zips = [
                str(item)
                for path in map(Path, inputs)
                if path.is_dir()
                for item in sorted(path.glob("*.[zZ][iI][pP]"))
            ]
            hint = f" (name the zip itself: {_listing(zips, limit=3)})" if zips else ""
            raise CollectError(f"no submissions found in {listed}{hint}")
        _settle_keys(found)
        partial = Path(tempfile.mkdtemp(prefix=f".{staging.name}-", dir=staging.parent))
        try:
            submissions = []
            for student in sorted(found, key=lambda s: s.key):
                has_code = any(map(_is_code, student.files))
                unreadable = [] if has_code else _open_student_zips(student, stack)
                chosen, problem = _choose(student)
                if problem is not None and unreadable:
                    problem += "; " + "; ".join(unreadable)
                path = None
                if chosen is not None:
                    name = _staged_name(chosen.staged)
                    problem = _copy(chosen.entry, partial / student.key / name)
                    if problem is None:
                        path = staging / student.key / name
                identity = Student(
                    key=student.key,
                    name=student.name,
                    lms=student.lms,
                    lms_id=student.lms_id,
                    sid=student.sid,
                    email=student.email,
                )
                origin = chosen.entry.where if chosen is not None else student.where
                submissions.append(Submission(identity, origin, path, problem))
            _check_staging(staging)
            if staging.exists():
                staging.rmdir()
            partial.rename(staging)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return submissions
