"""mTLS, client certificates, version checks and credential files of the Teleport simulator."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest
from cryptography import x509

from simulators.teleport import (
    ClientCreds,
    TeleportSimulator,
    make_cluster,
    write_identity_file,
    write_tls_triple,
)
from simulators.teleport.certs import TELEPORT_CLUSTER_OID
from teleportbridge.teleport.proto import authservice_pb2, authservice_pb2_grpc, types_pb2
from tests.simulators.teleport.grpc_helpers import open_channel

UTC = dt.UTC

# The shared fixtures, bound here so pytest finds them (``pki`` must be this module's cluster,
# not the session-wide one from tests/conftest.py).


def test_ping_reports_cluster_and_version_header(teleport, auth):
    response, call = auth.Ping.with_call(authservice_pb2.PingRequest())
    assert response.ClusterName == "sim.example.com"
    assert response.ServerVersion == "17.4.2"
    assert response.ProxyPublicAddr == "teleport.example.com:443"
    assert response.ServerFeatures.AdvancedAccessWorkflows
    assert ("version", "17.4.2") in call.initial_metadata()
    assert teleport.calls_to("Ping")[-1].peer_user == "access-plugin"


def test_client_cert_from_another_ca_is_rejected(teleport):
    stranger = make_cluster("sim.example.com").issue_client()
    # Trust the right server CA but present a certificate from an unrelated CA.
    creds = ClientCreds(
        key_pem=stranger.key_pem, cert_pem=stranger.cert_pem, ca_pem=teleport.pki.ca_cert_pem
    )
    with open_channel(teleport, creds) as ch:
        stub = authservice_pb2_grpc.AuthServiceStub(ch)
        with pytest.raises(grpc.RpcError) as exc:
            stub.Ping(authservice_pb2.PingRequest(), timeout=5)
    assert exc.value.code() == grpc.StatusCode.UNAVAILABLE


def test_expired_client_cert_is_rejected(teleport):
    now = dt.datetime.now(UTC)
    expired = teleport.pki.issue_client(
        not_before=now - dt.timedelta(hours=2), not_after=now - dt.timedelta(hours=1)
    )
    with open_channel(teleport, expired) as ch, pytest.raises(grpc.RpcError) as exc:
        authservice_pb2_grpc.AuthServiceStub(ch).Ping(authservice_pb2.PingRequest(), timeout=5)
    assert exc.value.code() == grpc.StatusCode.UNAVAILABLE


def test_too_old_client_version_is_refused(auth):
    with pytest.raises(grpc.RpcError) as exc:
        auth.Ping(authservice_pb2.PingRequest(), metadata=[("version", "15.0.0")])
    assert "client version is unsupported" in exc.value.details()
    auth.Ping(authservice_pb2.PingRequest(), metadata=[("version", "16.0.0")])


def test_identity_file_layout(tmp_path, pki):
    creds = pki.issue_client()
    path = write_identity_file(tmp_path / "identity", creds, pki.cluster_name)
    lines = [line.strip() for line in path.read_text().splitlines()]
    blocks, current = [], None
    for line in lines:
        if line.startswith("-----BEGIN"):
            current = [line]
        elif current is not None:
            current.append(line)
            if line.startswith("-----END"):
                blocks.append("\n".join(current) + "\n")
                current = None
    assert current is None
    assert "PRIVATE KEY" in blocks[0]
    assert blocks[1].encode() == creds.cert_pem
    assert [b.encode() for b in blocks[2:]] == [pki.ca_cert_pem]
    # SSH cert line sits between key and TLS cert; the @cert-authority line before the CAs.
    ssh_index = next(i for i, line in enumerate(lines) if "-cert-v01@openssh.com " in line)
    ca_line = next(i for i, line in enumerate(lines) if line.startswith("@cert-authority"))
    assert lines.index("-----BEGIN CERTIFICATE-----") > ssh_index
    assert lines[ca_line].startswith("@cert-authority sim.example.com,*.sim.example.com ")
    assert lines[ca_line].endswith(" type=host")
    cert = x509.load_pem_x509_certificate(blocks[1].encode())
    subject = cert.subject
    assert subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "access-plugin"
    assert (
        subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == "access-plugin"
    )
    assert subject.get_attributes_for_oid(TELEPORT_CLUSTER_OID)[0].value == "sim.example.com"


def test_tls_triple(tmp_path, pki):
    creds = pki.issue_client()
    key, crt, cas = write_tls_triple(tmp_path, creds)
    assert (key.name, crt.name, cas.name) == ("auth.key", "auth.crt", "auth.cas")
    assert crt.read_bytes() == creds.cert_pem and cas.read_bytes() == pki.ca_cert_pem


def test_constructor_switches_and_channel_helper(pki):
    with (
        TeleportSimulator(
            pki, list_access_requests_unimplemented=True, server_version="16.1.0"
        ) as teleport,
        teleport.channel() as ch,
    ):
        stub = authservice_pb2_grpc.AuthServiceStub(ch)
        assert stub.Ping(authservice_pb2.PingRequest()).ServerVersion == "16.1.0"
        with pytest.raises(grpc.RpcError) as exc:
            stub.ListAccessRequests(authservice_pb2.ListAccessRequestsRequest())
        assert exc.value.code() == grpc.StatusCode.UNIMPLEMENTED
        rid = teleport.create_request()
        teleport.set_plugin_data(rid, {"user": "alice"})
        seq = stub.GetPluginData(
            types_pb2.PluginDataFilter(Kind="access_request", Resource=rid, Plugin="mattermost")
        )
        assert dict(seq.PluginData[0].Spec.Entries["mattermost"].Data) == {"user": "alice"}
