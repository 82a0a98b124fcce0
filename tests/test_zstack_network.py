"""The ZStack client's connections on asyncio streams (``bot.zstack.network``), against the
simulator served for real: over TLS with the operator's CA, a kept-alive connection the server
has closed meanwhile, and the errors httpx maps (refused, timed out, bad certificate)."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.errors import ZStackTimeout, ZStackUnavailable
from bot.sandbox.zstack_sim.server import build_app
from bot.sandbox.zstack_sim.state import ZStackSimulator
from bot.zstack.client import ZStackClient
from bot.zstack.lanes import PoolLanes
from bot.zstack.network import AsyncioTransport
from tests.fixtures.zstack import ALICE, alice_session


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA): certificate and key files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "zstack.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "zstack.pem", directory / "zstack.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@asynccontextmanager
async def _serve(
    sim: ZStackSimulator, *, tls: ssl.SSLContext | None = None, keepalive_s: float = 75.0
) -> AsyncIterator[str]:
    runner = web.AppRunner(build_app(sim), keepalive_timeout=keepalive_s)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return _certificate(tmp_path)


@pytest.fixture
async def tls_zstack(certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    async with _serve(ZStackSimulator(), tls=context) as url:
        yield url


async def test_over_tls_with_the_operators_ca_bundle(
    tls_zstack: str, certificate: tuple[Path, Path]
) -> None:
    async with ZStackClient(
        tls_zstack, timeout=httpx.Timeout(5.0), verify=certificate[0]
    ) as client:
        session = await alice_session(client)
        found = await client.model_services_named(session, "example", exact=True, limit=5)
        again = await client.model_services_named(session, "example", exact=True, limit=5)
    assert [s.name for s in found] == [s.name for s in again] == ["example"]


async def test_a_certificate_not_from_the_bundle_is_refused(tls_zstack: str) -> None:
    async with ZStackClient(tls_zstack, timeout=httpx.Timeout(5.0)) as client:
        with pytest.raises(ZStackUnavailable):
            await client.login(ALICE)


async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """The server drops idle connections after 0.2 s: the next request, on a connection it no
    longer serves, would fail; the idle check sees the close and a new connection is made."""
    transport = PoolLanes(httpx.Limits(max_connections=4, max_keepalive_connections=4), lanes=1)
    async with (
        _serve(ZStackSimulator(), keepalive_s=0.2) as url,
        ZStackClient(url, timeout=httpx.Timeout(5.0), transport=transport) as client,
    ):
        session = await alice_session(client)
        for _ in range(3):
            await _until_closed_by_the_server(transport)
            found = await client.model_services_named(session, "example", exact=True, limit=5)
            assert [s.name for s in found] == ["example"]


async def _until_closed_by_the_server(transport: PoolLanes) -> None:
    """Wait until the pool's idle connections have seen the server's close (httpcore's own
    check, on the one lane's pool)."""
    lane = transport._lanes[0]
    assert isinstance(lane, AsyncioTransport)
    for _ in range(200):
        connections = lane._pool.connections
        if connections and all(c.has_expired() for c in connections):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the server never closed the idle connection")


async def test_a_refused_connection_and_a_read_timeout_are_the_clients_errors() -> None:
    async with ZStackClient("http://127.0.0.1:9", timeout=httpx.Timeout(2.0)) as client:
        with pytest.raises(ZStackUnavailable):
            await client.login(ALICE)
    sim = ZStackSimulator()
    async with _serve(sim) as url:
        sim.set_latency(2.0, ["LogInByAccount"])
        async with ZStackClient(url, timeout=httpx.Timeout(0.3)) as client:
            with pytest.raises(ZStackTimeout):
                await client.login(ALICE)
