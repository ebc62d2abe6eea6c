"""The conceptual quiz: one question bank (``questions.yaml``), its grader, and every output
made from it (the self-check page, the answer key, QTI, Moodle XML and GIFT)."""
