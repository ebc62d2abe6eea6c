"""The bank as a Canvas-compatible QTI 1.2 package (a zip an LMS imports as a quiz).

Layout as Canvas exports it: ``imsmanifest.xml``, ``<quiz id>/<quiz id>.xml`` (the QTI
assessment) and ``<quiz id>/assessment_meta.xml`` (Canvas's quiz settings). The assessment is
valid against the IMS QTI 1.2.1 DTD.

Why not text2qti: it reads its own Markdown text format, derives identifiers from a hash of the
question text (so an edited stem would be imported as a new question), writes zip entries with
the current time (not byte-repeatable), grades multiple-answer questions all-or-nothing in its
XML, has no grader information for essays, and writes question groups with Canvas's
``selection_extension``, which the DTD does not allow. So the XML is written here with the
standard library, following the element structure Canvas and text2qti use.

Scoring in the respconditions equals ``bank.grade_response``: SCORE runs from 0 to 100 (the
decvar's bounds) and is scaled to the item's points. single: the correct option sets 100.
multiple: each option adds +100/k (correct) or -100/k (wrong), clamped to 0..100 by the decvar,
which is Canvas's "partial credit with penalty". numeric: answer, or a value within
[answer - tolerance, answer + tolerance], sets 100. short: each accepted form sets 100 (case
per the question's normalisation). text: an essay, graded by hand; its reference answer and
marking rubric are item feedback for the scorer (view="Scorer"), not shown to students.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from decimal import Decimal

from mnist_lab.archives import deterministic_zip
from mnist_lab.quiz.bank import Bank, Question
from mnist_lab.quiz.lms import (
    grader_information_html,
    groups,
    number_range,
    number_text,
    paragraph_html,
    short_answer_forms,
    text_html,
)

QTI_NAMESPACE = "http://www.imsglobal.org/xsd/ims_qtiasiv1p2"
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
CANVAS_NAMESPACE = "http://canvas.instructure.com/xsd/cccv1p0"
MANIFEST_NAMESPACE = "http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1"
CANVAS_TYPES = {
    "single": "multiple_choice_question",
    "multiple": "multiple_answers_question",
    "numeric": "numerical_question",
    "short": "short_answer_question",
    "text": "essay_question",
}
RESPONSE = "response1"
MAX_SCORE = 100


def stable_ident(*parts: str) -> str:
    """A Canvas-style identifier ("g" + 32 hex digits) derived from names, never random, so a
    re-import matches the earlier import."""
    return "g" + hashlib.sha256(":".join(("mnist-lab", *parts)).encode()).hexdigest()[:32]


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _metadata(parent: ET.Element, fields: list[tuple[str, str]]) -> None:
    qtimetadata = _sub(parent, "qtimetadata")
    for label, entry in fields:
        field = _sub(qtimetadata, "qtimetadatafield")
        _sub(field, "fieldlabel", label)
        _sub(field, "fieldentry", entry)


def _material(parent: ET.Element, html: str) -> None:
    _sub(_sub(parent, "material"), "mattext", html, texttype="text/html")


def _condition(
    parent: ET.Element,
    *,
    go_on: bool,
    score: tuple[str, str] | None = None,
    feedback: str | None = None,
) -> ET.Element:
    """A respcondition; returns its conditionvar to be filled. score = (action, value)."""
    condition = _sub(parent, "respcondition", **{"continue": "Yes" if go_on else "No"})
    conditionvar = _sub(condition, "conditionvar")
    if score is not None:
        _sub(condition, "setvar", score[1], action=score[0], varname="SCORE")
    if feedback is not None:
        _sub(condition, "displayfeedback", feedbacktype="Response", linkrefid=feedback)
    return conditionvar


def _item_feedback(parent: ET.Element, ident: str, html: str, *, view: str = "All") -> None:
    attributes = {"ident": ident} if view == "All" else {"ident": ident, "view": view}
    feedback = _sub(parent, "itemfeedback", **attributes)
    _material(_sub(feedback, "flow_mat"), html)


def _item(question: Question) -> ET.Element:
    item = ET.Element("item", ident=question.id, title=question.id)
    answer_ids = {
        "single": ",".join(option.id for option in question.options),
        "multiple": ",".join(option.id for option in question.options),
    }.get(question.type, "")
    _metadata(
        _sub(item, "itemmetadata"),
        [
            ("question_type", CANVAS_TYPES[question.type]),
            ("points_possible", number_text(question.points)),
            ("original_answer_ids", answer_ids),
            ("assessment_question_identifierref", stable_ident("question", question.id)),
        ],
    )
    presentation = _sub(item, "presentation")
    _material(presentation, paragraph_html(question.stem))
    if question.type in ("single", "multiple"):
        cardinality = "Single" if question.type == "single" else "Multiple"
        response = _sub(presentation, "response_lid", ident=RESPONSE, rcardinality=cardinality)
        choices = _sub(response, "render_choice")
        for option in question.options:
            label = _sub(choices, "response_label", ident=option.id)
            _material(label, text_html(option.text))
    else:
        response = _sub(presentation, "response_str", ident=RESPONSE, rcardinality="Single")
        fib = _sub(
            response, "render_fib", **({"fibtype": "Decimal"} if question.type == "numeric" else {})
        )
        _sub(fib, "response_label", ident="answer1", rshuffle="No")

    processing = _sub(item, "resprocessing")
    _sub(
        _sub(processing, "outcomes"),
        "decvar",
        maxvalue=str(MAX_SCORE),
        minvalue="0",
        varname="SCORE",
        vartype="Decimal",
    )
    feedback: list[tuple[str, str, str]] = []  # (ident, html, view)
    if question.type == "single":
        for option in question.options:
            _sub(
                _condition(processing, go_on=True, feedback=f"{option.id}_fb"),
                "varequal",
                option.id,
                respident=RESPONSE,
            )
        correct = question.correct_options[0]
        _sub(
            _condition(
                processing, go_on=False, score=("Set", str(MAX_SCORE)), feedback="correct_fb"
            ),
            "varequal",
            correct.id,
            respident=RESPONSE,
        )
    elif question.type == "multiple":
        share = Decimal(MAX_SCORE) / len(question.correct_options)  # exact: k divides 100
        for option in question.options:
            value = share if option.correct else -share
            _sub(
                _condition(
                    processing, go_on=True, score=("Add", _plain(value)), feedback=f"{option.id}_fb"
                ),
                "varequal",
                option.id,
                respident=RESPONSE,
            )
        # Feedback only: exactly the correct options were chosen (the score came from above).
        exact = _sub(_condition(processing, go_on=False, feedback="correct_fb"), "and")
        for option in question.options:
            parent = exact if option.correct else _sub(exact, "not")
            _sub(parent, "varequal", option.id, respident=RESPONSE)
    elif question.type == "numeric":
        low, high = number_range(question)
        either = _sub(
            _condition(
                processing, go_on=False, score=("Set", str(MAX_SCORE)), feedback="correct_fb"
            ),
            "or",
        )
        _sub(either, "varequal", number_text(question.answer), respident=RESPONSE)
        within = _sub(either, "and")
        _sub(within, "vargte", low, respident=RESPONSE)
        _sub(within, "varlte", high, respident=RESPONSE)
    elif question.type == "short":
        conditionvar = _condition(
            processing, go_on=False, score=("Set", str(MAX_SCORE)), feedback="correct_fb"
        )
        case = "No" if "case" in question.normalise else "Yes"
        # Canvas writes the accepted answers side by side in the conditionvar, which QTI reads
        # as "and"; <or> says what is meant and is what Canvas uses for numeric answers too.
        either = _sub(conditionvar, "or")
        for form in short_answer_forms(question):
            _sub(either, "varequal", form, respident=RESPONSE, case=case)
    else:  # essay: no score, Canvas's own export writes exactly this condition
        _sub(_condition(processing, go_on=False), "other")
        feedback.append(("reference_answer", grader_information_html(question), "Scorer"))

    if question.type != "text":
        _sub(_condition(processing, go_on=True, feedback="general_incorrect_fb"), "other")
        feedback.append(("correct_fb", paragraph_html(question.feedback_correct), "All"))
        feedback.append(
            ("general_incorrect_fb", paragraph_html(question.feedback_incorrect), "All")
        )
    for option in question.options:
        feedback.append((f"{option.id}_fb", paragraph_html(option.feedback), "All"))
    for ident, html, view in feedback:
        _item_feedback(item, ident, html, view=view)
    return item


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def quiz_ident(bank: Bank) -> str:
    return stable_ident("quiz", bank.title)


def assessment_xml(bank: Bank) -> bytes:
    """The QTI assessment: plain questions as items, the variants of a template as a section
    from which the LMS draws one item (selection_number 1)."""
    root = ET.Element(
        "questestinterop",
        {
            "xmlns": QTI_NAMESPACE,
            f"{{{XSI_NAMESPACE}}}schemaLocation": (
                f"{QTI_NAMESPACE} http://www.imsglobal.org/xsd/ims_qtiasiv1p2p1.xsd"
            ),
        },
    )
    assessment = _sub(root, "assessment", ident=quiz_ident(bank), title=bank.title)
    _metadata(assessment, [("cc_maxattempts", "1")])
    root_section = _sub(assessment, "section", ident="root_section")
    for template, questions in groups(bank):
        if template is None:
            root_section.append(_item(questions[0]))
            continue
        section = _sub(
            root_section, "section", ident=stable_ident("group", template), title=template
        )
        selection = _sub(_sub(section, "selection_ordering"), "selection")
        _sub(selection, "selection_number", "1")
        for question in questions:
            section.append(_item(question))
    return _serialise(root)


def quiz_points(bank: Bank) -> float:
    """What the quiz is worth: every plain question, and one variant per template."""
    return sum(questions[0].points for _, questions in groups(bank))


def assessment_meta_xml(bank: Bank) -> bytes:
    """Canvas's quiz settings (the file Canvas's own export writes next to the assessment)."""
    ident = quiz_ident(bank)
    quiz = ET.Element("quiz", {"xmlns": CANVAS_NAMESPACE, "identifier": ident})
    points = number_text(quiz_points(bank))
    for tag, text in [
        ("title", bank.title),
        ("description", ""),
        ("shuffle_answers", "true"),
        ("scoring_policy", "keep_highest"),
        ("quiz_type", "assignment"),
        ("points_possible", points),
        ("show_correct_answers", "true"),
        ("allowed_attempts", "1"),
        ("one_question_at_a_time", "false"),
        ("cant_go_back", "false"),
        ("available", "false"),
    ]:
        _sub(quiz, tag, text)
    assignment = _sub(quiz, "assignment", identifier=stable_ident("assignment", bank.title))
    for tag, text in [
        ("title", bank.title),
        ("workflow_state", "unpublished"),
        ("quiz_identifierref", ident),
        ("points_possible", points),
        ("grading_type", "points"),
        ("submission_types", "online_quiz"),
    ]:
        _sub(assignment, tag, text)
    _sub(quiz, "assignment_group_identifierref", stable_ident("assignment-group", bank.title))
    return _serialise(quiz)


def manifest_xml(bank: Bank) -> bytes:
    """The IMS content-package manifest that points an LMS to the two files."""
    ident = quiz_ident(bank)
    meta_ident = stable_ident("quiz-meta", bank.title)
    manifest = ET.Element(
        "manifest",
        {"xmlns": MANIFEST_NAMESPACE, "identifier": stable_ident("manifest", bank.title)},
    )
    metadata = _sub(manifest, "metadata")
    _sub(metadata, "schema", "IMS Content")
    _sub(metadata, "schemaversion", "1.1.3")
    _sub(manifest, "organizations")
    resources = _sub(manifest, "resources")
    resource = _sub(resources, "resource", identifier=ident, type="imsqti_xmlv1p2")
    _sub(resource, "file", href=f"{ident}/{ident}.xml")
    _sub(resource, "dependency", identifierref=meta_ident)
    meta = _sub(
        resources,
        "resource",
        identifier=meta_ident,
        type="associatedcontent/imscc_xmlv1p1/learning-application-resource",
        href=f"{ident}/assessment_meta.xml",
    )
    _sub(meta, "file", href=f"{ident}/assessment_meta.xml")
    return _serialise(manifest)


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def qti_files(*, bank: Bank) -> dict[str, bytes]:
    """The package's files by their path inside the zip."""
    ident = quiz_ident(bank)
    return {
        "imsmanifest.xml": manifest_xml(bank),
        f"{ident}/{ident}.xml": assessment_xml(bank),
        f"{ident}/assessment_meta.xml": assessment_meta_xml(bank),
    }


def qti_package(*, bank: Bank) -> bytes:
    """The QTI zip, byte-identical for the same bank."""
    return deterministic_zip(qti_files(bank=bank))
