"""SEP-2322: a result without resultType is treated as complete (mcp 2.3.0 rejects it otherwise)."""

from mcp.shared.message import SessionMessage
from mcp_types.jsonrpc import JSONRPCError, JSONRPCResponse

from mcpconnect._servers.streams import _default_result_type


def test_a_result_without_result_type_becomes_complete():
    item = SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=1, result={"content": []}))
    _default_result_type(item)
    assert item.message.result == {"content": [], "resultType": "complete"}


def test_an_explicit_result_type_is_kept():
    item = SessionMessage(JSONRPCResponse(jsonrpc="2.0", id=2, result={"resultType": "input_required"}))
    _default_result_type(item)
    assert item.message.result == {"resultType": "input_required"}


def test_errors_and_exceptions_pass_untouched():
    error = SessionMessage(
        JSONRPCError.model_validate({"jsonrpc": "2.0", "id": 3, "error": {"code": -1, "message": "x"}})
    )
    _default_result_type(error)
    assert error.message.error.message == "x"
    _default_result_type(RuntimeError("transport error"))  # the stream also carries exceptions
