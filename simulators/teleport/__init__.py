"""Teleport Auth Service simulator: a real gRPC server over mTLS for tests and demos.

* :mod:`.certs` builds a throw-away cluster PKI and client identities (identity file / TLS
  triple) shaped like Teleport's.
* :class:`TeleportSimulator` serves ``proto.AuthService`` and the access monitoring rules
  service with that PKI, and exposes a control API (create_request, review, approve, …)
  plus fault switches (drop_streams, RBAC deny, UNIMPLEMENTED fallbacks, paused INIT).

Run ``python -m simulators.teleport --dir DIR`` for a standalone instance.

Cheat sheet (tests)::

    with TeleportSimulator() as sim:              # or TeleportSimulator(pki, **switches).start()
        creds = sim.pki.issue_client()            # ClientCreds(key_pem, cert_pem, ca_pem)
        write_identity_file(path, creds, sim.cluster_name)
        channel = sim.channel(creds)              # grpc channel, name override already set
        rid = sim.create_request(user="alice", roles=["editor"])
        sim.review(rid, "bob", "APPROVED")        # auto-resolves (threshold 1)
        sim.approve(rid) / sim.deny(rid) / sim.promote(rid) / sim.delete(rid) / sim.expire(rid)
        sim.put_rule("r", recipients=["town-square"]); sim.delete_rule("r")
        sim.deny("list", "access_request")        # RBAC (first arg is a verb) ; sim.allow(...)
        sim.drop_streams(); sim.wait_for_streams(1)
        sim.stop(); sim.start(port=sim.port)      # Auth restart, state kept
        sim.plugin_data(rid); sim.audit.records; sim.calls_to("UpdatePluginData")
"""

from simulators.teleport.certs import (
    API_DOMAIN,
    ClientCreds,
    ClusterPKI,
    make_cluster,
    write_identity_file,
    write_tls_triple,
)
from simulators.teleport.errors import (
    AccessDenied,
    BadParameter,
    CompareFailed,
    NotFound,
    SimulatorError,
)
from simulators.teleport.server import CallRecord, TeleportSimulator

__all__ = [
    "API_DOMAIN",
    "AccessDenied",
    "BadParameter",
    "CallRecord",
    "ClientCreds",
    "ClusterPKI",
    "CompareFailed",
    "NotFound",
    "SimulatorError",
    "TeleportSimulator",
    "make_cluster",
    "write_identity_file",
    "write_tls_triple",
]
