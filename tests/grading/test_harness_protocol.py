"""The data-only wire format: what the grader accepts from the worker, and what it refuses."""

from __future__ import annotations

import base64
import io
import json
import os

import numpy as np
import pytest

from mnist_lab.grading import protocol


def round_trip(value):
    return protocol.decode_value(json.loads(json.dumps(protocol.encode_value(value))))


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        7,
        2**80,
        -0.5,
        float("inf"),
        "digits ✓",
        [1, [2.5, "x"]],
        (1, None),
        {"loss": [0.5, 0.25], 3: "three"},
    ],
)
def test_plain_data_round_trips(value) -> None:
    decoded = round_trip(value)
    assert decoded == value
    assert type(decoded) is type(value)


def test_arrays_and_numpy_scalars_keep_dtype_shape_and_values() -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    decoded = round_trip(array)
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, array)
    assert decoded.flags.writeable  # student code may write into its arguments
    scalar = round_trip(np.int64(7))
    assert type(scalar) is np.int64
    assert scalar == 7
    assert np.isnan(round_trip(float("nan")))


def test_subclasses_and_object_arrays_become_opaque_and_equal_nothing() -> None:
    class Sneaky(int):
        def __eq__(self, other):
            return True

    for value in (Sneaky(3), np.array([object()]), np.zeros(3).view(np.matrix), object()):
        decoded = round_trip(value)
        assert isinstance(decoded, protocol.Opaque)
        assert decoded != decoded.type_name
        assert decoded != 3
        assert not np.any(decoded == np.zeros(3))


def test_model_spec_round_trips_as_data() -> None:
    spec = protocol.ModelSpec(
        layers=[{"units": 2, "activation": "softmax", "weights": np.eye(2), "bias": np.zeros(2)}],
        input_dim=2,
    )
    decoded = round_trip(spec)
    assert isinstance(decoded, protocol.ModelSpec)
    assert decoded.input_dim == 2
    np.testing.assert_array_equal(decoded.layers[0]["weights"], np.eye(2))


def test_pickled_payloads_are_refused_without_unpickling() -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    tree = {"t": "array", "npy": base64.b64encode(buffer.getvalue()).decode()}
    with pytest.raises(protocol.ProtocolError, match="malformed array payload"):
        protocol.decode_value(tree)


@pytest.mark.parametrize(
    "tree",
    [
        {"t": "exec", "v": "import os"},
        {"t": "int", "v": 5},
        {"t": "list", "items": "abc"},
        {"t": "scalar", "npy": "not base64!"},
        {"t": "model", "handle": "1"},
        ["t", "none"],
        {"t": "dict", "items": [[{"t": "list", "items": []}, {"t": "none"}]]},
    ],
)
def test_malformed_values_are_protocol_errors(tree) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_value(tree)


def test_messages_are_length_prefixed_json_with_a_size_limit() -> None:
    read_fd, write_fd = os.pipe()
    try:
        protocol.write_message(write_fd, {"ok": True, "value": protocol.encode_value([1, 2])})
        assert protocol.read_message(read_fd) == {
            "ok": True,
            "value": {"t": "list", "items": [{"t": "int", "v": "1"}, {"t": "int", "v": "2"}]},
        }
        os.write(write_fd, protocol.HEADER.pack(10**12))
        with pytest.raises(protocol.ProtocolError, match="larger than the limit"):
            protocol.read_message(read_fd)
        os.write(write_fd, protocol.HEADER.pack(3) + b"\xff\x00[")
        with pytest.raises(protocol.ProtocolError, match="not valid JSON"):
            protocol.read_message(read_fd)
        os.close(write_fd)
        write_fd = -1
        with pytest.raises(EOFError):
            protocol.read_message(read_fd)
    finally:
        os.close(read_fd)
        if write_fd != -1:
            os.close(write_fd)


def test_student_errors_carry_type_names_and_message() -> None:
    try:
        raise KeyError("missing")
    except KeyError as error:
        payload = protocol.exception_payload(error)
    student = protocol.student_error_from(payload, where="calling normalize")
    assert student.type_names == ["KeyError", "LookupError", "Exception", "BaseException"]
    assert "missing" in student.message
    assert not isinstance(student, protocol.WorkerFailure)


def test_an_array_header_promising_more_data_than_sent_is_refused() -> None:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    )
    buffer.write(b"\x00" * 64)
    tree = {"t": "array", "npy": base64.b64encode(buffer.getvalue()).decode()}
    with pytest.raises(protocol.ProtocolError, match="header does not match"):
        protocol.decode_value(tree)
