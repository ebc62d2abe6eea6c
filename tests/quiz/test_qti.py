"""The QTI package: Canvas's layout, valid against the QTI 1.2.1 DTD, stable identifiers,
byte-repeatable, variants as question groups."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from mnist_lab.quiz.bank import load_bank
from mnist_lab.quiz.lms import text_html
from mnist_lab.quiz.qti import (
    CANVAS_TYPES,
    qti_files,
    qti_package,
    quiz_ident,
    quiz_points,
    stable_ident,
)
from mnist_lab.quiz.variants import bank_with_variants

etree = pytest.importorskip("lxml.etree")

QTI_DTD = Path(__file__).resolve().parents[2].parent / "shared" / "schemas" / "ims_qtiasiv1p2p1.dtd"


@pytest.fixture(scope="module")
def bank():
    return bank_with_variants(load_bank(), seed=11, variants=3)


@pytest.fixture(scope="module")
def files(bank):
    return qti_files(bank=bank)


def _assessment(files) -> bytes:
    (name,) = [n for n in files if n.endswith(".xml") and "/" in n and "meta" not in n]
    return files[name]


def _without_namespaces(document: bytes):
    """The README's recipe: the DTD predates namespaces, so strip them and xsi:* attributes."""
    root = etree.fromstring(document)
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            element.tag = element.tag.split("}", 1)[1]
        for name in list(element.attrib):
            if name.startswith("{"):
                del element.attrib[name]
    etree.cleanup_namespaces(root)
    return root


def test_assessment_is_valid_against_the_qti_dtd(files):
    if not QTI_DTD.is_file():
        pytest.skip(f"QTI 1.2.1 DTD not found at {QTI_DTD} (only present in the workplace)")
    dtd = etree.DTD(str(QTI_DTD))
    root = _without_namespaces(_assessment(files))
    assert dtd.validate(root), dtd.error_log.filter_from_errors()


def test_every_document_is_well_formed_and_the_manifest_points_to_the_files(files, bank):
    for document in files.values():
        etree.fromstring(document)
    manifest = _without_namespaces(files["imsmanifest.xml"])
    hrefs = {element.get("href") for element in manifest.iter("file")}
    assert hrefs == set(files) - {"imsmanifest.xml"}
    ident = quiz_ident(bank)
    assert set(files) == {"imsmanifest.xml", f"{ident}/{ident}.xml", f"{ident}/assessment_meta.xml"}


def test_every_question_is_an_item_with_its_canvas_type_and_points(files, bank):
    root = _without_namespaces(_assessment(files))
    items = {item.get("ident"): item for item in root.iter("item")}
    assert list(items) == [question.id for question in bank.questions]
    for question in bank.questions:
        fields = {
            field.findtext("fieldlabel"): field.findtext("fieldentry")
            for field in items[question.id].iter("qtimetadatafield")
        }
        assert fields["question_type"] == CANVAS_TYPES[question.type]
        assert float(fields["points_possible"]) == question.points


def test_variants_form_groups_that_draw_one_question(files, bank):
    root = _without_namespaces(_assessment(files))
    groups = [s for s in root.iter("section") if s.find("selection_ordering") is not None]
    templates = {q.variant_of for q in bank.questions if q.variant_of}
    assert {group.get("title") for group in groups} == templates
    for group in groups:
        assert group.findtext("selection_ordering/selection/selection_number") == "1"
        members = [item.get("ident") for item in group.iter("item")]
        assert members == [q.id for q in bank.questions if q.variant_of == group.get("title")]
    meta = _without_namespaces(files[next(n for n in files if n.endswith("assessment_meta.xml"))])
    assert float(meta.findtext("points_possible")) == quiz_points(bank)
    plain = sum(q.points for q in bank.questions if q.variant_of is None)
    assert quiz_points(bank) == plain + len(templates)


def test_essay_reference_answer_is_for_the_scorer_only(files, bank):
    root = _without_namespaces(_assessment(files))
    for question in bank.questions:
        if question.type != "text":
            continue
        item = next(i for i in root.iter("item") if i.get("ident") == question.id)
        feedback = item.find("itemfeedback[@ident='reference_answer']")
        assert feedback.get("view") == "Scorer"
        scorer = "".join(feedback.itertext())
        assert text_html(question.reference_answer) in scorer
        assert all(text_html(item.criterion) in scorer for item in question.rubric)
        assert not item.findall(".//displayfeedback[@linkrefid='reference_answer']")


def test_identifiers_are_derived_from_names_not_random(bank):
    assert quiz_ident(bank) == stable_ident("quiz", bank.title)
    assert stable_ident("quiz", "A") == stable_ident("quiz", "A") != stable_ident("quiz", "B")
    assert quiz_ident(bank).startswith("g")


def test_the_zip_is_byte_repeatable_and_has_fixed_timestamps(bank):
    first = qti_package(bank=bank)
    assert first == qti_package(bank=bank_with_variants(load_bank(), seed=11, variants=3))
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.testzip() is None
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert archive.namelist()[0] != ""


def test_an_edited_stem_keeps_the_item_ident(tmp_path):
    from dataclasses import replace

    bank = load_bank()
    question = bank.questions[0]
    edited = replace(
        bank, questions=(replace(question, stem="A new wording?"), *bank.questions[1:])
    )
    before = _without_namespaces(_assessment(qti_files(bank=bank)))
    after = _without_namespaces(_assessment(qti_files(bank=edited)))
    idents = [[item.get("ident") for item in root.iter("item")] for root in (before, after)]
    assert idents[0] == idents[1]


def test_the_package_does_not_reference_the_workplace(files):
    for document in files.values():
        assert b"shared/" not in document
        assert b"../" not in document
