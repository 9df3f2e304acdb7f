"""The loopback login listener under hostile input: oversized requests, repeated parameters,
and (hypothesis) any bytes a local process may send. Each gets an HTTP answer at once; a
callback the flow cannot trust fails the login at once with a clear error; nothing is stored."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpconnect.auth._headless import deliver_callback, follow_authorization
from mcpconnect.auth._loopback import LoopbackListener
from mcpconnect.errors import AuthError


async def raw_request(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        writer.write_eof()  # all of the request is sent: the listener must not wait for more
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


# -- at the listener ------------------------------------------------------------------------------


async def test_an_oversized_callback_gets_400_and_ends_the_wait() -> None:
    seen: list[dict[str, str]] = []
    async with LoopbackListener(seen.append) as listener:  # type: ignore[arg-type]
        query = "state=s&code=c&pad=" + "x" * (70 * 1024)
        answer = await raw_request(listener.port, f"GET /callback?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 400 ")
        verdict = await asyncio.wait_for(listener.wait(), 10)  # at once, not at the login's timeout
    assert verdict is not None and "larger than 64 KiB" in verdict
    assert listener.rejected == verdict and seen == []


async def test_oversized_headers_are_refused_too() -> None:
    async with LoopbackListener(lambda _p: None) as listener:
        headers = "".join(f"X-Pad-{i}: {'y' * 1000}\r\n" for i in range(80))
        answer = await raw_request(listener.port, f"GET /callback?state=s&code=c HTTP/1.1\r\n{headers}\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 400 ")
        assert "larger than 64 KiB" in (await asyncio.wait_for(listener.wait(), 10) or "")


@pytest.mark.parametrize("query", ["state=a&state=b&code=c", "state=a&code=c1&code=c2", "state=a&code=c&iss=x&iss=y"])
async def test_a_repeated_parameter_gets_400_and_is_never_checked(query: str) -> None:
    seen: list[dict[str, str]] = []
    async with LoopbackListener(seen.append) as listener:  # type: ignore[arg-type]
        page = await deliver_callback(f"{listener.redirect_uri}?{query}")
        assert page.status == 400 and "c1" not in page.body
        verdict = await asyncio.wait_for(listener.wait(), 10)
    assert verdict is not None and "repeats the parameter" in verdict
    assert seen == []  # the flow never saw a parameter set whose meaning is ambiguous


REQUEST = st.one_of(
    st.binary(max_size=4096),
    st.builds(
        lambda method, path, query, tail: f"{method} {path}?{query} HTTP/1.1\r\n{tail}".encode("utf-8", "replace"),
        st.sampled_from(["GET", "POST", "get", "HEAD", ""]),
        st.sampled_from(["/callback", "/other", "", "//callback", "/callback/"]),
        st.text(max_size=300),
        st.sampled_from(["\r\n", "Host: x\r\n\r\n", "", "\n\n", "X: " + "z" * 70000 + "\r\n\r\n"]),
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=REQUEST)
def test_any_request_gets_an_http_answer_and_the_flow_sees_only_unique_parameters(request: bytes) -> None:
    seen: list[dict[str, str]] = []

    async def main() -> None:
        async with LoopbackListener(seen.append) as listener:  # type: ignore[arg-type]
            answer = await raw_request(listener.port, request)
            assert answer.startswith(b"HTTP/1.1 "), answer[:100]
            assert answer.split(b" ", 2)[1] in {b"200", b"400", b"404", b"405"}

    asyncio.run(main())
    for params in seen:
        assert isinstance(params, dict) and all(isinstance(v, str) for v in params.values())


# -- through a real login (oidc-provider) ---------------------------------------------------------


def _public(server) -> dict:
    return {"type": "oidc", "issuer": server.issuer, "client_id": "public-cli"}


def _browser(extra: str):
    async def browser(url: str) -> None:
        callback = await follow_authorization(url, deliver=False)
        page = await deliver_callback(callback.url + extra)
        assert page.status == 400 and "Login failed" in page.body

    return browser


@pytest.mark.node
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("&state=attacker-state", "repeats the parameter state"),
        ("&code=attacker-code", "repeats the parameter code"),
        ("&pad=" + "x" * (70 * 1024), "larger than 64 KiB"),
    ],
    ids=["state-twice", "code-twice", "oversized"],
)
async def test_a_login_ends_at_once_with_a_clear_error_and_stores_nothing(
    oidc_server, make_runtime, extra: str, expected: str
) -> None:
    from mcpconnect.auth import TokenManager

    manager = TokenManager(make_runtime({"local": _public(oidc_server)}))
    with pytest.raises(AuthError, match=expected) as info:
        # wait=600: the error must come from the callback, not from the login timing out.
        await asyncio.wait_for(manager.login("local", on_url=_browser(extra), wait=600), 60)
    assert "mcpconnect login local" in str(info.value)
    assert await manager.store.list() == []
    assert oidc_server.stats()["tokenRequests"] == 0
