/*
 * quiz.js: the self-check logic of the mnist-lab student quiz page (inlined into the page).
 *
 * HOW THE PAGE CHECKS ANSWERS WITHOUT CONTAINING THEM
 *
 * The page must give immediate feedback, yet the file must not contain a reference answer, a
 * correct-option marker, an accepted answer, a numeric answer or any feedback text as readable
 * text. Everything the grader needs is therefore put in "locked boxes" (built by
 * mnist_lab/quiz/html.py, opened here):
 *
 *   key(token)  = SHA-256(salt "\x1f" question "\x1f" kind "\x1f" token)     (UTF-8)
 *   tag(key)    = first 16 bytes of SHA-256(key "tag"), hex
 *   box         = {t: tag(key), d: hex(JSON payload XOR keystream(key))}
 *   keystream   = SHA-256(key "stream" counter32be) for counter = 0, 1, 2 ...
 *
 * A box opens only for the key derived from the right token; the salt is per page, so hashes
 * cannot be looked up in a table made for another page. Questions and options are named by
 * position on the page (question "q3", option "o_2"), never by their bank ids, which authors
 * write for themselves and which may name the answer. Options are shown in an order drawn from
 * the build's seed (mnist_lab/quiz/order.py), so a position says nothing about correctness.
 *
 *   single / multiple: one box per option, token = its page value ("o_2"), payload
 *     {c: 1|0, f: feedback}.
 *     The page opens the boxes of the chosen options; for "multiple" it opens all of them to
 *     count k, the number of correct options, which the score needs.
 *   short: one box per accepted answer, token = the accepted answer in its comparison form
 *     (responses.comparison_form: NFC, ends trimmed, case folded if the question ignores case);
 *     payload {f: feedback}. The response is put in the same form: a box opens only when the
 *     answer is accepted.
 *   numeric: the line is cut into buckets of width w = 2 * (high - low), where [low, high] is
 *     Moodle's interval of right values (responses.numeric_interval); token = the bucket index
 *     floor(x / w) as a decimal integer. Boxes exist for the buckets around the interval (one
 *     more on each side, so floating-point rounding can never miss one); payload {a: answer,
 *     t: tolerance, f: ...}. A response far from the answer opens nothing (0 points); one near
 *     it opens a box, and the page then applies the Python rule exactly. So the page's score
 *     equals the Python score for every number, while the answer is only readable after a
 *     response in its neighbourhood.
 *   general feedback: one box per question with token "" (payload {fi: feedback_incorrect, and
 *     fc: feedback_correct for the choice types}); it only hides the text from casual reading.
 *   text (free text): one box with token "" holding the list of what a good answer addresses
 *     ({k: [...]}); the page opens it after an attempt.
 *   A practice page (built with model answers) adds r: the reference answer to the payloads a
 *     right response opens, and to the free-text box.
 *
 * This hides the answers from anyone reading or searching the file. It is not a secret against a
 * determined student running code: choice questions have a handful of options and can always be
 * tried one by one (that is what a self-check page is for), and numbers can be enumerated. The
 * graded versions of the quiz live in the LMS exports.
 *
 * HOW A TYPED RESPONSE IS READ
 *
 * readNumber and readText repeat mnist_lab/quiz/responses.py step by step (Moodle's rule);
 * tests/quiz/test_scoring_parity.py compares both on thousands of responses. Where the rule may
 * read something other than the student meant, the page says "Not understood" with the words
 * html.py puts in the page data, and shows no verdict.
 *
 * SHA-256 is implemented below in plain JavaScript, not with crypto.subtle: Web Crypto is only
 * available in secure contexts (it works for a file opened from disk in Chromium, but not when an
 * instructor serves the page over plain HTTP), and it is asynchronous. The synchronous version
 * keeps MnistQuiz.gradeResponse a plain function with the same rules as grade_response in bank.py;
 * tests/quiz/test_scoring_parity.py runs both on every question, option and edge response.
 */
(function () {
  "use strict";

  // ------------------------------------------------------------------------------ SHA-256
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);

  function rotr(x, n) {
    return (x >>> n) | (x << (32 - n));
  }

  /** SHA-256 of a Uint8Array, as a Uint8Array of 32 bytes. */
  function sha256(message) {
    var length = message.length;
    var padded = new Uint8Array((((length + 9 + 63) / 64) | 0) * 64);
    padded.set(message);
    padded[length] = 0x80;
    var bitsHigh = Math.floor(length / 0x20000000);
    var bitsLow = (length * 8) >>> 0;
    var end = padded.length;
    for (var i = 0; i < 4; i++) {
      padded[end - 8 + i] = (bitsHigh >>> (24 - 8 * i)) & 0xff;
      padded[end - 4 + i] = (bitsLow >>> (24 - 8 * i)) & 0xff;
    }
    var H = new Uint32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    ]);
    var W = new Uint32Array(64);
    for (var offset = 0; offset < end; offset += 64) {
      for (var t = 0; t < 16; t++) {
        var p = offset + 4 * t;
        W[t] = (padded[p] << 24) | (padded[p + 1] << 16) | (padded[p + 2] << 8) | padded[p + 3];
      }
      for (t = 16; t < 64; t++) {
        var w15 = W[t - 15];
        var w2 = W[t - 2];
        var s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3);
        var s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10);
        W[t] = W[t - 16] + s0 + W[t - 7] + s1;
      }
      var a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
      for (t = 0; t < 64; t++) {
        var S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        var ch = (e & f) ^ (~e & g);
        var t1 = (h + S1 + ch + K[t] + W[t]) >>> 0;
        var S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        var maj = (a & b) ^ (a & c) ^ (b & c);
        var t2 = (S0 + maj) >>> 0;
        h = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
    }
    var digest = new Uint8Array(32);
    for (i = 0; i < 8; i++) {
      digest[4 * i] = H[i] >>> 24;
      digest[4 * i + 1] = (H[i] >>> 16) & 0xff;
      digest[4 * i + 2] = (H[i] >>> 8) & 0xff;
      digest[4 * i + 3] = H[i] & 0xff;
    }
    return digest;
  }

  var encoder = new TextEncoder();
  var decoder = new TextDecoder("utf-8", { fatal: true });

  function concat(first, second) {
    var joined = new Uint8Array(first.length + second.length);
    joined.set(first);
    joined.set(second, first.length);
    return joined;
  }

  function toHex(bytes) {
    var out = "";
    for (var i = 0; i < bytes.length; i++) {
      out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return out;
  }

  function fromHex(text) {
    var bytes = new Uint8Array(text.length / 2);
    for (var i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.substr(2 * i, 2), 16);
    return bytes;
  }

  function sha256Hex(text) {
    return toHex(sha256(encoder.encode(text)));
  }

  // ------------------------------------------------------------------------------ locked boxes
  var SEPARATOR = "\u001f";

  function boxKey(salt, questionId, kind, token) {
    return sha256(encoder.encode([salt, questionId, kind, token].join(SEPARATOR)));
  }

  function boxTag(key) {
    return toHex(sha256(concat(key, encoder.encode("tag")))).slice(0, 32);
  }

  function keystream(key, length) {
    var stream = new Uint8Array(length + 32);
    var label = encoder.encode("stream");
    for (var counter = 0; counter * 32 < length; counter++) {
      var block = new Uint8Array([
        counter >>> 24, (counter >>> 16) & 0xff, (counter >>> 8) & 0xff, counter & 0xff
      ]);
      stream.set(sha256(concat(concat(key, label), block)), counter * 32);
    }
    return stream;
  }

  /** The payload of the box in `boxes` that `key` opens, or null when none opens. */
  function openBox(boxes, key) {
    var tag = boxTag(key);
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].t !== tag) continue;
      var sealed = fromHex(boxes[i].d);
      var stream = keystream(key, sealed.length);
      for (var j = 0; j < sealed.length; j++) sealed[j] ^= stream[j];
      return JSON.parse(decoder.decode(sealed));
    }
    return null;
  }

  // ------------------------------------------------------------------------------ reading
  // responses.TRIMMED (PHP's trim) and the exact set of Python's str.isspace().
  var TRIMMED = " \t\n\r\u0000\u000b";
  var PY_SPACE = "\t\n\u000b\u000c\r\u001c\u001d\u001e\u001f \u0085\u00a0\u1680" +
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" +
    "\u2028\u2029\u202f\u205f\u3000";
  var MOODLE_EPSILON = 1e-14; // responses.MOODLE_EPSILON
  var EXPONENT_FORMS = /(?:e|E|(?:x|\*|\u00d7)10(?:\^|\*\*))([+-]?[0-9]+)/g;
  var LEADING_NUMBER = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[-+]?[0-9]+)?/;
  var THOUSANDS_COMMAS = /^[+-]?[1-9][0-9]{0,2}(?:,[0-9]{3})+(?![0-9])/;
  var ARGUMENTS = /\([^()]*[^()\s][^()]*\)$/;
  var END_PUNCTUATION = ".!?;,:";
  var DECIMAL_DIGIT = /\p{Nd}/u;

  function trim(text) {
    var chars = Array.from(text);
    var start = 0;
    var end = chars.length;
    while (start < end && TRIMMED.indexOf(chars[start]) >= 0) start++;
    while (end > start && TRIMMED.indexOf(chars[end - 1]) >= 0) end--;
    return chars.slice(start, end).join("");
  }

  function isPySpace(character) {
    return PY_SPACE.indexOf(character) >= 0;
  }

  /** responses._moodle_number: [value or null, unit text]. */
  function moodleNumber(text) {
    var compact = text.split(" ").join("").replace(EXPONENT_FORMS, "e$1").split(",").join("");
    var match = LEADING_NUMBER.exec(compact);
    if (match === null) return [null, compact];
    var value = Number(match[0]);
    return [Number.isFinite(value) ? value : null, compact.slice(match[0].length)];
  }

  function hasOtherDigits(text) {
    for (var character of text) {
      if (DECIMAL_DIGIT.test(character) && !(character >= "0" && character <= "9")) return true;
    }
    return false;
  }

  function hasAsciiDigit(text) {
    return /[0-9]/.test(text);
  }

  /** responses._comma_problem: [problem, suggestion] or null. */
  function commaProblem(text) {
    var compact = text.split(" ").join("");
    if (compact.indexOf(",") < 0) return null;
    var grouped = THOUSANDS_COMMAS.exec(compact);
    if (grouped !== null && compact.slice(grouped[0].length).indexOf(",") < 0) return null;
    var german = compact.split(".").join("").split(",").join(".");
    var number = LEADING_NUMBER.exec(german);
    var rest = number ? german.slice(number[0].length) : german;
    if (number === null || /[0-9.,]/.test(rest)) return ["comma-unclear", ""];
    return ["comma", number[0]];
  }

  function numberReading(value, unit, problem, suggestion) {
    return { value: value, unit: unit || "", problem: problem || null, suggestion: suggestion || "" };
  }

  /** responses.read_number. */
  function readNumber(response) {
    if (typeof response === "boolean") return numberReading(null, "", "not-a-number");
    if (typeof response === "number") {
      return Number.isFinite(response)
        ? numberReading(response)
        : numberReading(null, "", "not-a-number");
    }
    if (typeof response !== "string") return numberReading(null, "", "not-a-number");
    var text = trim(response);
    var read = moodleNumber(text);
    var value = read[0];
    var unit = read[1];
    if (hasOtherDigits(text)) return numberReading(value, unit, "digits");
    if (value === null) return numberReading(null, unit, "not-a-number");
    var comma = commaProblem(text);
    if (comma !== null) return numberReading(value, unit, comma[0], comma[1]);
    if (hasAsciiDigit(unit)) return numberReading(value, unit, "trailing");
    return numberReading(value, unit);
  }

  /** responses.numeric_interval: the same floating-point operations in the same order. */
  function numericInterval(answer, tolerance) {
    var reach = tolerance + MOODLE_EPSILON *
      Math.max(Math.abs(tolerance), Math.abs(answer), MOODLE_EPSILON);
    return [answer - reach, answer + reach];
  }

  /** responses.fold_case: per character, the page's table (made by html.py from Python) for
   * the characters whose simple case folding differs from their lower case, else toLowerCase. */
  function foldCase(text, foldTable) {
    var out = "";
    for (var character of text) {
      out += Object.prototype.hasOwnProperty.call(foldTable, character)
        ? foldTable[character]
        : character.toLowerCase();
    }
    return out;
  }

  /** responses.comparison_form. */
  function comparisonForm(text, rules, foldTable) {
    text = trim(text.normalize("NFC"));
    return rules.indexOf("case") >= 0 ? foldCase(text, foldTable || {}) : text;
  }

  /** responses._text_problem. */
  function textProblem(text) {
    var chars = Array.from(text);
    for (var i = 0; i < chars.length; i++) {
      var doubled = i + 1 < chars.length && isPySpace(chars[i + 1]);
      if (isPySpace(chars[i]) && (chars[i] !== " " || doubled)) return "spacing";
    }
    if (ARGUMENTS.test(text)) return "arguments";
    if (text && END_PUNCTUATION.indexOf(chars[chars.length - 1]) >= 0) return "punctuation";
    return null;
  }

  /** responses.read_text. */
  function readText(response, rules, foldTable) {
    if (typeof response !== "string") return { value: null, problem: null };
    return {
      value: comparisonForm(response, rules, foldTable),
      problem: textProblem(trim(response.normalize("NFC")))
    };
  }

  // ------------------------------------------------------------------------------ grading
  var DATA = null;

  function data() {
    if (DATA === null) DATA = JSON.parse(document.getElementById("quiz-data").textContent);
    return DATA;
  }

  function questionData(questionId) {
    var questions = data().questions;
    var known = Object.prototype.hasOwnProperty.call(questions, questionId);
    var question = known ? questions[questionId] : null;
    if (!question) throw new Error("no question with id " + JSON.stringify(questionId));
    return question;
  }

  function key(questionId, kind, token) {
    return boxKey(data().salt, questionId, kind, token);
  }

  function optionPayload(questionId, question, optionId) {
    return openBox(question.boxes, key(questionId, "option", optionId));
  }

  /** Like bank.grade_response, plus what the page shows. Returns {score: points | null,
   * points, options: {optionId: {c, f}}, general: text, problem, reading, model, checklist}. */
  function evaluate(questionId, response) {
    var question = questionData(questionId);
    var points = question.points;
    var result = {
      score: 0, points: points, options: {}, general: "", problem: null, reading: null,
      model: "", checklist: []
    };
    if (question.type === "text") {
      var notes = openBox(question.boxes, key(questionId, "checklist", "")) || {};
      result.score = null;
      result.checklist = notes.k || [];
      result.model = notes.r || "";
      return result;
    }
    var general = openBox(question.boxes, key(questionId, "general", "")) || {};
    if (question.type === "single") {
      var payload = typeof response === "string" && question.options.indexOf(response) >= 0
        ? optionPayload(questionId, question, response)
        : null;
      if (payload) result.options[response] = payload;
      result.score = payload && payload.c === 1 ? points : 0;
      result.general = result.score === points ? general.fc : general.fi;
      if (result.score === points) result.model = payload.r || "";
      return result;
    }
    if (question.type === "multiple") {
      var picked = null;
      if (Array.isArray(response)) picked = new Set(response);
      else if (response instanceof Set) picked = response;
      if (picked === null) {
        result.general = general.fi;
        return result;
      }
      var right = 0;
      var wrong = 0;
      var correctCount = 0;
      question.options.forEach(function (optionId) {
        var option = optionPayload(questionId, question, optionId);
        if (option.c === 1) {
          correctCount++;
          result.model = option.r || "";
        }
        if (!picked.has(optionId)) return;
        result.options[optionId] = option;
        if (option.c === 1) right++;
        else wrong++;
      });
      result.score = points * Math.max(0, (right - wrong) / correctCount);
      result.general = result.score === points ? general.fc : general.fi;
      if (result.score !== points) result.model = "";
      return result;
    }
    if (question.type === "numeric") {
      var reading = readNumber(response);
      var box = null;
      if (reading.value !== null) {
        var bucket = Math.floor(reading.value / question.bucket);
        // Only safe integers print as plain digits like Python's str(int); every box lies in that
        // range, so a number outside it opens nothing.
        if (Number.isSafeInteger(bucket)) {
          box = openBox(question.boxes, key(questionId, "bucket", String(bucket)));
        }
      }
      var close = false;
      if (box !== null) {
        var interval = numericInterval(box.a, box.t);
        close = interval[0] <= reading.value && reading.value <= interval[1];
      }
      result.reading = reading;
      result.problem = reading.problem;
      result.score = close ? points : 0;
      result.general = close ? box.f : general.fi;
      if (close) result.model = box.r || "";
      return result;
    }
    if (question.type === "short") {
      var text = readText(response, question.normalise, data().casefold);
      var accepted = text.value !== null
        ? openBox(question.boxes, key(questionId, "answer", text.value))
        : null;
      result.problem = text.problem;
      result.score = accepted ? points : 0;
      result.general = accepted ? accepted.f : general.fi;
      if (accepted) result.model = accepted.r || "";
      return result;
    }
    throw new Error("unknown question type " + question.type);
  }

  /** The score of `response` to the page's question `questionId` ("q3"), as bank.grade_response
   * scores it: points, 0, or null for free text. Options are named by their page values. */
  function gradeResponse(questionId, response) {
    return evaluate(questionId, response).score;
  }

  // ------------------------------------------------------------------------------ the page
  function formatPoints(value) {
    var rounded = Math.round(value * 100) / 100;
    return String(rounded) + (rounded === 1 ? " point" : " points");
  }

  function bareNumber(value) {
    return formatPoints(value).replace(/ points?$/, "");
  }

  /** A message of the page data with its {placeholders} filled in. */
  function message(name, fields) {
    return data().messages[name].replace(/\{(\w+)\}/g, function (whole, field) {
      return Object.prototype.hasOwnProperty.call(fields, field) ? fields[field] : whole;
    });
  }

  function readingFields(response, reading) {
    return {
      response: trim(String(response)),
      suggestion: reading ? reading.suggestion : "",
      value: reading && reading.value !== null ? String(reading.value) : "",
      unit: reading ? reading.unit : ""
    };
  }

  /** "Read as 784." when the typed text is not simply the number it was read as. */
  function readingNote(response, reading) {
    if (!reading || reading.value === null) return "";
    var fields = readingFields(response, reading);
    if (reading.unit) return message("read-as-unit", fields);
    return fields.response === fields.value ? "" : message("read-as", fields);
  }

  /** Renders `text` into `element`, `backticks` as <code> (never as HTML); an unpaired backtick
   * stays a character, as in templating.inline_code. */
  function setRichText(element, text) {
    element.textContent = "";
    var parts = String(text || "").split("`");
    if (parts.length % 2 === 0) {
      var last = parts.pop();
      parts[parts.length - 1] += "`" + last;
    }
    parts.forEach(function (part, index) {
      if (index % 2 === 1) {
        var code = document.createElement("code");
        code.textContent = part;
        element.appendChild(code);
      } else if (part) {
        element.appendChild(document.createTextNode(part));
      }
    });
  }

  function readResponse(form, type) {
    if (type === "single") {
      var chosen = form.querySelector("input[type=radio]:checked");
      return chosen ? chosen.value : null;
    }
    if (type === "multiple") {
      return Array.from(form.querySelectorAll("input[type=checkbox]:checked")).map(function (box) {
        return box.value;
      });
    }
    return form.querySelector("input, textarea").value;
  }

  function missingMessage(type, response) {
    if (type === "single" && response === null) return "Choose an option first.";
    if (type === "multiple" && response.length === 0) return "Select at least one option first.";
    if (type === "numeric" && trim(response) === "") return "Enter a number first.";
    if ((type === "short" || type === "text") && trim(response) === "") {
      return "Write an answer first.";
    }
    return null;
  }

  // What the student has checked: {questionId: {section, score (null: free text), points}}.
  var checked = {};

  function announce(text) {
    var live = document.getElementById("quiz-live");
    live.textContent = "";
    // A fresh text node after clearing makes screen readers announce a repeated message too.
    window.setTimeout(function () {
      live.textContent = text;
    }, 50);
  }

  function updateProgress() {
    var questions = data().questions;
    var main = Object.keys(questions).filter(function (id) {
      return questions[id].section !== "practice";
    });
    var done = main.filter(function (id) { return checked[id]; });
    var scored = done.filter(function (id) { return checked[id].score !== null; });
    var earned = 0;
    var possible = 0;
    scored.forEach(function (id) {
      earned += checked[id].score;
      possible += checked[id].points;
    });
    var label = document.getElementById("quiz-progress-label");
    var meter = document.getElementById("quiz-progress-meter");
    var score = document.getElementById("quiz-progress-score");
    var summary = document.getElementById("quiz-summary");
    if (label) label.textContent = "Checked " + done.length + " of " + main.length + " questions";
    if (meter) meter.value = done.length;
    var total = score ? Number(score.getAttribute("data-total")) : 0;
    var text = scored.length === 0
      ? "No auto-checked question checked yet; they are worth " + formatPoints(total) + " in all."
      : "Points so far: " + bareNumber(earned) + " of " + formatPoints(possible) + " on the " +
        scored.length + " auto-checked question" + (scored.length === 1 ? "" : "s") +
        " you have checked (" + formatPoints(total) + " in all).";
    if (score) score.textContent = text;
    if (summary) summary.textContent = text;
  }

  function showOptionFeedback(form, result) {
    form.querySelectorAll(".option-feedback").forEach(function (element) {
      var optionId = element.getAttribute("data-option");
      var option = result.options[optionId];
      element.hidden = !option;
      element.classList.remove("is-right", "is-wrong");
      if (!option) return;
      element.classList.add(option.c === 1 ? "is-right" : "is-wrong");
      // The symbol and colour are for the eye; the hidden words say the same to a screen reader.
      var symbol = document.createElement("strong");
      symbol.setAttribute("aria-hidden", "true");
      symbol.textContent = option.c === 1 ? "\u2713 " : "\u2717 ";
      var verdict = document.createElement("span");
      verdict.className = "visually-hidden";
      verdict.textContent = option.c === 1 ? "Right choice: " : "Wrong choice: ";
      var explanation = document.createElement("span");
      setRichText(explanation, option.f);
      element.textContent = "";
      element.appendChild(symbol);
      element.appendChild(verdict);
      element.appendChild(explanation);
    });
  }

  function paragraph(parent, headline, text, className) {
    var p = document.createElement("p");
    if (className) p.className = className;
    if (headline) {
      var strong = document.createElement("strong");
      strong.textContent = headline;
      p.appendChild(strong);
    }
    if (text) {
      var span = document.createElement("span");
      setRichText(span, (headline ? " " : "") + text);
      p.appendChild(span);
    }
    parent.appendChild(p);
    return p;
  }

  function showChecklist(outcome, result) {
    paragraph(outcome, "Not scored here.", "A good answer addresses:");
    var list = document.createElement("ul");
    list.className = "checklist";
    result.checklist.forEach(function (item) {
      var entry = document.createElement("li");
      setRichText(entry, item);
      list.appendChild(entry);
    });
    outcome.appendChild(list);
  }

  function verdict(result) {
    var share = bareNumber(result.score) + " of " + formatPoints(result.points);
    if (result.score === result.points) return ["Correct: " + share + ".", "is-right"];
    if (result.score > 0) return ["Partly right: " + share + ".", "is-partial"];
    return ["Not yet: " + share + ".", "is-wrong"];
  }

  function onCheck(event) {
    event.preventDefault();
    var form = event.currentTarget;
    var questionId = form.getAttribute("data-question");
    var number = form.getAttribute("data-number");
    var question = questionData(questionId);
    var outcome = form.querySelector(".outcome");
    var response = readResponse(form, question.type);
    outcome.classList.remove("is-right", "is-partial", "is-wrong", "is-noted");
    outcome.textContent = "";
    outcome.hidden = false;
    var missing = missingMessage(question.type, response);
    if (missing) {
      showOptionFeedback(form, { options: {} });
      paragraph(outcome, "", missing);
      announce("Question " + number + ": " + missing);
      return;
    }
    var result = evaluate(questionId, response);
    showOptionFeedback(form, result);
    if (result.problem) {
      // Never a verdict on something the student may not have meant; an LMS would score it as
      // the rule reads it (result.score), which the page does not show.
      delete checked[questionId];
      outcome.classList.add("is-noted");
      paragraph(outcome, "", message(result.problem, readingFields(response, result.reading)));
    } else if (result.score === null) {
      checked[questionId] = { score: null, points: result.points };
      outcome.classList.add("is-noted");
      showChecklist(outcome, result);
    } else {
      checked[questionId] = { score: result.score, points: result.points };
      var headline = verdict(result);
      outcome.classList.add(headline[1]);
      var first = paragraph(outcome, headline[0], result.general);
      var note = readingNote(response, result.reading);
      if (note) first.appendChild(document.createTextNode(" " + note));
    }
    if (result.model && !result.problem) paragraph(outcome, "Model answer:", result.model, "model");
    updateProgress();
    announce("Question " + number + ": " + outcome.textContent);
  }

  function onReset() {
    if (!window.confirm("Clear every answer and all feedback on this page?")) return;
    document.querySelectorAll("form.question").forEach(function (form) {
      form.reset();
      showOptionFeedback(form, { options: {} });
      var outcome = form.querySelector(".outcome");
      outcome.textContent = "";
      outcome.classList.remove("is-right", "is-partial", "is-wrong", "is-noted");
      outcome.hidden = true;
    });
    checked = {};
    updateProgress();
    announce("All answers cleared.");
  }

  function start() {
    document.querySelectorAll("form.question").forEach(function (form) {
      form.addEventListener("submit", onCheck);
    });
    var reset = document.getElementById("quiz-reset");
    if (reset) reset.addEventListener("click", onReset);
    document.documentElement.classList.add("js");
  }

  window.MnistQuiz = {
    gradeResponse: gradeResponse,
    evaluate: evaluate,
    readNumber: readNumber,
    readText: function (text, rules) {
      return readText(text, rules, data().casefold);
    },
    numericInterval: numericInterval,
    sha256Hex: sha256Hex
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
