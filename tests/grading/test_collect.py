"""collect_submissions: finding each student's file in files, folders and LMS bulk downloads."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from mnist_lab.grading import collect
from mnist_lab.grading.collect import CollectError, Submission, collect_submissions, make_key


def short_hash(text: str) -> str:
    """The tag that tells apart students whose names give one key: where they are, hashed."""
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def code(label: str) -> bytes:
    return f"# {label}\nprint('hello from {label}')\n".encode()


def by_key(submissions: list[Submission]) -> dict[str, Submission]:
    return {item.student.key: item for item in submissions}


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def assert_staged(item: Submission, staging: Path, name: str, data: bytes) -> None:
    assert item.problem is None
    assert item.path == staging / item.student.key / name
    assert item.path.read_bytes() == data


# --- Canvas ------------------------------------------------------------------------------------


def test_canvas_download(tmp_path: Path) -> None:
    zip_path = make_zip(
        tmp_path / "canvas.zip",
        {
            "smithjohn_12345_678901_digits.py": code("smith"),
            "doejane_LATE_222_333_digits-1.py": code("doe"),
            "doejane_LATE_222_333_report.pdf": b"%PDF",
            "leebob_late_444_555_digits.py": code("lee old"),
            "leebob_late_444_555_digits-2.py": code("lee newest"),
            "leebob_late_444_555_digits-1.py": code("lee middle"),
            "kimann_666_777_report.pdf": b"%PDF",
            "parkcho_888_999_a.py": code("a"),
            "parkcho_888_999_b.py": code("b"),
        },
    )
    staging = tmp_path / "staging"
    found = collect_submissions(inputs=[zip_path], staging=staging)

    assert [item.student.key for item in found] == sorted(by_key(found))
    items = by_key(found)
    assert set(items) == {
        "smithjohn-12345",
        "doejane-222",
        "leebob-444",
        "kimann-666",
        "parkcho-888",
    }

    smith = items["smithjohn-12345"]
    assert smith.student == collect.Student(
        key="smithjohn-12345", name="smithjohn", lms="canvas", lms_id="12345"
    )
    assert smith.origin == f"{zip_path}: smithjohn_12345_678901_digits.py"
    assert_staged(smith, staging, "digits.py", code("smith"))

    # late and resubmitted: staged under the name the student gave it
    assert_staged(items["doejane-222"], staging, "digits.py", code("doe"))
    assert items["doejane-222"].student.name == "doejane"
    # several uploads of digits.py: the newest (highest -N) wins
    assert_staged(items["leebob-444"], staging, "digits.py", code("lee newest"))

    kim = items["kimann-666"]
    assert kim.path is None
    assert kim.problem == "no .py or .ipynb file (found: report.pdf)"
    park = items["parkcho-888"]
    assert park.path is None
    assert park.problem == "several candidate files (a.py, b.py): name the one to grade digits.py"
    assert files_under(staging) == {
        "smithjohn-12345/digits.py",
        "doejane-222/digits.py",
        "leebob-444/digits.py",
    }


def test_canvas_notebook_preferred_after_py(tmp_path: Path) -> None:
    zip_path = make_zip(
        tmp_path / "canvas.zip",
        {
            "smithjohn_1_2_digits.ipynb": b"{}",
            "smithjohn_1_2_helpers.py": code("helpers"),
            "doejane_3_4_digits.ipynb": b"{}",
            "doejane_3_4_digits.py": code("doe"),
        },
    )
    items = by_key(collect_submissions(inputs=[zip_path], staging=tmp_path / "s"))
    assert items["smithjohn-1"].path.name == "digits.ipynb"
    assert items["doejane-3"].path.name == "digits.py"


# --- a zip a student handed in -----------------------------------------------------------------


def corrupt_member(members: dict[str, bytes], name: str) -> bytes:
    """A stored zip whose member ``name`` fails its CRC check when read."""
    data = bytearray(make_zip_bytes(members))
    start = data.index(name.encode()) + len(name)
    data[start + 5 : start + 40] = b"\xff" * 35
    return bytes(data)


def test_a_students_own_zip_is_opened_one_level_deep(tmp_path: Path) -> None:
    inner = make_zip_bytes(
        {
            "hw3/digits.py": code("smith"),
            "hw3/notes.txt": b"my notes",
            "__MACOSX/hw3/._digits.py": b"junk",
        }
    )
    zip_in_zip = make_zip_bytes({"digits.py": code("deep")})
    zip_path = make_zip(
        tmp_path / "canvas.zip",
        {
            "smithjohn_1_2_hw3.zip": inner,  # through its wrapper folder, junk skipped
            "doejane_3_4_digits.py": code("doe"),
            "doejane_3_4_backup.zip": make_zip_bytes({"digits.py": code("old doe")}),
            "leebob_5_6_outer.zip": make_zip_bytes({"inner.zip": zip_in_zip}),
        },
    )
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[zip_path], staging=staging))
    assert_staged(items["smithjohn-1"], staging, "digits.py", code("smith"))
    assert items["smithjohn-1"].origin == f"{zip_path}: smithjohn_1_2_hw3.zip: hw3/digits.py"
    # code handed in directly wins: the backup zip is never opened
    assert_staged(items["doejane-3"], staging, "digits.py", code("doe"))
    # a zip in a zip in the download is not opened
    assert items["leebob-5"].path is None
    assert items["leebob-5"].problem == (
        "no .py or .ipynb file (found: outer.zip, outer.zip/inner.zip)"
    )


def test_an_unreadable_student_zip_is_that_students_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collect, "MAX_ZIP_BYTES", 50_000)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for i in range(3):
            archive.writestr(f"f{i}.txt", b"0" * 40_000)  # small packed, large unpacked
    zip_path = make_zip(
        tmp_path / "canvas.zip",
        {
            "amyalt_1_2_work.zip": b"not a zip at all" * 10,
            "bomber_3_4_work.zip": bomb.getvalue(),
            "crcbad_5_6_work.zip": corrupt_member({"digits.py": code("crc") * 100}, "digits.py"),
            "fine_7_8_digits.py": code("fine"),
        },
    )
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[zip_path], staging=staging))
    assert items["amyalt-1"].path is None
    assert items["amyalt-1"].problem.startswith(
        "no .py or .ipynb file (found: work.zip); work.zip is not a readable zip ("
    )
    assert items["bomber-3"].path is None
    assert items["bomber-3"].problem.startswith(
        "no .py or .ipynb file (found: work.zip); work.zip: unpacks to "
    )
    assert "a zip bomb" in items["bomber-3"].problem
    assert items["crcbad-5"].path is None
    assert items["crcbad-5"].problem.startswith(
        "cannot unpack digits.py from the zip handed in: Bad CRC-32"
    )
    assert_staged(items["fine-7"], staging, "digits.py", code("fine"))
    assert files_under(staging) == {"fine-7/digits.py"}


def test_a_student_zip_larger_than_a_file_may_be_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collect, "MAX_FILE_BYTES", 1000)
    zip_path = make_zip(
        tmp_path / "canvas.zip",
        {"bigkid_1_2_work.zip": make_zip_bytes({"digits.py": b"#" * 5000})},
    )
    (big,) = collect_submissions(inputs=[zip_path], staging=tmp_path / "staging")
    assert big.path is None
    assert big.problem.startswith("no .py or .ipynb file (found: work.zip); work.zip is ")
    assert "(limit 0 MB)" in big.problem


# --- Moodle ------------------------------------------------------------------------------------


def test_moodle_folders(tmp_path: Path) -> None:
    zip_path = make_zip(
        tmp_path / "moodle.zip",
        {
            "Zoë O'Neil_57_assignsubmission_file_/digits.ipynb": b'{"cells": []}',
            "Zoë O'Neil_57_assignsubmission_onlinetext_/onlinetext.html": b"<p>hi</p>",
            # no trailing underscore, file in a subfolder of the submission
            "Jean-Luc Picard_58_assignsubmission_file/src/digits.py": code("picard"),
            "Jean-Luc Picard_58_assignsubmission_file/src/util.py": code("util"),
            "Ann Lee_59_assignsubmission_onlinetext_/onlinetext.html": b"<p>my code: ...</p>",
            "Bo Chen_60_assignsubmission_file_/work.zip": make_zip_bytes({"digits.py": b"x"}),
        },
    )
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[zip_path], staging=staging))
    assert set(items) == {"zoe_oneil-57", "jean_luc_picard-58", "ann_lee-59", "bo_chen-60"}

    zoe = items["zoe_oneil-57"]
    assert zoe.student == collect.Student(
        key="zoe_oneil-57", name="Zoë O'Neil", lms="moodle", lms_id="57"
    )
    assert_staged(zoe, staging, "digits.ipynb", b'{"cells": []}')
    assert zoe.origin == f"{zip_path}: Zoë O'Neil_57_assignsubmission_file_/digits.ipynb"

    assert_staged(items["jean_luc_picard-58"], staging, "digits.py", code("picard"))
    assert items["jean_luc_picard-58"].student.name == "Jean-Luc Picard"

    ann = items["ann_lee-59"]
    assert ann.path is None
    assert ann.problem == "no .py or .ipynb file (found: onlinetext.html)"
    assert ann.origin == f"{zip_path}: Ann Lee_59_assignsubmission_onlinetext_/"
    # a student who handed in a zip is graded from inside it
    assert_staged(items["bo_chen-60"], staging, "digits.py", b"x")
    assert items["bo_chen-60"].origin == (
        f"{zip_path}: Bo Chen_60_assignsubmission_file_/work.zip: digits.py"
    )


def make_zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_moodle_flat_files_and_extracted_folder(tmp_path: Path) -> None:
    members = {
        "Zoë O'Neil_57_assignsubmission_file_digits.py": code("zoe"),
        "Zoë O'Neil_57_assignsubmission_file_helpers.py": code("helpers"),
        "Zoë O'Neil_57_assignsubmission_onlinetext_onlinetext.html": b"<p/>",
        "Max Mustermann_61_assignsubmission_file_mnist digits.py": code("max"),
    }
    zip_path = make_zip(tmp_path / "moodle-flat.zip", members)
    items = by_key(collect_submissions(inputs=[zip_path], staging=tmp_path / "a"))
    assert set(items) == {"zoe_oneil-57", "max_mustermann-61"}
    assert_staged(items["zoe_oneil-57"], tmp_path / "a", "digits.py", code("zoe"))
    assert_staged(items["max_mustermann-61"], tmp_path / "a", "mnist digits.py", code("max"))

    # the same download, extracted by the instructor into a folder (inside a wrapper folder)
    extracted = tmp_path / "extracted" / "Course-Digits-42"
    extracted.mkdir(parents=True)
    for name, data in members.items():
        (extracted / name).write_bytes(data)
    again = by_key(collect_submissions(inputs=[tmp_path / "extracted"], staging=tmp_path / "b"))
    assert set(again) == set(items)
    assert again["zoe_oneil-57"].student.name == "Zoë O'Neil"
    assert again["zoe_oneil-57"].path.read_bytes() == code("zoe")


class _LegacyNameInfo(zipfile.ZipInfo):
    """A member whose name is stored in the given encoding without the UTF-8 flag, as old
    zippers (Windows' built-in one: the OEM code page) write it."""

    encoding = "cp437"

    def _encodeFilenameFlags(self):  # zipfile's own method, overridden
        return self.filename.encode(self.encoding), self.flag_bits & ~0x800


@pytest.mark.parametrize("encoding", ["cp437", "utf-8"])
def test_unflagged_names_with_accents(tmp_path: Path, encoding: str) -> None:
    zip_path = tmp_path / "moodle.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        info = _LegacyNameInfo("Zoë Müller_57_assignsubmission_file_/digits.py")
        info.encoding = encoding
        archive.writestr(info, code("zoe"))
    with zipfile.ZipFile(zip_path) as archive:
        assert not archive.infolist()[0].flag_bits & 0x800
    (item,) = collect_submissions(inputs=[zip_path], staging=tmp_path / "s")
    assert item.student.name == "Zoë Müller"
    assert item.student.key == "zoe_muller-57"


# --- Gradescope --------------------------------------------------------------------------------

METADATA = """\
submission_901:
  :submitters:
  - :name: Ann Lee
    :sid: '1001'
    :email: ann@example.edu
  :created_at: 2024-03-01 12:00:00.000000000 -08:00
  :score: 8.0
  :history: []
submission_902:
  :submitters:
  - :name: Bob Ray
    :sid: 1002
    :email: bob@example.edu
  - :name: Zoë O'Neil
    :sid: '1003'
    :email: zoe@example.edu
  :created_at: 2024-03-02 12:00:00.000000000 -08:00
  :score: !ruby/object:BigDecimal 18:0.95E1
submission_904:
  :submitters:
  - :name: Cy Twombly
    :sid: '1004'
    :email: cy@example.edu
  :created_at: 2024-03-02 12:00:00.000000000 -08:00
  :score: 0.0
"""


def gradescope_members(top: str) -> dict[str, bytes]:
    return {
        f"{top}submission_metadata.yml": METADATA.encode(),
        f"{top}submission_901/digits.py": code("ann"),
        f"{top}submission_902/hw/digits.ipynb": b'{"cells": [1]}',
        f"{top}submission_902/hw/README.md": b"group",
        f"{top}submission_903/digits.py": code("no metadata"),
        f"{top}submission_904/answers.txt": b"42",
    }


@pytest.mark.parametrize("top", ["assignment_4242_export/", "", "Digits HW export/"])
def test_gradescope_export(tmp_path: Path, top: str) -> None:
    zip_path = make_zip(tmp_path / "gradescope.zip", gradescope_members(top))
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[zip_path], staging=staging))
    assert set(items) == {
        "ann_lee-901",
        "bob_ray_zoe_oneil-902",
        "student-903",
        "cy_twombly-904",
    }
    assert items["ann_lee-901"].student == collect.Student(
        key="ann_lee-901",
        name="Ann Lee",
        lms="gradescope",
        lms_id="901",
        sid="1001",
        email="ann@example.edu",
    )
    assert_staged(items["ann_lee-901"], staging, "digits.py", code("ann"))
    group = items["bob_ray_zoe_oneil-902"]
    assert group.student.name == "Bob Ray, Zoë O'Neil"
    assert (group.student.sid, group.student.email) == ("1002", "bob@example.edu")
    assert_staged(group, staging, "digits.ipynb", b'{"cells": [1]}')
    assert group.origin == f"{zip_path}: {top}submission_902/hw/digits.ipynb"
    # a folder the metadata does not know still counts
    unknown = items["student-903"]
    assert (unknown.student.name, unknown.student.lms, unknown.student.lms_id) == (
        "",
        "gradescope",
        "903",
    )
    assert_staged(unknown, staging, "digits.py", code("no metadata"))
    assert items["cy_twombly-904"].problem == "no .py or .ipynb file (found: answers.txt)"


def test_submission_folders_without_the_metadata_file_are_plain_students(tmp_path: Path) -> None:
    """Without submission_metadata.yml nothing says it is a Gradescope export: each folder is
    a plain student (before, one submission_<id> folder made any folder an export)."""
    export = tmp_path / "assignment_1_export"
    for name, data in gradescope_members("").items():
        if name != "submission_metadata.yml":
            (export / name).parent.mkdir(parents=True, exist_ok=True)
            (export / name).write_bytes(data)
    items = by_key(collect_submissions(inputs=[export], staging=tmp_path / "s"))
    assert set(items) == {"submission_901", "submission_902", "submission_903", "submission_904"}
    assert {item.student.lms for item in items.values()} == {"files"}
    assert_staged(items["submission_901"], tmp_path / "s", "digits.py", code("ann"))


def test_gradescope_unreadable_metadata(tmp_path: Path) -> None:
    members = gradescope_members("assignment_1_export/")
    members["assignment_1_export/submission_metadata.yml"] = b"submission_901: [unclosed"
    zip_path = make_zip(tmp_path / "gs.zip", members)
    with pytest.raises(CollectError, match=r"submission_metadata\.yml: not readable YAML"):
        collect_submissions(inputs=[zip_path], staging=tmp_path / "s")


# --- plain files and folders -------------------------------------------------------------------


def test_plain_files(tmp_path: Path) -> None:
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "digits.py").write_bytes(code("alice"))  # generic: parent's name
    (tmp_path / "bob.ipynb").write_bytes(b"{}")
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    (tmp_path / "x" / "carol.py").write_bytes(code("carol x"))  # clash: parents' names
    (tmp_path / "y" / "carol.py").write_bytes(code("carol y"))
    staging = tmp_path / "staging"
    inputs = [
        tmp_path / "alice" / "digits.py",
        tmp_path / "bob.ipynb",
        tmp_path / "x" / "carol.py",
        tmp_path / "y" / "carol.py",
    ]
    items = by_key(collect_submissions(inputs=inputs, staging=staging))
    assert set(items) == {"alice", "bob", "x", "y"}
    assert items["alice"].student == collect.Student(key="alice")
    assert_staged(items["alice"], staging, "digits.py", code("alice"))
    assert items["alice"].origin == str(tmp_path / "alice" / "digits.py")
    assert_staged(items["bob"], staging, "bob.ipynb", b"{}")
    assert_staged(items["x"], staging, "carol.py", code("carol x"))
    assert_staged(items["y"], staging, "carol.py", code("carol y"))


def test_plain_files_whose_folders_clash_too_are_told_apart_by_a_hash(tmp_path: Path) -> None:
    for folder in ("one/alice", "two/alice"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "digits.py").write_bytes(code(folder))
    first, second = tmp_path / "one/alice/digits.py", tmp_path / "two/alice/digits.py"
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[first, second], staging=staging))
    # both given as "digits.py": their whole origins tell them apart
    one, two = f"alice-{short_hash(str(first))}", f"alice-{short_hash(str(second))}"
    assert set(items) == {one, two}
    assert_staged(items[one], staging, "digits.py", code("one/alice"))
    assert_staged(items[two], staging, "digits.py", code("two/alice"))
    again = collect_submissions(inputs=[first, second], staging=tmp_path / "again")
    assert set(by_key(again)) == set(items)  # a rerun gives the same keys


def test_the_same_lms_student_in_two_downloads_keeps_both_rows(tmp_path: Path) -> None:
    first = make_zip(tmp_path / "a.zip", {"smithjohn_1_2_digits.py": code("a")})
    second = make_zip(tmp_path / "b.zip", {"smithjohn_1_3_digits.py": code("b")})
    staging = tmp_path / "s"
    items = by_key(collect_submissions(inputs=[first, second], staging=staging))
    one = f"smithjohn-1-{short_hash('smithjohn_1_2_digits.py')}"
    two = f"smithjohn-1-{short_hash('smithjohn_1_3_digits.py')}"
    assert set(items) == {one, two}
    assert_staged(items[one], staging, "digits.py", code("a"))
    assert_staged(items[two], staging, "digits.py", code("b"))
    assert {item.student.lms_id for item in items.values()} == {"1"}


def test_plain_folder(tmp_path: Path) -> None:
    course = tmp_path / "course"
    (course / "dave" / "nested").mkdir(parents=True)
    (course / "dave" / "nested" / "digits.py").write_bytes(code("dave"))
    (course / "dave" / "notes.txt").write_text("notes")
    (course / "erin").mkdir()
    (course / "erin" / "essay.docx").write_bytes(b"docx")
    (course / "carol.py").write_bytes(code("carol"))
    (course / "README.md").write_text("not a student")
    (course / ".hidden.py").write_bytes(code("hidden"))
    (course / "dave" / ".ipynb_checkpoints").mkdir()
    (course / "dave" / ".ipynb_checkpoints" / "digits-checkpoint.py").write_bytes(b"old")
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[course], staging=staging))
    assert set(items) == {"carol", "dave", "erin"}
    assert_staged(items["carol"], staging, "carol.py", code("carol"))
    assert_staged(items["dave"], staging, "digits.py", code("dave"))
    assert items["dave"].origin == str(course / "dave" / "nested" / "digits.py")
    assert items["erin"].problem == "no .py or .ipynb file (found: essay.docx)"
    assert items["erin"].origin == f"{course}/erin/"


def test_plain_zip_with_wrapper_folder(tmp_path: Path) -> None:
    zip_path = make_zip(
        tmp_path / "hw.zip",
        {
            "HW3/frank.py": code("frank"),
            "HW3/digits.py": code("generic"),  # generic stem: the wrapper folder's name
            "HW3/Grace Hopper/digits.py": code("grace"),
            "HW3/Grace Hopper/old/digits.py": code("grace old"),
            "HW3/heidi/a.py": code("a"),
            "HW3/heidi/b.ipynb": b"{}",
            "__MACOSX/HW3/._frank.py": b"junk",
        },
    )
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[zip_path], staging=staging))
    assert set(items) == {"frank", "hw3", "grace_hopper", "heidi"}
    assert_staged(items["frank"], staging, "frank.py", code("frank"))
    assert_staged(items["hw3"], staging, "digits.py", code("generic"))
    # the shallowest digits.py wins over a copy in a subfolder
    assert_staged(items["grace_hopper"], staging, "digits.py", code("grace"))
    assert items["heidi"].problem == (
        "several candidate files (a.py, b.ipynb): name the one to grade digits.py"
    )


# --- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "lms_id", "key"),
    [
        ("Smith, John", "12345", "smith_john-12345"),
        ("Zoë O'Neil", "57", "zoe_oneil-57"),
        ("Ｆｕｌｌｗｉｄｔｈ", "", "fullwidth"),
        ("李小龍", "3", "student-3"),
        ("", "", "student"),
        ("..", "", "student"),
        ("CON", "", "con_"),
        ("Ann Lee, Bob Ray", "901", "ann_lee_bob_ray-901"),
    ],
)
def test_make_key(name: str, lms_id: str, key: str) -> None:
    assert make_key(name, lms_id) == key


def test_long_keys_are_cut_but_keep_the_id() -> None:
    key = make_key("Maria " * 40, "1234567")
    assert len(key) <= collect.MAX_KEY_CHARS
    assert key.endswith("-1234567")
    assert key.isascii()


# --- hostile and broken inputs -----------------------------------------------------------------


def test_zip_members_outside_the_root_are_ignored(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    zip_path = work / "evil.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("../escape.py", b"escape")
        archive.writestr("/abs/escape.py", b"escape")
        archive.writestr("C:\\escape.py", b"escape")
        archive.writestr("ivan/../../escape.py", b"escape")
        archive.writestr("ivan\\..\\..\\escape2.py", b"escape")
        link = zipfile.ZipInfo("judy/digits.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr(".DS_Store", b"mac")
        archive.writestr("ivan/.DS_Store", b"mac")
        archive.writestr("__MACOSX/ivan/._digits.py", b"resource fork")
        archive.writestr("ivan/.ipynb_checkpoints/digits-checkpoint.ipynb", b"{}")
        archive.writestr("ivan/digits.ipynb", b'{"ivan": 1}')
        archive.writestr("judy/readme.txt", b"judy")
    staging = work / "staging"
    items = by_key(collect_submissions(inputs=[zip_path], staging=staging))
    assert set(items) == {"ivan", "judy"}
    assert_staged(items["ivan"], staging, "digits.ipynb", b'{"ivan": 1}')
    assert items["judy"].problem == "no .py or .ipynb file (found: readme.txt)"
    assert files_under(tmp_path) == {"work/evil.zip", "work/staging/ivan/digits.ipynb"}


def test_file_too_large_by_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collect, "MAX_FILE_BYTES", 1000)
    zip_path = make_zip(
        tmp_path / "canvas.zip",
        {"bigkid_1_2_digits.py": b"#" * 5000, "smallkid_3_4_digits.py": code("small")},
    )
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[zip_path], staging=staging))
    assert items["bigkid-1"].path is None
    assert items["bigkid-1"].problem.startswith("file too large: bigkid_1_2_digits.py is ")
    assert_staged(items["smallkid-3"], staging, "digits.py", code("small"))
    assert files_under(staging) == {"smallkid-3/digits.py"}


def test_reading_stops_at_the_cap_when_the_size_lies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collect, "MAX_FILE_BYTES", 1000)
    entry = collect._Entry(
        parts=("digits.py",),
        size=10,  # what the header claims
        where="x.zip: digits.py",
        open=lambda: io.BytesIO(b"#" * 10_000_000),
    )
    target = tmp_path / "staging" / "kid" / "digits.py"
    problem = collect._copy(entry, target)
    assert problem == "file too large: digits.py is over 0 MB (limit 0 MB)"
    assert not target.parent.exists()


def test_zip_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collect, "MAX_ZIP_BYTES", 10_000)
    zip_path = make_zip(tmp_path / "bomb.zip", {f"kid{i}/digits.py": b"0" * 4000 for i in range(3)})
    with pytest.raises(CollectError, match=r"bomb\.zip: unpacks to .*a zip bomb"):
        collect_submissions(inputs=[zip_path], staging=tmp_path / "staging")
    assert not (tmp_path / "staging").exists()


def test_missing_input(tmp_path: Path) -> None:
    missing = tmp_path / "nope.zip"
    with pytest.raises(CollectError, match=r"nope\.zip: no such file or folder"):
        collect_submissions(inputs=[missing], staging=tmp_path / "staging")


def test_input_of_another_kind(tmp_path: Path) -> None:
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF")
    with pytest.raises(CollectError, match=r"report\.pdf: not a \.py or \.ipynb file, a folder"):
        collect_submissions(inputs=[report], staging=tmp_path / "staging")


def test_corrupt_zip(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"this is not a zip at all" * 10)
    with pytest.raises(CollectError, match=r"bad\.zip: not a readable zip"):
        collect_submissions(inputs=[bad], staging=tmp_path / "staging")


def test_truncated_zip(tmp_path: Path) -> None:
    whole = make_zip_bytes({f"kid{i}/digits.py": code(str(i)) * 50 for i in range(5)})
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CollectError, match=r"cut\.zip: not a readable zip"):
        collect_submissions(inputs=[cut], staging=tmp_path / "staging")


def test_corrupt_member_leaves_nothing_behind(tmp_path: Path) -> None:
    broken = tmp_path / "broken.zip"
    broken.write_bytes(
        corrupt_member(
            {"amy/digits.py": code("amy"), "zed/digits.py": code("zed") * 100}, "zed/digits.py"
        )
    )
    staging = tmp_path / "out" / "staging"
    with pytest.raises(CollectError, match=r"broken\.zip: zed/digits\.py: cannot read it"):
        collect_submissions(inputs=[broken], staging=staging)
    assert list((tmp_path / "out").iterdir()) == []


def test_no_submissions(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "README.md").write_text("nothing here")
    junk = make_zip(tmp_path / "junk.zip", {"__MACOSX/._x": b"", ".DS_Store": b""})
    with pytest.raises(CollectError, match=r"no submissions found in .*empty, .*junk\.zip"):
        collect_submissions(inputs=[empty, junk], staging=tmp_path / "staging")
    assert not (tmp_path / "staging").exists()


def test_a_folder_holding_only_the_download_says_to_name_the_zip(tmp_path: Path) -> None:
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    make_zip(downloads / "submissions.zip", {"smithjohn_1_2_digits.py": code("smith")})
    with pytest.raises(CollectError, match=r"name the zip itself: .*Downloads/submissions\.zip\)"):
        collect_submissions(inputs=[downloads], staging=tmp_path / "staging")


def test_no_inputs(tmp_path: Path) -> None:
    with pytest.raises(CollectError, match="no inputs"):
        collect_submissions(inputs=[], staging=tmp_path / "staging")


def test_staging_must_be_empty(tmp_path: Path) -> None:
    (tmp_path / "kid.py").write_bytes(code("kid"))
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "old.txt").write_text("old")
    with pytest.raises(CollectError, match="not empty"):
        collect_submissions(inputs=[tmp_path / "kid.py"], staging=staging)
    assert files_under(staging) == {"old.txt"}


def test_existing_empty_staging_is_used(tmp_path: Path) -> None:
    (tmp_path / "kid.py").write_bytes(code("kid"))
    staging = tmp_path / "staging"
    staging.mkdir()
    (item,) = collect_submissions(inputs=[tmp_path / "kid.py"], staging=staging)
    assert_staged(item, staging, "kid.py", code("kid"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kid.py", "staging"]


def test_symlinks_in_folders_are_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.py"
    secret.write_bytes(b"SECRET")
    course = tmp_path / "course"
    (course / "mallory").mkdir(parents=True)
    (course / "mallory" / "digits.py").symlink_to(secret)
    (course / "mallory" / "notes.txt").write_text("notes")
    (course / "linked").symlink_to(tmp_path)
    items = by_key(collect_submissions(inputs=[course], staging=tmp_path / "staging"))
    assert set(items) == {"mallory"}
    assert items["mallory"].problem == "no .py or .ipynb file (found: notes.txt)"
    assert not (tmp_path / "staging").exists() or files_under(tmp_path / "staging") == set()


def test_deterministic(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "gs.zip", gradescope_members("assignment_1_export/"))
    first = collect_submissions(inputs=[zip_path], staging=tmp_path / "one")
    second = collect_submissions(inputs=[zip_path], staging=tmp_path / "two")
    assert [(s.student, s.origin, s.problem) for s in first] == [
        (s.student, s.origin, s.problem) for s in second
    ]


def test_gradescope_submission_in_metadata_without_folder(tmp_path: Path) -> None:
    members = gradescope_members("assignment_1_export/")
    del members["assignment_1_export/submission_904/answers.txt"]
    items = by_key(
        collect_submissions(inputs=[make_zip(tmp_path / "gs.zip", members)], staging=tmp_path / "s")
    )
    cy = items["cy_twombly-904"]
    assert (cy.path, cy.problem) == (None, "no .py or .ipynb file (found: no files)")
    assert cy.origin == f"{tmp_path / 'gs.zip'}: assignment_1_export/submission_904/"


def test_browser_copy_numbers_when_choosing(tmp_path: Path) -> None:
    kid = tmp_path / "course" / "kid"
    kid.mkdir(parents=True)
    (kid / "digits (1).py").write_bytes(code("kid"))
    (kid / "scratch.py").write_bytes(code("scratch"))
    (item,) = collect_submissions(inputs=[tmp_path / "course"], staging=tmp_path / "s")
    assert_staged(item, tmp_path / "s", "digits (1).py", code("kid"))


# --- batches no student can break: the layout comes from the whole tree ----------------------

FORGED_METADATA = b"""\
submission_901:
  :submitters:
  - :name: Nobody Real
    :sid: '9999'
"""


def test_a_students_own_metadata_file_in_a_moodle_download_changes_nothing(
    tmp_path: Path,
) -> None:
    eve = "Eve Mallory_59_assignsubmission_file_"
    zip_path = make_zip(
        tmp_path / "moodle.zip",
        {
            "Ann Lee_57_assignsubmission_file_/digits.py": code("ann"),
            "Bob Ray_58_assignsubmission_file_/digits.py": code("bob"),
            f"{eve}/submission_metadata.yml": FORGED_METADATA,
            f"{eve}/submission_901/digits.py": code("forged"),
            f"{eve}/digits.py": code("eve"),
        },
    )
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[zip_path], staging=staging))
    assert set(items) == {"ann_lee-57", "bob_ray-58", "eve_mallory-59"}
    assert {item.student.lms for item in items.values()} == {"moodle"}
    assert_staged(items["ann_lee-57"], staging, "digits.py", code("ann"))
    assert_staged(items["bob_ray-58"], staging, "digits.py", code("bob"))
    assert_staged(items["eve_mallory-59"], staging, "digits.py", code("eve"))


def test_a_one_student_moodle_download_holding_an_export_stays_moodle(tmp_path: Path) -> None:
    eve = "Eve Mallory_59_assignsubmission_file_"
    zip_path = make_zip(
        tmp_path / "moodle.zip",
        {
            f"{eve}/submission_metadata.yml": FORGED_METADATA,
            f"{eve}/submission_901/digits.py": code("forged"),
        },
    )
    (item,) = collect_submissions(inputs=[zip_path], staging=tmp_path / "s")
    assert item.student == collect.Student(
        key="eve_mallory-59", name="Eve Mallory", lms="moodle", lms_id="59"
    )
    assert_staged(item, tmp_path / "s", "digits.py", code("forged"))


def test_a_metadata_file_beside_plain_students_is_not_an_export(tmp_path: Path) -> None:
    course = tmp_path / "course"
    (course / "bob").mkdir(parents=True)
    (course / "submission_901").mkdir()
    (course / "alice.py").write_bytes(code("alice"))
    (course / "bob" / "digits.py").write_bytes(code("bob"))
    (course / "submission_metadata.yml").write_bytes(FORGED_METADATA)
    (course / "submission_901" / "digits.py").write_bytes(code("forged"))
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[course], staging=staging))
    assert set(items) == {"alice", "bob", "submission_901"}
    assert {(item.student.lms, item.student.name) for item in items.values()} == {("files", "")}
    assert_staged(items["alice"], staging, "alice.py", code("alice"))
    assert_staged(items["bob"], staging, "digits.py", code("bob"))


def test_one_moodle_like_folder_in_a_plain_folder_drops_no_classmate(tmp_path: Path) -> None:
    course = tmp_path / "course"
    for folder in ("alice", "Jane Doe_7_assignsubmission_file_"):
        (course / folder).mkdir(parents=True)
        (course / folder / "digits.py").write_bytes(code(folder))
    (course / "bob.py").write_bytes(code("bob"))
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[course], staging=staging))
    assert set(items) == {"alice", "bob", "jane_doe_7_assignsubmission_file"}
    assert {item.student.lms for item in items.values()} == {"files"}
    assert_staged(items["alice"], staging, "digits.py", code("alice"))
    assert_staged(items["bob"], staging, "bob.py", code("bob"))


def test_one_flat_moodle_like_file_in_a_plain_zip_drops_no_classmate(tmp_path: Path) -> None:
    zip_path = make_zip(
        tmp_path / "hw.zip",
        {
            "hw/alice.py": code("alice"),
            "hw/Jane Doe_7_assignsubmission_file_digits.py": code("jane"),
        },
    )
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[zip_path], staging=staging))
    assert set(items) == {"alice", "jane_doe_7_assignsubmission_file_digits"}
    assert_staged(items["alice"], staging, "alice.py", code("alice"))


def test_canvas_like_names_in_a_plain_folder_drop_no_classmate(tmp_path: Path) -> None:
    """Two Canvas-like names of three files made the folder Canvas and dropped carol."""
    course = tmp_path / "course"
    (course / "dave").mkdir(parents=True)
    (course / "smithjohn_1_2_digits.py").write_bytes(code("smith"))
    (course / "doejane_3_4_digits.py").write_bytes(code("doe"))
    (course / "carol.py").write_bytes(code("carol"))
    (course / "dave" / "digits.py").write_bytes(code("dave"))
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[course], staging=staging))
    assert set(items) == {"smithjohn_1_2_digits", "doejane_3_4_digits", "carol", "dave"}
    assert {item.student.lms for item in items.values()} == {"files"}
    assert_staged(items["carol"], staging, "carol.py", code("carol"))


def test_a_file_of_no_student_beside_an_lms_download_does_not_hide_it(tmp_path: Path) -> None:
    moodle = make_zip(
        tmp_path / "moodle.zip",
        {
            "Ann Lee_57_assignsubmission_file_/digits.py": code("ann"),
            "README.txt": b"downloaded on Monday",
        },
    )
    canvas = make_zip(
        tmp_path / "canvas.zip",
        {"smithjohn_1_2_digits.py": code("smith"), "grades.csv": b"Student,ID\n"},
    )
    (ann,) = collect_submissions(inputs=[moodle], staging=tmp_path / "a")
    assert (ann.student.key, ann.student.lms) == ("ann_lee-57", "moodle")
    (smith,) = collect_submissions(inputs=[canvas], staging=tmp_path / "b")
    assert (smith.student.key, smith.student.lms) == ("smithjohn-1", "canvas")


def test_a_gradescope_export_with_a_stray_folder_is_read_as_plain(tmp_path: Path) -> None:
    members = gradescope_members("assignment_1_export/")
    members["assignment_1_export/alice/digits.py"] = code("alice")
    zip_path = make_zip(tmp_path / "gs.zip", members)
    items = by_key(collect_submissions(inputs=[zip_path], staging=tmp_path / "s"))
    assert set(items) == {
        "alice",
        "submission_901",
        "submission_902",
        "submission_903",
        "submission_904",
    }
    assert_staged(items["alice"], tmp_path / "s", "digits.py", code("alice"))


# --- batches no student can break: names ---------------------------------------------------


def test_names_that_slug_to_one_key_each_get_their_own_row(tmp_path: Path) -> None:
    course = tmp_path / "course"
    (course / "zoe").mkdir(parents=True)
    (course / "zoe" / "digits.py").write_bytes(code("zoe folder"))
    for name in ("Zoë.py", "Zoe.py", "ZOE!.ipynb"):
        (course / name).write_bytes(code(name))
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[course], staging=staging))
    expected = {f"zoe-{short_hash(name)}": name for name in ("Zoë.py", "Zoe.py", "ZOE!.ipynb")}
    assert set(items) == {*expected, f"zoe-{short_hash('zoe/')}"}
    for key, name in expected.items():
        assert_staged(items[key], staging, name, code(name))
    assert_staged(items[f"zoe-{short_hash('zoe/')}"], staging, "digits.py", code("zoe folder"))

    # a classmate who joins later changes no one's key
    (course / "zoe.py").write_bytes(code("late"))
    again = by_key(collect_submissions(inputs=[course], staging=tmp_path / "again"))
    assert set(again) == {*items, f"zoe-{short_hash('zoe.py')}"}


def test_long_cjk_file_names_in_a_zip_get_rows_and_short_enough_staged_names(
    tmp_path: Path,
) -> None:
    zhang, li = "张" * 100, "李" * 100
    zip_path = make_zip(
        tmp_path / "course.zip",
        {
            f"{zhang}.py": code("zhang"),
            f"{li}.py": code("li"),
            f"{li}_5_assignsubmission_file_.py": code("not moodle: a plain file"),
        },
    )
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[zip_path], staging=staging))
    names = {
        f"student-{short_hash(zhang + '.py')}": (zhang, "zhang"),
        f"student-{short_hash(li + '.py')}": (li, "li"),
    }
    assert set(items) == {*names, "5_assignsubmission_file"}
    for key, (name, label) in names.items():
        staged = name[:50] + ".py"  # 150 bytes of the stem in UTF-8, then the suffix
        assert_staged(items[key], staging, staged, code(label))
        assert len(items[key].path.name.encode()) == 153
        assert items[key].origin == f"{zip_path}: {name}.py"


def test_long_cjk_names_in_a_moodle_download(tmp_path: Path) -> None:
    zhang, li = "张" * 100, "李" * 100
    zip_path = make_zip(
        tmp_path / "moodle.zip",
        {
            f"{zhang}_5_assignsubmission_file_/{li}.py": code("zhang"),
            f"{li}_6_assignsubmission_file_/digits.py": code("li"),
        },
    )
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[zip_path], staging=staging))
    assert set(items) == {"student-5", "student-6"}
    assert items["student-5"].student.name == zhang
    assert_staged(items["student-5"], staging, "李" * 50 + ".py", code("zhang"))
    assert_staged(items["student-6"], staging, "digits.py", code("li"))


def test_long_cjk_names_in_a_folder(tmp_path: Path) -> None:
    course = tmp_path / "course"
    course.mkdir()
    name = "王" * 80  # 240 bytes: near the 255 a file system allows
    (course / f"{name}.py").write_bytes(code("wang"))
    (course / name).mkdir()
    (course / name / "digits.py").write_bytes(code("wang folder"))
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[course], staging=staging))
    file_key = f"student-{short_hash(name + '.py')}"
    folder_key = f"student-{short_hash(name + '/')}"
    assert set(items) == {file_key, folder_key}
    assert_staged(items[file_key], staging, "王" * 50 + ".py", code("wang"))
    assert_staged(items[folder_key], staging, "digits.py", code("wang folder"))


def raw_path(folder: Path, name: bytes) -> Path:
    """``folder/name`` where ``name`` is bytes that are not UTF-8 (a Latin-1 file name)."""
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + name))


def test_latin1_file_names_become_valid_unicode(tmp_path: Path) -> None:
    course = tmp_path / "course"
    course.mkdir()
    raw_path(course, b"Ren\xe9e.py").write_bytes(code("renee"))
    raw_path(course, b"M\xfcller").mkdir()
    raw_path(course, b"M\xfcller/digits.py").write_bytes(code("muller"))
    raw_path(course, b"J\xf6rg").mkdir()
    raw_path(course, b"J\xf6rg/\xfcbung.txt").write_bytes(b"no code")
    raw_path(course, b"\x81odd.py").write_bytes(code("odd"))  # not even Windows-1252
    staging = tmp_path / "staging"
    items = by_key(collect_submissions(inputs=[course], staging=staging))
    assert set(items) == {"renee", "muller", "jorg", "odd"}
    assert_staged(items["renee"], staging, "Renée.py", code("renee"))
    assert items["renee"].origin == f"{course}/Renée.py"
    assert items["muller"].origin == f"{course}/Müller/digits.py"
    assert items["jorg"].problem == "no .py or .ipynb file (found: übung.txt)"
    assert items["jorg"].origin == f"{course}/Jörg/"
    assert_staged(items["odd"], staging, "\ufffdodd.py", code("odd"))
    for item in items.values():  # every text a gradebook shows encodes as UTF-8
        text = f"{item.student} {item.origin} {item.path} {item.problem}"
        assert text.encode("utf-8")


@pytest.mark.parametrize(
    ("text", "readable"),
    [
        (os.fsdecode(b"Ren\xe9e"), "Renée"),  # a Latin-1 byte Python kept as a surrogate
        (os.fsdecode(b"\x80uro"), "€uro"),  # Windows-1252's euro sign
        (os.fsdecode(b"\x81x"), "\ufffdx"),  # a byte Windows-1252 leaves undefined
        (chr(0xD800) + "y", "\ufffdy"),  # a lone surrogate of no byte at all
        ("Zoë 张", "Zoë 张"),  # valid text is left alone
    ],
)
def test_readable_text(text: str, readable: str) -> None:
    assert collect.readable_text(text) == readable


def test_an_input_named_twice_is_read_once(tmp_path: Path) -> None:
    zip_path = make_zip(tmp_path / "canvas.zip", {"smithjohn_1_2_digits.py": code("smith")})
    twice = [zip_path, tmp_path / "." / "canvas.zip"]
    (item,) = collect_submissions(inputs=twice, staging=tmp_path / "s")
    assert item.student.key == "smithjohn-1"


def test_the_downloads_own_zip_beside_its_extracted_files_does_not_hide_canvas(
    tmp_path: Path,
) -> None:
    members = {"smithjohn_1_2_digits.py": code("smith"), "doejane_3_4_work.zip": b"PK"}
    folder = tmp_path / "Downloads"
    folder.mkdir()
    for name, data in members.items():
        (folder / name).write_bytes(data)
    make_zip(folder / "submissions.zip", members)
    items = by_key(collect_submissions(inputs=[folder], staging=tmp_path / "s"))
    assert set(items) == {"smithjohn-1", "doejane-3"}
    assert {item.student.lms for item in items.values()} == {"canvas"}


def test_a_name_the_lms_cleaned_to_nothing_keeps_everyones_lms_ids(tmp_path: Path) -> None:
    moodle = make_zip(
        tmp_path / "moodle.zip",
        {
            "_57_assignsubmission_file_/digits.py": code("no name"),
            "Ann Lee_58_assignsubmission_file_/digits.py": code("ann"),
        },
    )
    items = by_key(collect_submissions(inputs=[moodle], staging=tmp_path / "a"))
    assert {key: item.student.lms_id for key, item in items.items()} == {
        "student-57": "57",
        "ann_lee-58": "58",
    }
    canvas = make_zip(
        tmp_path / "canvas.zip",
        {"_12345_678_digits.py": code("no name"), "leeann_222_333_digits.py": code("ann")},
    )
    items = by_key(collect_submissions(inputs=[canvas], staging=tmp_path / "b"))
    assert {key: item.student.lms for key, item in items.items()} == {
        "student-12345": "canvas",
        "leeann-222": "canvas",
    }
